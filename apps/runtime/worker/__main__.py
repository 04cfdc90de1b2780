"""``python -m apps.runtime.worker``: one worker process of one isolated extension.

It reads its whole configuration from the environment the supervisor (or an
operator, on another host) gives it, and nothing else of the platform:

- IMPERAL_WORKER_APP      the extension's app id
- IMPERAL_WORKER_ENTRY    its IMPERAL_EXTENSIONS entry (module path or directory)
- IMPERAL_WORKER_BASE     the directory a relative entry is found in
- IMPERAL_WORKER_GATEWAY  the platform's gateway URL
- IMPERAL_WORKER_TOKEN    the extension's runtime token (claim and reply only)
- IMPERAL_WORKER_ID       this worker's name (the consumer name in the dispatch)
- IMPERAL_WORKER_WAIT     seconds a claim long-polls (default 2)
- IMPERAL_WORKER_CONCURRENCY  calls it runs at once (default 1)

The IMPERAL_WORKER_* variables are removed from os.environ before the
extension is imported. Exit status 3: the entry does not load; 4: the gateway
refused the token or went away.
"""

import logging
import os
import signal
import sys

from .gateway import DispatchGone, GatewayDispatch
from .loading import load_extension
from .loop import Worker

REQUIRED = ("APP", "ENTRY", "GATEWAY", "TOKEN", "ID")


def main():
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s worker %(process)d %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = {
        key[len("IMPERAL_WORKER_") :]: os.environ.pop(key)
        for key in list(os.environ)
        if key.startswith("IMPERAL_WORKER_")
    }
    missing = [f"IMPERAL_WORKER_{key}" for key in REQUIRED if not settings.get(key)]
    if missing:
        print(f"worker: missing environment variables {missing}", file=sys.stderr)
        return 2
    try:
        ext = load_extension(
            settings["ENTRY"], settings["APP"], settings.get("BASE") or "."
        )
    except Exception as exc:  # an extension's import may raise anything
        print(
            f"worker: entry {settings['ENTRY']!r}: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return 3
    dispatch = GatewayDispatch(
        settings["GATEWAY"],
        settings["TOKEN"],
        settings["ID"],
        wait=float(settings.get("WAIT") or 2),
    )
    try:
        concurrency = int(settings.get("CONCURRENCY") or 1)
        worker = Worker(ext, dispatch, settings["GATEWAY"], concurrency)
    except ValueError as exc:
        print(f"worker: IMPERAL_WORKER_CONCURRENCY: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, worker.stop)
    try:
        worker.run_forever()
    except DispatchGone as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
