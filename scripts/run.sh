#!/usr/bin/env bash
# The one run command: set up (virtualenv, migrations, static files, demo data)
# and start the platform on http://127.0.0.1:${PORT:-8000}/ with a Celery
# worker and embedded beat (schedules). Ctrl-C stops both.
set -euo pipefail
. "$(dirname "$0")/bootstrap.sh" requirements.txt

PORT="${PORT:-8000}"
VAR="${IMPERAL_VAR_DIR:-$ROOT/var}"
mkdir -p "$VAR"
echo "==> migrating"
python manage.py migrate --noinput -v0
python manage.py migrate_extensions -v0 >/dev/null
python manage.py collectstatic --noinput -v0
echo "==> demo data"
python manage.py seed_demo --url "http://127.0.0.1:$PORT"

echo "==> worker with embedded beat (log: $VAR/worker.log)"
python -m celery -A imperal_platform worker -B --concurrency 2 --loglevel INFO \
  --schedule "$VAR/celerybeat-schedule" --logfile "$VAR/worker.log" \
  >>"$VAR/worker.log" 2>&1 &
worker=$!
stop() { kill -TERM "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true; }
trap stop EXIT INT TERM

echo "==> serving on http://127.0.0.1:$PORT/ (Ctrl-C stops)"
python manage.py runserver "127.0.0.1:$PORT" --noreload
