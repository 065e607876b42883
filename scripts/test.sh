#!/bin/sh
# Runs the whole suite and ends with one plain summary line ("tests: N passed, N failed").
set -u
out=$(mktemp)
# bunfig.toml cannot set the per-test timeout: 30 s gives tests that start servers room on slow machines
"$BUN" test --timeout 30000 "$@" 2>&1 | tee "$out"
code=$?
# bun test's exit status is lost in the pipe under plain sh; recompute it from its summary.
pass=$(grep -E '^ *[0-9]+ pass$' "$out" | tail -1 | tr -dc '0-9')
fail=$(grep -E '^ *[0-9]+ fail$' "$out" | tail -1 | tr -dc '0-9')
rm -f "$out"
pass=${pass:-0}
fail=${fail:-0}
echo "tests: ${pass} passed, ${fail} failed"
if [ "$fail" != "0" ] || [ "$pass" = "0" ]; then exit 1; fi
exit 0
