// The commit hooks every group commit runs (see CommitHook in commit.ts). Later stages register
// theirs here: the outbox of outbound webhooks, alerts opened by sources and rules.
import type { CommitHook } from "./commit";

export const commitHooks: CommitHook[] = [];
