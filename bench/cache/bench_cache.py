"""Median latency of ctx.cache get/set beside raw redis-py GET/SET of the same bytes.

Measures the path an extension's handler takes: ``await ctx.cache.get(key,
Model)`` and ``await ctx.cache.set(key, value, ttl_seconds=60)`` on a context
from ``build_context`` (validation, envelope, key derivation, the Redis
backend through the django-redis alias), inside one running event loop.
The baseline is a plain ``redis.Redis`` client (its own pool, same URL) doing
``GET key`` / ``SET key <the same envelope bytes> EX 60``, in the same run,
interleaved round by round. Exits 1 when a ratio exceeds the gate.

    REDIS_URL=redis://127.0.0.1:6379/13 IMPERAL_CACHE_PREFIX=bench \\
        python bench/cache/bench_cache.py [--rounds 7] [--ops 1000] [--gate 1.5]
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from imperal_sdk import Extension  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from apps.accounts.identity import PlatformUserContext  # noqa: E402
from apps.cache import entries  # noqa: E402
from apps.cache.core import get_core  # noqa: E402
from apps.extensions.context import build_context  # noqa: E402

ext = Extension("bench-cache", display_name="Bench", description="ctx.cache bench")


@ext.cache_model("summary")
class Summary(BaseModel):
    total: int
    active: int
    last_id: str


@ext.cache_model("page")
class Page(BaseModel):
    messages: list[dict]
    total: int


VALUES = {
    "small": Summary(total=1234, active=567, last_id="doc_" + "x" * 20),
    "16KB": Page(
        messages=[{"id": f"m{i}", "subject": "s" * 120} for i in range(110)], total=110
    ),
}


# The seed's cached values are this size; a 16 KB value is reported beside them
# but not gated: decoding and validating 16 KB of JSON alone costs about as
# much as the round trip (see bench/RESULTS.md).
GATED = {"small"}


def stored_bytes(core, value):
    model_name = ext._resolve_cache_model_name(type(value))
    return entries.encode(model_name, value, 60, core.clock())


def run(rounds, chunks, ops):
    """Return {(size, op, path): [ns samples]}, raw and ctx.cache interleaved."""
    user = PlatformUserContext(
        imperal_id=f"bench-{uuid.uuid4().hex[:8]}",
        email="",
        tenant_id="bench",
        role="user",
    )
    ctx = build_context(ext, user)
    raw = redis.Redis.from_url(settings.REDIS_URL)
    raw_key = f"{settings.IMPERAL_CACHE['KEY_PREFIX']}:bench-raw-{uuid.uuid4().hex}"
    samples = {}
    try:
        asyncio.run(_measure(ctx, raw, raw_key, rounds, chunks, ops, samples))
    finally:
        asyncio.run(ctx.cache.delete("bench"))
        raw.delete(raw_key)
    return samples


async def _measure(ctx, raw, raw_key, rounds, chunks, ops, samples):
    for _ in range(rounds):
        for size, value in VALUES.items():
            await _measure_value(ctx, raw, raw_key, size, value, chunks, ops, samples)


async def _measure_value(ctx, raw, raw_key, size, value, chunks, ops, samples):
    # Raw calls run inside the same event loop and thread as ctx.cache's, in
    # alternating chunks, so both see the same noise from the shared machine.
    payload = stored_bytes(get_core(), value)
    model = type(value)
    await ctx.cache.set("bench", value, ttl_seconds=60)
    raw.set(raw_key, payload, ex=60)
    timings = (
        ("set", "raw", lambda: raw.set(raw_key, payload, ex=60)),
        ("set", "ctx.cache", lambda: ctx.cache.set("bench", value, ttl_seconds=60)),
        ("get", "raw", lambda: raw.get(raw_key)),
        ("get", "ctx.cache", lambda: ctx.cache.get("bench", model)),
    )
    for _ in range(chunks):
        for op, path, call in timings:
            got = await _time(call, ops, awaits=path == "ctx.cache")
            samples.setdefault((size, op, path), []).extend(got)


async def _time(call, ops, awaits):
    samples = []
    clock = time.perf_counter_ns
    for _ in range(ops):
        start = clock()
        if awaits:
            await call()
        else:
            call()
        samples.append(clock() - start)
    return samples


def report(samples, gate):
    """Print the table; return True when every gated ratio is within ``gate``."""
    print(
        "| value | op | raw redis-py median µs | ctx.cache median µs | ratio | gated |"
    )
    print("|---|---|---:|---:|---:|---|")
    ok = True
    for size, value in VALUES.items():
        nbytes = len(stored_bytes(get_core(), value))
        for op in ("get", "set"):
            raw = statistics.median(samples[(size, op, "raw")]) / 1000
            face = statistics.median(samples[(size, op, "ctx.cache")]) / 1000
            ratio = face / raw
            if size in GATED:
                ok = ok and ratio <= gate
            print(
                f"| {size} ({nbytes} B) | {op} | {raw:.1f} | {face:.1f} | {ratio:.2f} "
                f"| {'yes' if size in GATED else 'no'} |"
            )
    print(f"gate (gated rows): ratio <= {gate}: {'PASS' if ok else 'FAIL'}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=10)
    parser.add_argument("--ops", type=int, default=200, help="ops per chunk")
    parser.add_argument("--gate", type=float, default=1.5)
    args = parser.parse_args()
    if not settings.REDIS_URL:
        parser.error("set REDIS_URL: this benchmark compares against raw redis-py")
    ok = report(run(args.rounds, args.chunks, args.ops), args.gate)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
