// Starts and stops the checkpointer thread (checkpoint-thread.ts).
import { checkpointThreadUrl } from "../threads";

export class Checkpointer {
  private worker: Worker;
  private ready: Promise<void>;

  constructor(file: string, intervalMs = 200) {
    this.worker = new Worker(checkpointThreadUrl);
    this.ready = new Promise((resolve, reject) => {
      this.worker.onmessage = (e) => (e.data?.type === "ready" ? resolve() : undefined);
      this.worker.onerror = (e) => reject(new Error(String((e as ErrorEvent).message ?? e)));
    });
    this.worker.postMessage({ type: "init", file, intervalMs });
  }

  start(): Promise<void> {
    return this.ready;
  }

  /** A last checkpoint, then the thread ends. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5000);
      this.worker.onmessage = (e) => {
        if (e.data?.type === "closed") {
          clearTimeout(t);
          resolve();
        }
      };
      this.worker.postMessage({ type: "close" });
    });
    this.worker.terminate();
  }
}
