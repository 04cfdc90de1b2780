#!/usr/bin/env bash
# The one test command: set up, then run the whole suite on PostgreSQL + Redis
# and again on the embedded default (SQLite, no servers). Extra arguments go to
# pytest. With CI=true a missing PostgreSQL or Redis is started, and a service
# that stays down fails the run instead of being skipped.
set -euo pipefail
. "$(dirname "$0")/bootstrap.sh" requirements-dev.txt

echo "==> ruff"
ruff check .
ruff format --check .
echo "==> lint-imports (layers, DESIGN §2)"
lint-imports --no-cache

run_id="$$-$(date +%s)"
scratch="$(mktemp -d)"
embedded_pid=""
trap '[ -z "$embedded_pid" ] || kill "$embedded_pid" 2>/dev/null; rm -rf "$scratch"' EXIT
status=0

run_pytest() {  # name, then env assignments; runs pytest, records failure
  local name="$1"; shift
  echo "==> pytest on $name"
  set +e
  env "$@" python -m pytest "${PYTEST_ARGS[@]}"
  local rc=$?
  set -e
  if [ "$rc" -eq 5 ]; then
    echo "==> FAILED on $name: pytest collected no tests" >&2
    status=1
  elif [ "$rc" -ne 0 ]; then
    echo "==> FAILED on $name (pytest exit $rc)" >&2
    status=1
  fi
}

PYTEST_ARGS=("$@")
# Browser tests (tests/e2e) drive Debian's chromium; Playwright's own browser
# download needs the internet, which these machines do not have.
if [ ! -x /usr/bin/chromium ] && [ "${CI:-}" = "true" ]; then
  echo "==> installing chromium (apt) for the browser tests"
  { apt-get install -y -q chromium >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; } ||
    echo "==> chromium could not be installed; browser tests will fail" >&2
fi
if [ "${CI:-}" = "true" ]; then
  services_rc=0; python scripts/services.py --start --require || services_rc=$?
else
  services_rc=0; python scripts/services.py || services_rc=$?
fi

# The two passes share nothing (database, cache, var dir, worker uids), so the
# embedded one runs beside the PostgreSQL one: many tests wait on real
# processes, and the pair ends in little more than the longer pass alone. Its
# output is kept and printed when it ends. IMPERAL_TEST_PASSES_IN_TURN=1 runs
# them one after the other.
embedded_env=(-u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL
  IMPERAL_VAR_DIR="$scratch/embedded" IMPERAL_SANDBOX_UID_BASE=1100000000)
embedded_name="the embedded default (SQLite, no servers)"
if [ "$services_rc" -eq 0 ] && [ "${IMPERAL_TEST_PASSES_IN_TURN:-0}" != "1" ]; then
  echo "==> pytest on $embedded_name: running beside the next pass," \
    "its output follows when both end"
  ( run_pytest "$embedded_name" "${embedded_env[@]}"
    echo "$status" >"$scratch/embedded.status" ) >"$scratch/embedded.log" 2>&1 &
  embedded_pid=$!
fi

if [ "$services_rc" -eq 0 ]; then
  run_pytest "PostgreSQL + Redis" \
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/imperal_test_${run_id//-/_}" \
    REDIS_URL="redis://127.0.0.1:6379/15" \
    IMPERAL_CACHE_PREFIX="test-$run_id" \
    IMPERAL_VAR_DIR="$scratch/services" \
    IMPERAL_TEST_REQUIRE_SERVICES=1
elif [ "$services_rc" -eq 3 ]; then
  echo "==> SKIPPED the PostgreSQL + Redis pass: a service is not running (see above)." >&2
  echo "    Start them, or run with CI=true to have this script start them." >&2
else
  echo "==> FAILED: PostgreSQL and Redis are required here (CI=true) and did not come up" >&2
  status=1
fi

if [ -n "$embedded_pid" ]; then
  wait "$embedded_pid" || true
  embedded_pid=""
  cat "$scratch/embedded.log"
  [ "$(cat "$scratch/embedded.status" 2>/dev/null)" = "0" ] || status=1
else
  run_pytest "$embedded_name" "${embedded_env[@]}"
fi

if [ "$status" -eq 0 ]; then
  echo "==> all test passes succeeded"
fi
exit "$status"
