// Entry points of the worker threads. Resolved from this file at the root of src/ so that the
// same relative path works from source and inside the compiled executable, where every
// entry point is embedded relative to src/ (see `make build`).
export const writerThreadUrl = new URL("./ingest/writer-thread.ts", import.meta.url).href;
export const checkpointThreadUrl = new URL("./db/checkpoint-thread.ts", import.meta.url).href;
