"""ctx.storage beside its storage backend's own calls: a 10 MB upload and download, time
and peak memory, on the filesystem backend and on an S3-compatible server, in one run.

Run from the repository root (embedded default, or DATABASE_URL for the index):

    python bench/storage/run.py [--rounds 5] [--mb 10] [--backends filesystem,s3]

Variants per backend, interleaved round by round (the machine is noisy):
- ``backend save`` / ``backend read``: the Django storage's own ``save()`` of a
  ContentFile and ``open().read()`` of the object — the baseline;
- ``ctx.storage upload`` / ``download``: the face an extension calls (rules,
  the index row, the storage key, the whole bytes back, as the SDK's contract says);
- ``backend stream`` / ``ctx.storage stream``: reading in 64 KB chunks without
  keeping them, the storage's own ``open()`` beside ``Files.open()`` (the path
  the gateway's download takes).
Time is the median over rounds; peak memory is tracemalloc's peak above what was
allocated before the call (the 10 MB payload itself is allocated beforehand), from
one extra traced round. The S3 server is moto's, in a process of its own (so its
memory is not counted), on 127.0.0.1.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")
os.environ.setdefault("IMPERAL_VAR_DIR", tempfile.mkdtemp(prefix="bench-storage-"))

import django  # noqa: E402

django.setup()

import boto3  # noqa: E402
from asgiref.sync import async_to_sync  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import storages  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test.signals import setting_changed  # noqa: E402

from apps.accounts.partition import Partition  # noqa: E402
from apps.files.core import CHUNK_BYTES, Files, chunks, storage  # noqa: E402
from apps.files.face import StorageFace  # noqa: E402

PARTITION = Partition("default", "bench-storage", "alice")
KEYS = {"access_key": "bench", "secret_key": "bench"}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_s3():
    """Start moto's S3 server in its own process; return (process, endpoint)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, endpoint
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("moto's S3 server did not start")


def use_backend(name, endpoint=None):
    """Point STORAGES["extfiles"] at a fresh folder or bucket."""
    if name == "filesystem":
        folder = tempfile.mkdtemp(prefix="bench-files-")
        entry = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": folder},
        }
    else:
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        ).create_bucket(Bucket=bucket)
        entry = {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "max_memory_size": settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
                **KEYS,
            },
        }
    settings.STORAGES = {**settings.STORAGES, "extfiles": entry}
    setting_changed.send(sender=None, setting="STORAGES", value=None, enter=True)
    assert storages["extfiles"] is storage()


def variants(payload):
    """Return {name: callable} of one backend's variants over ``payload``."""
    face, files = StorageFace(PARTITION), Files()
    backend_key = {"key": None}

    def backend_save():
        backend_key["key"] = storage().save(
            f"raw/{uuid.uuid4().hex}", ContentFile(payload)
        )

    def backend_read():
        with storage().open(backend_key["key"], "rb") as handle:
            assert len(handle.read()) == len(payload)

    def backend_stream():
        with storage().open(backend_key["key"], "rb") as handle:
            assert sum(len(c) for c in chunks(handle, CHUNK_BYTES)) == len(payload)

    def face_upload():
        async_to_sync(face.upload)("bench/big.bin", payload)

    def face_download():
        assert len(async_to_sync(face.download)("bench/big.bin")) == len(payload)

    def face_stream():
        row, handle = files.open(PARTITION, "bench/big.bin")
        with handle:
            assert sum(len(c) for c in chunks(handle)) == row.size

    return {
        "backend save": backend_save,
        "ctx.storage upload": face_upload,
        "backend read": backend_read,
        "ctx.storage download": face_download,
        "backend stream": backend_stream,
        "ctx.storage stream": face_stream,
    }


def timed(function):
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def traced(function):
    tracemalloc.start()
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - before) / 2**20


def bench(backend, payload, rounds):
    runs = variants(payload)
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, function in runs.items():
            times[name].append(timed(function))
    peaks = {name: traced(function) for name, function in runs.items()}
    return {name: (statistics.median(times[name]), peaks[name]) for name in runs}


BASELINES = {
    "ctx.storage upload": "backend save",
    "ctx.storage download": "backend read",
    "ctx.storage stream": "backend stream",
}


def report(backend, results, megabytes):
    print(f"\n### {backend}, {megabytes} MB\n")
    print("| variant | median ms | × backend | peak MiB above payload |")
    print("|---|---:|---:|---:|")
    for name, (ms, peak) in results.items():
        base = BASELINES.get(name)
        ratio = f"{ms / results[base][0]:.2f}" if base else "1.00"
        print(f"| {name} | {ms:.1f} | {ratio} | {peak:.2f} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mb", type=int, default=10)
    parser.add_argument("--backends", default="filesystem,s3")
    args = parser.parse_args()
    settings.IMPERAL_STORAGE_MAX_FILE_BYTES = max(
        settings.IMPERAL_STORAGE_MAX_FILE_BYTES, args.mb * 2**20
    )
    call_command("migrate", verbosity=0)
    payload = os.urandom(args.mb * 2**20)
    s3 = None
    try:
        for backend in args.backends.split(","):
            endpoint = None
            if backend == "s3":
                s3, endpoint = start_s3()
            use_backend(backend, endpoint)
            report(backend, bench(backend, payload, args.rounds), args.mb)
    finally:
        if s3 is not None:
            s3.terminate()
            s3.wait(timeout=10)


if __name__ == "__main__":
    main()
