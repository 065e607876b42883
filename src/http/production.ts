// Imported first (src/main.ts, src/app.ts) for its one effect: Elysia runs in its production mode
// whatever NODE_ENV the service was started with. Elysia reads NODE_ENV once, when its error module
// loads; outside production, building any validation error interpolates the sent value into a
// string (which throws for `{"toString": 1}`: a 422 became a 500), creates an example value of the
// whole schema and pretty-prints the whole body into the message: per bad request, on the request
// path. keepwatch writes its own 422 details from the validator (src/http/validation.ts), so
// Elysia's development messages are never shown anyway.
process.env.NODE_ENV = "production";
