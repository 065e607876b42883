// The URL clients reach keepwatch at, for every URL keepwatch shows (heartbeat ping URLs in the
// API and on the admin page, source URL tokens): --public-url / KEEPWATCH_PUBLIC_URL when set
// (a reverse proxy's https://keepwatch.example.com, with an optional path prefix), else the
// scheme and host of the request (X-Forwarded-Proto: https counts as https).

/** The scheme of a request as its client used it (a TLS-terminating proxy says so in X-Forwarded-Proto). */
export function isTls(request: Request): boolean {
  if (new URL(request.url).protocol === "https:") return true;
  const xf = request.headers.get("x-forwarded-proto");
  return !!xf && xf.split(",")[0].trim().toLowerCase() === "https";
}

/** scheme://host[/prefix] without a trailing slash. */
export function publicOrigin(config: { publicUrl?: string }, request: Request): string {
  if (config.publicUrl) return config.publicUrl;
  const u = new URL(request.url);
  const host = request.headers.get("host") ?? u.host;
  return `${isTls(request) ? "https" : "http"}://${host}`;
}
