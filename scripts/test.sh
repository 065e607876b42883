#!/bin/sh
# Runs the whole suite and ends with one plain summary line ("tests: N passed, N failed").
# Two passes: every test on SQLite (the default store), then the files listed in
# test/pg/suite.txt again with KEEPWATCH_TEST_STORE=postgres: startTestServer and the binary
# tests run on a throwaway PostgreSQL cluster that the test process starts itself (initdb in a temp
# dir, a Unix socket, stopped at exit). Given files or options, only the SQLite pass runs on them;
# KEEPWATCH_TEST_STORE=postgres sh scripts/test.sh FILE... runs those files on PostgreSQL alone.
set -u
# bunfig.toml cannot set the per-test timeout: 30 s gives tests that start servers room on slow machines
run_pass() {
  out=$(mktemp)
  "$BUN" test --timeout 30000 "$@" 2>&1 | tee "$out" >&2
  # bun test's exit status is lost in the pipe under plain sh; recompute it from its summary.
  # (grep -a: the output may hold NUL bytes, which the hostile-input tests send and print)
  p=$(grep -a -E '^ *[0-9]+ pass$' "$out" | tail -1 | tr -dc '0-9')
  f=$(grep -a -E '^ *[0-9]+ fail$' "$out" | tail -1 | tr -dc '0-9')
  # a pass that could not run at all (no summary) counts as one failure
  if [ -z "$p" ] && [ -z "$f" ]; then f=1; fi
  # the failed tests' names, repeated at the end (a CI log shows only its tail)
  grep -a -E '^\(fail\)' "$out" >> "$fails"
  rm -f "$out"
  echo "${p:-0} ${f:-0}"
}

fails=$(mktemp)
# the test output goes to stderr as it comes; run_pass answers "PASSED FAILED" on stdout
sqlite=$(run_pass "$@")
spass=${sqlite% *}
sfail=${sqlite#* }
ppass=0
pfail=0
pg_note=""
suite=test/pg/suite.txt # make test runs from the repository
if [ $# -eq 0 ] && [ "${KEEPWATCH_TEST_STORE:-}" != "postgres" ] && [ -f "$suite" ]; then
  files=$(grep -v '^[[:space:]]*#' "$suite" | grep -v '^[[:space:]]*$' | tr '\n' ' ')
  if [ -n "$files" ]; then
    echo "== PostgreSQL pass: KEEPWATCH_TEST_STORE=postgres over test/pg/suite.txt"
    # shellcheck disable=SC2086 # one file per word
    pg=$(KEEPWATCH_TEST_STORE=postgres run_pass $files)
    ppass=${pg% *}
    pfail=${pg#* }
    pg_note=" (sqlite: ${spass} passed, ${sfail} failed; postgres: ${ppass} passed, ${pfail} failed)"
  fi
fi
pass=$((spass + ppass))
fail=$((sfail + pfail))
if [ -s "$fails" ]; then
  echo "== failed tests (sqlite pass first, then postgres):"
  # bun prints each failure twice (inline and in its closing list): once here
  awk '!seen[$0]++' "$fails"
fi
rm -f "$fails"
echo "tests: ${pass} passed, ${fail} failed${pg_note}"
if [ "$fail" != "0" ] || [ "$spass" = "0" ]; then exit 1; fi
exit 0
