#!/usr/bin/env bash
# `make test`: the whole suite on every supported Airflow release line, as CI runs it.
#
#   1. one virtual environment per version, installed side by side (make venv);
#   2. ruff once, the docs once (make docs), mypy per version;
#   3. one lane per version, running side by side: its mypy, then its unit tests and its
#      system tests, alternating which comes first (the first lane starts with its unit tests,
#      the second with its system tests), so the unit tests of one version (they mostly wait
#      on emulated time) run beside the system tests of another (real Airflow components) and
#      a lane that finishes a phase early goes on at once. Tests run in random order
#      (pytest-randomly; each log prints its seed: PYTEST_ARGS="--randomly-seed=N" repeats an order).
#
# Every phase runs even when an earlier one failed; each writes its log under
# .test-artifacts/test-matrix/ and prints one summary line; a failed phase's log tail is printed.
# Exit status: 0 when every phase passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."

VERSIONS=(${AIRFLOW_VERSIONS:-3.0.6 3.3.2})
LOGS=.test-artifacts/test-matrix
rm -rf "$LOGS"
mkdir -p "$LOGS"
started=$SECONDS

note() { printf '[%4ds] %s\n' "$((SECONDS - started))" "$*"; }

# run NAME COMMAND...: the command's output goes to $LOGS/NAME.log; its status and summary
# line go to $LOGS/NAME.rc and $LOGS/NAME.summary (lanes run in background subshells)
run() {
  local name=$1
  shift
  local begin=$SECONDS
  "$@" >"$LOGS/$name.log" 2>&1
  local rc=$?
  # pytest's closing line ("N passed, ... in Ns"); exit 5 is "no test selected"
  local closing
  closing=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|errors|skipped|deselected)' "$LOGS/$name.log" | tail -n 1)
  [ "$rc" -eq 5 ] && rc=0
  echo "$rc" >"$LOGS/$name.rc"
  printf '%-22s %-6s %4ds  %s\n' "$name" "$([ "$rc" -eq 0 ] && echo ok || echo FAILED)" \
    "$((SECONDS - begin))" "${closing//=/}" >"$LOGS/$name.summary"
  note "$(cat "$LOGS/$name.summary")"
  return 0
}

note "installing ${VERSIONS[*]} side by side"
for version in "${VERSIONS[@]}"; do
  run "install-$version" make --no-print-directory venv AIRFLOW_VERSION="$version" &
done
wait
installed() { [ -f ".venv-airflow-$1/.installed" ]; }
make --no-print-directory chromium system-packages || echo 1 >"$LOGS/system-packages.rc"

newest=${VERSIONS[-1]}
if installed "$newest"; then
  run "lint" make --no-print-directory lint AIRFLOW_VERSION="$newest"
  # the documentation site, warnings as errors (the system tests open it in a browser)
  run "docs" make --no-print-directory docs AIRFLOW_VERSION="$newest"
fi

# lane VERSION FIRST SECOND: mypy, then the two test phases of one version, in that order
lane() {
  local version=$1
  installed "$version" || return 0
  run "typecheck-$version" make --no-print-directory typecheck AIRFLOW_VERSION="$version"
  for phase in "$2" "$3"; do
    run "$phase-$version" make --no-print-directory "$phase" AIRFLOW_VERSION="$version"
  done
}
count=${#VERSIONS[@]}
for ((i = 0; i < count; i++)); do
  if ((i % 2 == 0)); then order=(unit system); else order=(system unit); fi
  note "lane ${VERSIONS[i]}: ${order[0]} tests, then ${order[1]} tests"
  lane "${VERSIONS[i]}" "${order[@]}" &
done
wait

declare -A STATUS=()
declare -A SUMMARY=()
for rc in "$LOGS"/*.rc; do
  name=$(basename "$rc" .rc)
  STATUS[$name]=$(cat "$rc")
  SUMMARY[$name]=$(cat "$LOGS/$name.summary" 2>/dev/null || echo "$name FAILED")
done
for version in "${VERSIONS[@]}"; do
  installed "$version" || STATUS[install-$version]=1
done

failed=()
for name in "${!STATUS[@]}"; do
  [ "${STATUS[$name]}" -eq 0 ] || failed+=("$name")
done
for name in "${failed[@]}"; do
  if [ -f "$LOGS/$name.log" ]; then
    echo
    echo "=================== last 150 lines of $LOGS/$name.log ==================="
    tail -n 150 "$LOGS/$name.log"
  fi
done

echo
echo "=================== summary (${VERSIONS[*]}; logs in $LOGS/) ==================="
for name in $(printf '%s\n' "${!SUMMARY[@]}" | sort); do
  echo "${SUMMARY[$name]}"
done
# one line per version: every phase of it must have run and passed
for version in "${VERSIONS[@]}"; do
  bad=()
  for phase in install typecheck unit system; do
    [ "${STATUS[$phase-$version]:-1}" -eq 0 ] || bad+=("$phase")
  done
  if [ ${#bad[@]} -eq 0 ]; then
    echo "Airflow $version: ok"
  else
    echo "Airflow $version: FAILED (${bad[*]})"
    failed+=("$version")
  fi
done
# totals of every pytest run, as one plain closing line
passed=0
failures=0
for log in "$LOGS"/unit-*.log "$LOGS"/system-*.log; do
  [ -f "$log" ] || continue
  line=$(grep -E '^(=+ )?[0-9]+ (passed|failed)' "$log" | tail -n 1)
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || true)
  f=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$line" | awk '{s += $1} END {print s + 0}')
  passed=$((passed + ${p:-0}))
  failures=$((failures + ${f:-0}))
done
[ ${#failed[@]} -eq 0 ] || failures=$((failures > 0 ? failures : ${#failed[@]}))
note "total wall time"
echo "tests: $passed passed, $failures failed"
[ ${#failed[@]} -eq 0 ]
