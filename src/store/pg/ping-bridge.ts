// The one call of the PostgreSQL group commit into the heartbeat domain: a ping committed in a
// group (the twin of `receivePing(db, …)` in src/ingest/commit.ts). The PostgreSQL receivePing is
// written with the other heartbeat transitions (src/store/pg/heartbeat-transitions.ts,
// `pgHeartbeatTransitionsFns.receivePing`) on another branch; until they are merged this bridge
// refuses pings on PostgreSQL with a clear error.
//
// TO CONNECT AFTER THE MERGE (lead): replace the body of pgReceivePing by
//   return pgHeartbeatTransitionsFns.receivePing(tx, heartbeatId, ping, <hooks argument of that twin>, now);
// with `import { pgHeartbeatTransitionsFns } from "./heartbeat-transitions";` (the PostgreSQL hooks
// themselves are pgCommitHooks of ./hooks).
import type { PgConn } from "../contract";
import type { PingWork } from "../events";

export async function pgReceivePing(tx: PgConn, heartbeatId: string, ping: PingWork, now: number): Promise<void> {
  void tx;
  void heartbeatId;
  void ping;
  void now;
  throw new Error("PostgreSQL store: heartbeatTransitions.receivePing is not connected yet (src/store/pg/ping-bridge.ts)");
}
