#!/usr/bin/env bash
# `make test`: the whole suite on every supported Airflow release line, as CI runs it.
#
#   1. one virtual environment per version, installed side by side (make venv);
#   2. ruff once, the docs once (make docs), mypy per version;
#   3. the unit tests of one version beside the system tests of another, in turns: the unit
#      tests mostly wait on emulated time, the system tests mostly on real Airflow components,
#      so the pair shares two cores well. Tests run in random order (pytest-randomly; each log
#      prints its seed: PYTEST_ARGS="--randomly-seed=N" repeats an order).
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
declare -A STATUS=()
declare -A SUMMARY=()
started=$SECONDS

note() { printf '[%4ds] %s\n' "$((SECONDS - started))" "$*"; }

# run NAME COMMAND...: the command's output goes to $LOGS/NAME.log; its status is remembered
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
  STATUS[$name]=$rc
  SUMMARY[$name]="$(printf '%-22s %-6s %4ds  %s' "$name" "$([ "$rc" -eq 0 ] && echo ok || echo FAILED)" \
    "$((SECONDS - begin))" "${closing//=/}")"
  note "${SUMMARY[$name]}"
  return 0
}

note "installing ${VERSIONS[*]} side by side"
for version in "${VERSIONS[@]}"; do
  run "install-$version" make --no-print-directory venv AIRFLOW_VERSION="$version" &
done
wait
# `run` in a background job cannot set our arrays: read the install results back from the logs
for version in "${VERSIONS[@]}"; do
  if [ -f ".venv-airflow-$version/.installed" ]; then STATUS[install-$version]=0; else STATUS[install-$version]=1; fi
  SUMMARY[install-$version]="$(printf '%-22s %-6s' "install-$version" \
    "$([ "${STATUS[install-$version]}" -eq 0 ] && echo ok || echo FAILED)")"
done
make --no-print-directory chromium system-packages || STATUS[system-packages]=1

newest=${VERSIONS[-1]}
run "lint" make --no-print-directory lint AIRFLOW_VERSION="$newest"
# the documentation site, warnings as errors (the system tests open it in a browser)
run "docs" make --no-print-directory docs AIRFLOW_VERSION="$newest"
for version in "${VERSIONS[@]}"; do
  run "typecheck-$version" make --no-print-directory typecheck AIRFLOW_VERSION="$version"
done

# unit tests of version i beside the system tests of version i+1 (wrapping around)
count=${#VERSIONS[@]}
for ((i = 0; i < count; i++)); do
  unit_version=${VERSIONS[i]}
  system_version=${VERSIONS[(i + 1) % count]}
  note "unit tests on $unit_version beside system tests on $system_version"
  if [ "${STATUS[install-$unit_version]}" -eq 0 ]; then
    (run "unit-$unit_version" make --no-print-directory unit AIRFLOW_VERSION="$unit_version"
     echo "${STATUS[unit-$unit_version]}" >"$LOGS/unit-$unit_version.rc"
     echo "${SUMMARY[unit-$unit_version]}" >"$LOGS/unit-$unit_version.summary") &
  fi
  if [ "${STATUS[install-$system_version]}" -eq 0 ]; then
    run "system-$system_version" make --no-print-directory system AIRFLOW_VERSION="$system_version"
  fi
  wait
  if [ -f "$LOGS/unit-$unit_version.rc" ]; then
    STATUS[unit-$unit_version]=$(cat "$LOGS/unit-$unit_version.rc")
    SUMMARY[unit-$unit_version]=$(cat "$LOGS/unit-$unit_version.summary")
  fi
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
