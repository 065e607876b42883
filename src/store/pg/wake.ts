// Wake-ups across replicas (issue 12): a replica that committed new jobs (an ingest group's
// deliveries and enrichments, an API change's messages, a heartbeat flip's) wakes its own workers
// at once; the other replicas' workers would only see them at their next poll (up to the worker's
// pollMs, 1 s). With --db-wake notify (the default) the replica also sends NOTIFY on one channel
// after such a commit when its own worker has no free slot (server.ts: a worker with room claims
// the jobs itself, and waking every replica for every commit only makes them race for the same
// lane row), and every other replica LISTENs on it and wakes its workers: a hint only, never
// needed for correctness (a lost notification costs one poll interval; the claim is the queue's
// FOR UPDATE SKIP LOCKED as always). The payload names the sender, which ignores its own.
// --db-wake poll leaves it out: LISTEN needs a session of its own, which PgBouncer in transaction
// mode does not give.
//
// Cost: a NOTIFY is one statement outside the unit's transaction, sent after its commit, and
// coalesced: at most one in flight per process, one more queued behind it whatever the number of
// commits meanwhile. postgres.js's listen() keeps one dedicated connection (outside the pool) and
// re-listens after it reconnects.
import type { PgConn } from "../contract";

export const WAKE_CHANNEL = "keepwatch_jobs";

export type PgWake = {
  /** tell every replica (this one too) that jobs were committed */
  announce(): void;
  /** stop listening (the pool itself is closed by its owner) */
  stop(): Promise<void>;
};

/** Listens on the wake channel (calling `onWake` for each notification sent by another process than `self`) and returns the announcer (its notifications name `self`). */
export function startPgWake(pool: PgConn, self: string, onWake: () => void, onError: (e: unknown) => void): PgWake {
  let sending = false;
  let again = false;
  let stopped = false;
  const send = () => {
    if (stopped) return;
    if (sending) return void (again = true);
    sending = true;
    pool
      .notify(WAKE_CHANNEL, self)
      .catch(onError)
      .finally(() => {
        sending = false;
        if (again) {
          again = false;
          send();
        }
      });
  };
  const listening = pool.listen(WAKE_CHANNEL, (from) => from !== self && onWake()).catch((e) => {
    onError(e);
    return null;
  });
  return {
    announce: send,
    async stop() {
      stopped = true;
      const l = await listening;
      await l?.unlisten().catch(() => {});
    },
  };
}
