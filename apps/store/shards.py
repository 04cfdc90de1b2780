"""Shards of a fan-out: a stable hash of the user id splits an extension's users.

A user's hash is the first 32 bits of the MD5 of the id's UTF-8 bytes, the same
in Python, in PostgreSQL (``md5()``, served by an expression index) and on
SQLite (a function registered on every connection), so a user always falls in
the same shard of N, whoever computes it. Shard ``i`` of ``N`` holds the users
whose hash lies in ``[ceil(i * 2**32 / N), ceil((i + 1) * 2**32 / N))``: a range,
so PostgreSQL walks only that shard's part of the index.
"""

import hashlib
from dataclasses import dataclass

SHARDS_MAX = 256
HASH_SPACE = 2**32
# PostgreSQL's spelling of user_hash(); the fan-out index is built on it verbatim.
USER_HASH_SQL_POSTGRESQL = "('x' || substr(md5({column}), 1, 8))::bit(32)::bigint"
USER_HASH_SQL_SQLITE = "store_user_hash({column})"


def user_hash(user_id):
    """Return the user's stable 32-bit hash (an int in 0 .. 2**32 - 1)."""
    return int(hashlib.md5(user_id.encode("utf-8")).hexdigest()[:8], 16)


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``; ValueError/TypeError when out of range."""

    index: int
    count: int

    def __post_init__(self):
        for name in ("index", "count"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"shard: {name} must be an int, got {value!r:.40}")
        if not 1 <= self.count <= SHARDS_MAX:
            raise ValueError(
                f"shard: count must be 1-{SHARDS_MAX} (SHARDS_MAX), got {self.count}"
            )
        if not 0 <= self.index < self.count:
            raise ValueError(
                f"shard: index must be 0-{self.count - 1} for {self.count} shards, "
                f"got {self.index}"
            )

    @property
    def bounds(self):
        """Return ``(low, high)``: the shard holds hashes ``low <= h < high``."""
        return (
            -(-self.index * HASH_SPACE // self.count),
            -(-(self.index + 1) * HASH_SPACE // self.count),
        )

    def holds(self, user_id):
        """Return whether ``user_id`` falls in this shard."""
        low, high = self.bounds
        return low <= user_hash(user_id) < high

    def __str__(self):
        return f"{self.index + 1}/{self.count}"


def shard_of(user_id, count):
    """Return the Shard of ``count`` that holds ``user_id``."""
    return Shard(user_hash(user_id) * count // HASH_SPACE, count)
