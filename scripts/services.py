"""Check (and with --start, start) the PostgreSQL and Redis this machine provides.

Exit 0 when both answer; 3 when one is missing and --require was not given
(the caller then runs only the embedded pass); 1 when --require was given and
a service could not be brought up.
"""

import argparse
import os
import subprocess
import sys
import time

PG_DSN = os.environ.get(
    "IMPERAL_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
REDIS_URL = os.environ.get("IMPERAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def postgres_answers():
    import psycopg

    try:
        psycopg.connect(PG_DSN, connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


def redis_answers():
    import redis

    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError:
        return False


def start_postgres():
    versions = (
        sorted(os.listdir("/etc/postgresql"))
        if os.path.isdir("/etc/postgresql")
        else []
    )
    if not versions:
        return "no PostgreSQL cluster under /etc/postgresql"
    cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"]
    return _run(cmd)


def start_redis():
    os.makedirs("/var/lib/redis", exist_ok=True)
    os.makedirs("/var/log/redis", exist_ok=True)
    cmd = [
        "redis-server",
        "--daemonize",
        "yes",
        "--bind",
        "127.0.0.1",
        "-::1",
        "--port",
        "6379",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        "/var/lib/redis",
        "--logfile",
        "/var/log/redis/ci.log",
    ]
    return _run(cmd)


def _run(cmd):
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{cmd[0]}: {exc}"
    return (
        "" if done.returncode == 0 else f"{' '.join(cmd)}: {done.stderr.strip()[:300]}"
    )


def _wait(check, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--start", action="store_true", help="start a service that is down"
    )
    parser.add_argument(
        "--require", action="store_true", help="fail when a service stays down"
    )
    args = parser.parse_args()
    problems = []
    for name, check, start in (
        ("PostgreSQL", postgres_answers, start_postgres),
        ("Redis", redis_answers, start_redis),
    ):
        if check():
            continue
        if args.start:
            print(f"==> {name} is down; starting it", file=sys.stderr)
            error = start()
            if _wait(check):
                continue
            problems.append(
                f"{name} did not come up ({error or 'no answer after 30 s'})"
            )
        else:
            problems.append(f"{name} does not answer")
    for problem in problems:
        print(f"==> {problem}", file=sys.stderr)
    if problems:
        return 1 if args.require else 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
