"""Soak: the platform under steady traffic for minutes, with Redis and PostgreSQL faults.

Starts a private PostgreSQL cluster and redis-server on spare loopback ports
(never the machine's shared ones), migrates a platform database on them,
serves it with ``scripts/serve.sh`` and runs ``tests.reliability.traffic``:
N clients of each kind (in-process ctx.store, the gateway, tools over the user
API) for M minutes. In the middle it restarts Redis, restarts PostgreSQL and
SIGKILLs PostgreSQL, each down for OUTAGE seconds. At the end every key is read
back: an acknowledged write below what is stored counts as lost. Reports
throughput, p50/p99, errors by kind, recovery after each fault and the resident
memory of the server and of the traffic process over time; exits 1 when a
write was lost or an undocumented error surfaced.

    .venv/bin/python bench/soak/run.py [--minutes 10] [--clients 2] [--outage 5]
        [--json PATH]
"""

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.reliability.services import Stack, rss_bytes  # noqa: E402

DOCUMENTED_ERRORS = {"StoreUnavailable", "http 503 unavailable"}
SAMPLE_EVERY = 10.0
WARM_UP = 0.2  # fraction of the run before memory is compared


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2, help="clients of each kind")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds down")
    parser.add_argument("--json", type=Path, help="also write the report here")
    return parser.parse_args()


def faults(stack):
    """Return the faults, in order: (name, stop, start)."""
    return [
        ("redis restart", stack.redis.stop, stack.redis.start),
        ("postgres restart", stack.pg.stop, stack.pg.start),
        ("postgres SIGKILL", stack.pg.kill, stack.pg.start),
    ]


def inject(stack, seconds, outage, events):
    """Inject each fault at an even share of the run; append (name, down, up)."""
    scheduled = faults(stack)
    started = time.monotonic()
    for index, (name, stop, start) in enumerate(scheduled, start=1):
        at = seconds * (0.2 + 0.6 * index / (len(scheduled) + 1))
        time.sleep(max(0.0, started + at - time.monotonic()))
        down = time.time()
        stop()
        time.sleep(outage)
        start()
        events.append((name, down, time.time()))


def sample_memory(pids, stop, samples):
    started = time.time()
    while not stop.wait(SAMPLE_EVERY):
        row = {"t": round(time.time() - started, 1)}
        row.update({name: rss_bytes(pid) for name, pid in pids.items()})
        samples.append(row)


def recovery(events, error_times, ended):
    """Return, per fault: errors during it and seconds errors lasted past its end."""
    rows = []
    bounds = [down for _, down, _ in events[1:]] + [ended]
    for (name, down, up), until in zip(events, bounds, strict=True):
        window = [t for t in error_times if down <= t < until]
        after = [t for t in window if t > up]
        rows.append({
            "fault": name,
            "down_s": round(up - down, 2),
            "errors": len(window),
            "recovery_s": round(max(after, default=up) - up, 3),
        })  # fmt: skip
    return rows


def memory_growth(samples, name):
    """Return (MiB after warm-up, MiB at the end) of one process's samples."""
    values = [row[name] for row in samples]
    if len(values) < 3:
        return None
    warm = values[int(len(values) * WARM_UP)]
    return round(warm / 2**20, 1), round(values[-1] / 2**20, 1)


def main():
    args = parse_args()
    seconds = args.minutes * 60
    stack = Stack(Path(tempfile.mkdtemp(prefix="imperal-soak-")),
                  IMPERAL_STORE_POOL_TIMEOUT="5")  # fmt: skip
    events, samples, stop = [], [], threading.Event()
    try:
        stack.start()
        traffic = stack.traffic(seconds=seconds, clients=args.clients, keys=20)
        traffic.wait_ready()
        pids = {"server": stack.server.process.pid, "traffic": traffic.process.pid}
        sampler = threading.Thread(target=sample_memory, args=(pids, stop, samples))
        sampler.start()
        inject(stack, seconds, args.outage, events)
        report = traffic.result(timeout=seconds + 600)
        stop.set()
        sampler.join()
    finally:
        stop.set()
        stack.stop()
    return summarize(args, report, events, samples)


def summarize(args, report, events, samples):
    error_times = report.pop("error_times")
    elapsed = report["ended"] - report["started"]
    kinds = report["by_kind"]
    errors = {k: v for summary in kinds.values() for k, v in summary["errors"].items()}
    result = {
        "minutes": args.minutes,
        "clients_per_kind": args.clients,
        "elapsed_s": round(elapsed, 1),
        "by_kind": kinds,
        "throughput_per_s": {
            kind: round(summary["acknowledged"] / elapsed, 1)
            for kind, summary in kinds.items()
        },
        "lost": report["lost"],
        "in_doubt": report["in_doubt"],
        "lost_examples": report["lost_examples"],
        "faults": recovery(events, error_times, report["ended"]),
        "memory_mib": {
            name: memory_growth(samples, name) for name in ("server", "traffic")
        },  # fmt: skip
        "memory_samples": samples,
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)
    undocumented = set(errors) - DOCUMENTED_ERRORS
    if report["lost"] or undocumented:
        print(f"FAILED: lost {report['lost']}, undocumented errors {undocumented}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
