// The replicas of the cluster and what each is doing, read once for GET /v1/replicas, the admin
// overview's Replicas table and /metrics (keepwatch_replica_jobs_leased): the registry's rows
// (listReplicas) joined with the leases they hold (replicaWork: running jobs by jobs.lease_owner,
// housekeeping leases by holder). Two reads of small sets: running jobs are bounded by the
// replicas' worker slots (plus leases a dead replica left), housekeeping leases by the job names.
import { WEBHOOK_QUEUE } from "../../jobs/handlers/webhooks";
import { ENRICHMENT_QUEUE } from "../../store/enrichment";
import type { Store } from "../../store/contract";
import type { HeldHousekeeping, LeasedJobs, ReplicaRow } from "../../store/replicas";

/** The queues whose leases are shown per replica. */
export const JOB_QUEUES = [WEBHOOK_QUEUE, ENRICHMENT_QUEUE];

export type ReplicaActivity = ReplicaRow & {
  /** the jobs it holds leases on, by queue and kind (a dead replica's stay until their leases run out and another claims them) */
  jobs: LeasedJobs[];
  /** the housekeeping jobs it runs now (it holds their lease) */
  housekeeping: HeldHousekeeping[];
};

export type Activity = {
  /** the store's clock (PostgreSQL: the database's) */
  now: number;
  replicas: ReplicaActivity[];
  /** leased jobs whose owner is not on record: claimed by an older keepwatch (no owner), or by a replica whose row was pruned */
  unattributed: LeasedJobs[];
};

/** The replicas on record with what each is doing. */
export async function replicaActivity(store: Store, now: number): Promise<Activity> {
  const [list, work] = await Promise.all([store.replicas.listReplicas(now), store.replicas.replicaWork(JOB_QUEUES, now)]);
  const ids = new Set(list.replicas.map((r) => r.id));
  return {
    now: list.now,
    replicas: list.replicas.map((r) => ({
      ...r,
      jobs: work.jobs.filter((j) => j.owner === r.id),
      housekeeping: work.housekeeping.filter((h) => h.holder === r.id),
    })),
    unattributed: work.jobs.filter((j) => j.owner === null || !ids.has(j.owner)),
  };
}
