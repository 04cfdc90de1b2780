#!/usr/bin/env bash
# The one run command: set up (virtualenv, migrations, static files, demo data)
# and start the platform on http://127.0.0.1:${PORT:-8000}/ with a Celery
# worker and embedded beat (schedules). Ctrl-C, or SIGINT/SIGTERM to this
# script's pid alone, stops both and exits 0: each child gets SIGTERM, and
# whatever still runs IMPERAL_STOP_TIMEOUT seconds later (default 30) SIGKILL.
set -euo pipefail
. "$(dirname "$0")/bootstrap.sh" requirements.txt

PORT="${PORT:-8000}"
VAR="${IMPERAL_VAR_DIR:-$ROOT/var}"
STOP_TIMEOUT="${IMPERAL_STOP_TIMEOUT:-30}"
[[ "$STOP_TIMEOUT" =~ ^[0-9]{1,4}$ ]] || {
  echo "run.sh: IMPERAL_STOP_TIMEOUT must be a number of seconds (0-9999)," \
    "got '${STOP_TIMEOUT:0:40}'" >&2
  exit 2
}
mkdir -p "$VAR"

# Every child runs in the background and this shell waits for it: bash runs a
# trap only once its foreground child has exited, so a foreground server would
# leave a signal to the script's pid unanswered. Background children of a
# script ignore SIGINT, which is why each one is sent SIGTERM.
children=()
names=()  # what each child is, for the stop message
start() {  # a label, then the command
  local label="$1"
  shift
  "$@" &
  children+=("$!")
  names+=("$label (pid $!)")
}
step() {  # a set-up command: run it to the end, or stop it with the script
  start "'$*'" "$@"
  wait "${children[-1]}"
  children=()
  names=()
}
kill_tree() {  # SIGKILL each pid and its descendants, children first
  local pid
  for pid in "$@"; do
    # shellcheck disable=SC2046
    kill_tree $(pgrep -P "$pid" || true)
    kill -KILL "$pid" 2>/dev/null || true
  done
}
stop() {  # stop every child, then exit with $1
  trap '' INT TERM
  if [ "${#children[@]}" -gt 0 ]; then
    echo "==> stopping: SIGTERM to ${names[*]}; waiting up to ${STOP_TIMEOUT} s" \
      "(IMPERAL_STOP_TIMEOUT) for them to exit" >&2
    kill -TERM "${children[@]}" 2>/dev/null || true
  else
    echo "==> stopping" >&2
  fi
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while [ -n "$(jobs -rp)" ] && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.2
  done
  if [ -n "$(jobs -rp)" ]; then
    echo "run.sh: SIGKILL to what still runs after ${STOP_TIMEOUT} s:" $(jobs -rp) >&2
    # shellcheck disable=SC2046
    kill_tree $(jobs -rp)
  fi
  wait || true
  echo "==> stopped" >&2
  exit "$1"
}
trap 'stop 0' INT TERM

echo "==> migrating"
step python manage.py migrate --noinput -v0
step python manage.py migrate_extensions -v0 >/dev/null
step python manage.py collectstatic --noinput -v0
echo "==> demo data"
step python manage.py seed_demo --url "http://127.0.0.1:$PORT"

# The web server and the worker write their Prometheus samples to one directory,
# so /metrics counts the schedule runs the worker fires too (emptied at start:
# a previous run's files would be added in).
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$VAR/prometheus/run}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -type f -name '*.db' -delete

echo "==> worker with embedded beat (log: $VAR/worker.log)"
start "the Celery worker" python -m celery -A imperal_platform worker -B --concurrency 2 --loglevel INFO \
  --schedule "$VAR/celerybeat-schedule" --logfile "$VAR/worker.log" \
  >>"$VAR/worker.log" 2>&1
echo "==> isolated extensions' workers (log: $VAR/workers.log)"
IMPERAL_RUNTIME_GATEWAY_URL="${IMPERAL_RUNTIME_GATEWAY_URL:-http://127.0.0.1:$PORT}" \
  start "the workers' supervisor" python manage.py run_workers --exit-with-parent \
  >>"$VAR/workers.log" 2>&1
echo "==> serving on http://127.0.0.1:$PORT/ (Ctrl-C stops)"
start "the web server" python manage.py runserver "127.0.0.1:$PORT" --noreload

# Either child exiting on its own is a failure: stop the other, report its status.
status=0
wait -n || status=$?
echo "run.sh: a child exited with status $status; stopping" >&2
stop "$((status == 0 ? 1 : status))"
