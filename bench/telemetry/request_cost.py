"""What the request telemetry costs a request: an A/B in one Django handler.

Each variant runs in a process of its own (prometheus_client reads
PROMETHEUS_MULTIPROC_DIR when it is imported) and calls Django's WSGI handler
directly, with the bare JSON view of bench/server (no server, no network, no
database): the figure is the middleware's own CPU time per request, which a
loaded server would spend on every request. Variants, interleaved round by round:

- ``without``: the platform's middleware minus RequestTelemetry (the A side);
- ``with``: the platform's middleware (request id, counter, histogram);
- ``with-multiprocess``: the same with PROMETHEUS_MULTIPROC_DIR set, as
  scripts/serve.sh runs it (samples written to mmap'd files).

Tracing is off in every variant (the platform's default). Each round reports the
process's CPU time per request (not wall time: the machine is shared); prints each
variant's median over the rounds and the difference to ``without``.

    .venv/bin/python bench/telemetry/request_cost.py [--rounds 7] [--requests 3000]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIDDLEWARE = "apps.common.middleware.RequestTelemetry"
VARIANTS = ("without", "with", "with-multiprocess")

CHILD = """
import json, sys, time
import django
django.setup()
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
variant, requests = sys.argv[1], int(sys.argv[2])
if variant == "without":
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != %(middleware)r]
handler = WSGIHandler()

def environ():
    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/bench/bare", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": __import__("io").BytesIO(b""), "wsgi.errors": sys.stderr,
        "SERVER_PROTOCOL": "HTTP/1.1",
    }

def start_response(status, headers):
    assert status.startswith("200"), status

for _ in range(500):
    b"".join(handler(environ(), start_response))
started = time.process_time()
for _ in range(requests):
    b"".join(handler(environ(), start_response))
print(json.dumps((time.process_time() - started) / requests * 1e6))
"""


def run_variant(variant, requests, metrics_dir):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.server.settings",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if variant == "with-multiprocess":
        env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD % {"middleware": MIDDLEWARE},
            variant,
            str(requests),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=3000)
    options = parser.parse_args()
    results = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory() as metrics_dir:
        for round_number in range(options.rounds):
            for variant in VARIANTS:
                results[variant].append(
                    run_variant(variant, options.requests, metrics_dir)
                )
            print(f"round {round_number + 1}/{options.rounds} done", file=sys.stderr)
    baseline = statistics.median(results["without"])
    print(f"{'variant':<20} {'median CPU µs/request':>18} {'vs without':>12}")
    for variant in VARIANTS:
        median = statistics.median(results[variant])
        print(f"{variant:<20} {median:>18.1f} {median - baseline:>+11.1f}µs")
    print(f"load average: {os.getloadavg()[0]:.2f}; {time.strftime('%Y-%m-%d %H:%M')}")


if __name__ == "__main__":
    main()
