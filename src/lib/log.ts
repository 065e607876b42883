// JSON lines to stdout, one object per line.
//
// Lines are buffered and written together once per event-loop turn (and at exit), so that the
// access log of a busy server costs one write(2) per turn instead of one per request.
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Logger = {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** false when lines of this level are dropped (to skip building them) */
  enabled?(level: Level): boolean;
};

let pending = "";
let scheduled = false;
const flush = () => {
  scheduled = false;
  if (!pending) return;
  const out = pending;
  pending = "";
  process.stdout.write(out);
};
process.on("exit", flush);

/** Buffered stdout: flushed on the next turn of the event loop, at 64 KiB, and at exit. */
export function bufferedStdout(line: string): void {
  pending += line;
  if (pending.length >= 65_536) flush();
  else if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

export function createLogger(level: Level = "info", write: (line: string) => void = bufferedStdout): Logger {
  const min = ORDER[level];
  const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields }) + "\n");
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    enabled: (lvl) => ORDER[lvl] >= min,
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, enabled: () => false };
