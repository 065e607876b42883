// The error contract, the same on every route:
// {"error": {"code", "message", "details": [{"index", "path", "message"}]}}
export type ErrorDetail = { index?: number; path: string; message: string };

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: ErrorDetail[] = [],
    public headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toResponse(): Response {
    return new Response(
      JSON.stringify({ error: { code: this.code, message: this.message, details: this.details } }),
      { status: this.status, headers: { "content-type": "application/json", ...this.headers } },
    );
  }
}

export const WWW_AUTHENTICATE = { "www-authenticate": 'Bearer realm="keepwatch"' };

export const unauthorized = (message: string) => new ApiError(401, "unauthorized", message, [], WWW_AUTHENTICATE);
export const forbidden = (message: string) => new ApiError(403, "forbidden", message);
export const notFound = (message: string) => new ApiError(404, "not_found", message);
export const unprocessable = (message: string, details: ErrorDetail[]) =>
  new ApiError(422, "invalid_body", message, details);

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}
