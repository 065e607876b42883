// planAlertPatch (src/core/alerts.ts): what a triage change writes, decided once for both stores.
import { expect, test } from "bun:test";
import { planAlertPatch, type AlertTriage } from "../../src/core/alerts";

const open: AlertTriage = { status: "open", classification: null, closedAt: null, assignee: null };
const closed: AlertTriage = { status: "closed", classification: "false_positive", closedAt: 5, assignee: "ann" };

test("close, reopen, reclassify, assign: the fields after, one timeline entry per changed field", () => {
  expect(planAlertPatch(open, { status: "closed", classification: "true_positive" }, 9)).toEqual({
    after: { status: "closed", classification: "true_positive", closedAt: 9, assignee: null },
    entries: [{ kind: "status", data: { from: "open", to: "closed", classification: "true_positive" } }],
  });
  expect(planAlertPatch(closed, { status: "open" }, 9)).toEqual({
    after: { status: "open", classification: null, closedAt: null, assignee: "ann" },
    entries: [{ kind: "reopened", data: { from: "closed", to: "open" } }],
  });
  expect(planAlertPatch(closed, { classification: "duplicate", assignee: "bob" }, 9)).toEqual({
    after: { status: "closed", classification: "duplicate", closedAt: 5, assignee: "bob" },
    entries: [
      { kind: "status", data: { from: "closed", to: "closed", classification: "duplicate" } },
      { kind: "assigned", data: { from: "ann", to: "bob" } },
    ],
  });
  // a classification on an alert that is not closed, or fields as they are: nothing changes
  expect(planAlertPatch(open, { classification: "duplicate", status: "open", assignee: null }, 9)).toEqual({ after: open, entries: [] });
  // a status change that is not a close keeps the classification of an alert that was not closed
  expect(planAlertPatch({ ...open, classification: "x" }, { status: "triaging" }, 9).after).toEqual({ status: "triaging", classification: "x", closedAt: null, assignee: null });
  // the alert passed in is not changed
  expect(open).toEqual({ status: "open", classification: null, closedAt: null, assignee: null });
});
