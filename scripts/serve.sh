#!/usr/bin/env bash
# The production command: set up (migrations, extension schemas, static files),
# then exec granian serving the WSGI app (why WSGI and granian: README
# "Production", bench/RESULTS.md), bound to ${HOST:-127.0.0.1}:${PORT:-8000}.
# Settings come from the environment only. SIGTERM or SIGINT to this pid stops
# it gracefully: in-flight requests get GRACEFUL_TIMEOUT seconds, then every
# worker is gone and the exit status is 0.
set -euo pipefail

WORKERS_MAX=128  # guards against typos, far above what one host can use
THREADS_MAX=256
THREADS_DEFAULT=8  # measured best of 8 and granian's 256 (bench/RESULTS.md)
# Connections one worker serves at once. An idle keep-alive connection holds its
# slot, and a connection past the bound is not accepted at all (its requests wait
# until a held connection closes), so the bound must be far above the clients
# one worker sees; the threads, not this, bound concurrent work and DB connections.
BACKPRESSURE_DEFAULT=1024
BACKPRESSURE_MAX=65536
TIMEOUT_MAX=3600

usage() {
  cat <<'EOF'
Usage: scripts/serve.sh [--workers N] [--threads N] [--connections N]
                        [--no-migrate] [--no-collectstatic]

  --workers N          worker processes (env WEB_CONCURRENCY; default: one per core)
  --threads N          request threads per worker (env WEB_THREADS; default 8)
  --connections N      open connections per worker, keep-alive ones included
                       (env WEB_CONNECTIONS; default 1024; at least --threads)
  --no-migrate         skip migrate and migrate_extensions (env IMPERAL_SERVE_MIGRATE=0)
  --no-collectstatic   skip collectstatic (env IMPERAL_SERVE_COLLECTSTATIC=0)

Environment: HOST (127.0.0.1), PORT (8000), GRACEFUL_TIMEOUT (30), SECRET_KEY
(required with DATABASE_URL unless DEBUG), DATABASE_URL, REDIS_URL, LOG_FORMAT
(json here), PROMETHEUS_MULTIPROC_DIR (var/prometheus/serve-PORT, emptied at
start), and every variable of docs/operators/configuration.md. GRANIAN_*
variables set other granian options (granian --help).
EOF
}

fail() {  # print a one-line error naming the rule, exit 2
  echo "serve.sh: $*" >&2
  exit 2
}

shown() {  # the offending value, truncated, for an error message
  local value="$1"
  [ "${#value}" -gt 40 ] && value="${value:0:40}..."
  printf "'%s'" "$value"
}

require_int() {  # name, value, min, max
  [[ "$2" =~ ^[0-9]{1,9}$ ]] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] ||
    fail "$1 must be an integer from $3 to $4, got $(shown "$2")"
}

is_true() {  # the values settings.py's _env_bool reads as true
  case "${1,,}" in 1 | true | yes | on) return 0 ;; *) return 1 ;; esac
}

workers="${WEB_CONCURRENCY:-}"
threads="${WEB_THREADS:-$THREADS_DEFAULT}"
connections="${WEB_CONNECTIONS:-$BACKPRESSURE_DEFAULT}"
migrate="${IMPERAL_SERVE_MIGRATE:-1}"
collectstatic="${IMPERAL_SERVE_COLLECTSTATIC:-1}"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --workers) [ "$#" -ge 2 ] || fail "--workers needs a number"
      workers="$2"; shift 2 ;;
    --workers=*) workers="${1#*=}"; shift ;;
    --threads) [ "$#" -ge 2 ] || fail "--threads needs a number"
      threads="$2"; shift 2 ;;
    --threads=*) threads="${1#*=}"; shift ;;
    --connections) [ "$#" -ge 2 ] || fail "--connections needs a number"
      connections="$2"; shift 2 ;;
    --connections=*) connections="${1#*=}"; shift ;;
    --no-migrate) migrate=0; shift ;;
    --no-collectstatic) collectstatic=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; fail "unknown option $(shown "$1")" ;;
  esac
done

HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
GRACEFUL_TIMEOUT="${GRACEFUL_TIMEOUT:-30}"
# One process per core: a process runs Python on one core at a time (the GIL);
# its threads overlap requests that wait on PostgreSQL, Redis or a handler.
workers="${workers:-$(nproc)}"
require_int "--workers/WEB_CONCURRENCY" "$workers" 1 "$WORKERS_MAX"
require_int "--threads/WEB_THREADS" "$threads" 1 "$THREADS_MAX"
require_int "--connections/WEB_CONNECTIONS" "$connections" "$threads" "$BACKPRESSURE_MAX"
require_int PORT "$PORT" 1 65535
require_int GRACEFUL_TIMEOUT "$GRACEFUL_TIMEOUT" 1 "$TIMEOUT_MAX"
[ -n "$HOST" ] || fail "HOST must not be empty"
case "$HOST" in *:*) url="http://[$HOST]:$PORT/" ;; *) url="http://$HOST:$PORT/" ;; esac

if [ -z "${SECRET_KEY:-}" ] && ! is_true "${DEBUG:-}"; then
  # Every server of a deployment must sign sessions, store cursors and the
  # ctx.db role passwords with one key; a key generated per host breaks them.
  [ -z "${DATABASE_URL:-}" ] ||
    fail "SECRET_KEY must be set when DATABASE_URL is (every server must share one key)"
  echo "serve.sh: WARNING: SECRET_KEY is not set; using the key generated under" \
    "${IMPERAL_VAR_DIR:-var}/secret_key (one host only)" >&2
fi

. "$(dirname "$0")/bootstrap.sh" requirements.txt

# Set-up steps run in the background so that a signal reaches this shell at
# once (bash runs a trap only after a foreground child exits).
step_pid=""
stop_step() {
  trap '' INT TERM
  [ -z "$step_pid" ] || kill -TERM "$step_pid" 2>/dev/null || true
  wait || true
  exit 0
}
trap stop_step INT TERM
step() {
  "$@" &
  step_pid=$!
  wait "$step_pid"
  step_pid=""
}

if [ "$migrate" != 0 ]; then
  echo "==> migrating"
  step python manage.py migrate --noinput -v0
  step python manage.py migrate_extensions -v0
fi
if [ "$collectstatic" != 0 ]; then
  echo "==> collecting static files"
  step python manage.py collectstatic --noinput -v0
fi

trap - INT TERM
# Every granian worker writes its Prometheus samples to files here and a scrape
# of /metrics adds them all up (prometheus_client's multiprocess mode), so any
# worker answers for the whole server. Emptied at each start: a previous run's
# files would be added in. One directory per server (hence the port in it).
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-${IMPERAL_VAR_DIR:-$ROOT/var}/prometheus/serve-$PORT}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -type f -name '*.db' -delete
# The production command logs one JSON object per line unless told otherwise.
export LOG_FORMAT="${LOG_FORMAT:-json}"
echo "==> serving on $url: $workers workers x $threads threads, up to" \
  "$connections connections each (granian, WSGI)"
# Isolated extensions' workers (IMPERAL_EXTENSION_RUNTIME): a supervisor beside
# the server, not its child, that exits with it (it watches this pid, which exec
# makes granian's). IMPERAL_RUN_WORKERS=0 leaves them to `manage.py run_workers`.
if is_true "${IMPERAL_RUN_WORKERS:-1}"; then
  case "$HOST" in 0.0.0.0 | ::) gateway_host=127.0.0.1 ;; *:*) gateway_host="[$HOST]" ;;
    *) gateway_host="$HOST" ;; esac
  (
    export IMPERAL_RUNTIME_GATEWAY_URL="${IMPERAL_RUNTIME_GATEWAY_URL:-http://$gateway_host:$PORT}"
    exec python manage.py run_workers --exit-with "$$" &
  )
fi
# --backpressure is granian's name for the connections bound (see the top).
exec granian --interface wsgi imperal_platform.wsgi:application \
  --host "$HOST" \
  --port "$PORT" \
  --workers "$workers" \
  --blocking-threads "$threads" \
  --backpressure "$connections" \
  --respawn-failed-workers \
  --workers-kill-timeout "$GRACEFUL_TIMEOUT" \
  --access-log \
  --no-ws
