// Starts and stops the checkpointer thread (checkpoint-thread.ts), and hands it the housekeeping
// that waits for the write lock: retention pruning and the nightly TRUNCATE checkpoint.
import { checkpointThreadUrl } from "../threads";
import type { RetentionCutoffs, RetentionOptions, RetentionResult } from "../store/retention";

export type TruncateResult = { busy: boolean; log: number; checkpointed: number };

export class Checkpointer {
  private worker: Worker;
  private ready: Promise<void>;
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private onClosed: (() => void) | null = null;

  constructor(file: string, intervalMs = 200, busyTimeoutMs = 5000) {
    this.worker = new Worker(checkpointThreadUrl);
    this.ready = new Promise((resolve, reject) => {
      this.worker.onmessage = (e) => {
        const d = e.data;
        if (d?.type === "ready") resolve();
        else if (d?.type === "closed") this.onClosed?.();
        else if (d?.type === "done") {
          const p = this.pending.get(d.id);
          this.pending.delete(d.id);
          if (d.error) p?.reject(new Error(d.error));
          else p?.resolve(d.result);
        }
      };
      this.worker.onerror = (e) => reject(new Error(String((e as ErrorEvent).message ?? e)));
    });
    this.worker.postMessage({ type: "init", file, intervalMs, busyTimeoutMs });
  }

  start(): Promise<void> {
    return this.ready;
  }

  private call<T>(msg: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id });
    });
  }

  /** Prunes old events and pings on the thread's connection, in batches. */
  retention(cutoffs: RetentionCutoffs, options?: RetentionOptions): Promise<RetentionResult> {
    return this.call({ type: "retention", cutoffs, options });
  }

  /**
   * Resolves true once every event committed before the call is in the full-text index, or false
   * after `timeoutMs` (the search then answers from the index as it is: at worst it misses the
   * newest events, never shows a wrong one).
   */
  async searchReady(timeoutMs = 1000): Promise<boolean> {
    let t: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) => (t = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([this.call({ type: "sync" }).then(() => true), timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(t);
    }
  }

  /** A TRUNCATE checkpoint: the WAL file back to zero bytes when no reader or writer is in the way. */
  truncate(): Promise<TruncateResult> {
    return this.call({ type: "truncate" });
  }

  /** A last checkpoint, then the thread ends. A prune still running is abandoned (its batches were committed). */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5000);
      this.onClosed = () => {
        clearTimeout(t);
        resolve();
      };
      this.worker.postMessage({ type: "close" });
    });
    for (const p of this.pending.values()) p.reject(new Error("checkpointer closed"));
    this.pending.clear();
    this.worker.terminate();
  }
}
