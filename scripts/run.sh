#!/usr/bin/env bash
# The one run command: set up (virtualenv, migrations, static files, demo data)
# and start the platform on http://127.0.0.1:${PORT:-8000}/. Ctrl-C stops it.
set -euo pipefail
. "$(dirname "$0")/bootstrap.sh" requirements.txt

PORT="${PORT:-8000}"
echo "==> migrating"
python manage.py migrate --noinput -v0
python manage.py collectstatic --noinput -v0
echo "==> demo data"
python manage.py seed_demo --url "http://127.0.0.1:$PORT"
echo "==> serving on http://127.0.0.1:$PORT/ (Ctrl-C stops)"
exec python manage.py runserver "127.0.0.1:$PORT" --noreload
