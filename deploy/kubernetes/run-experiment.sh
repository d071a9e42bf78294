#!/bin/sh
# The in-cluster runner's entry point: run one experiment, then write its reports.
# Usage: chaosllm-run EXPERIMENT [RESULTS]   (RESULTS defaults to /results)
# The journal, the chaos log and the reports (Markdown, HTML, JUnit) of each run go to
# RESULTS/<UTC time>/; the exit status is chaos run's (1 when the experiment deviated),
# or 3 when the report's verdict is in $CHAOSLLM_FAIL_ON (default: failed,inconclusive).
set -u
experiment=${1:?usage: chaosllm-run EXPERIMENT [RESULTS]}
results=${2:-/results}
run="$results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run"
chaos --no-version-check --log-file "$run/chaostoolkit.log" run \
  --journal-path "$run/journal.json" "$experiment"
status=$?
if [ -f "$run/journal.json" ]; then
  chaosllm report "$run/journal.json" --format md,html,junit --out "$run" \
    --fail-on "${CHAOSLLM_FAIL_ON:-failed,inconclusive}"
  reported=$?
  [ "$status" -eq 0 ] && status=$reported
fi
echo "chaosllm-run: journal and reports in $run (exit $status)"
exit "$status"
