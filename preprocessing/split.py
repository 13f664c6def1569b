"""Deterministic train / validation / test assignment by a stable hash of the tune id."""
from __future__ import annotations

import zlib

from preprocessing import schema

_BUCKETS = 100


def split_of(tune_id: str) -> str:
    """The split (one of ``schema.SPLITS``) that ``tune_id`` belongs to.

    Uses ``zlib.crc32`` of the UTF-8 id (never Python's salted ``hash()``), so the same tune
    lands in the same split on every run, machine and worker.
    """
    if not tune_id:
        raise ValueError(f"cannot split a tune with an empty id: {tune_id!r}")
    bucket = zlib.crc32(tune_id.encode("utf-8")) % _BUCKETS
    upper = 0
    for split in schema.SPLITS:
        upper += schema.SPLIT_PERCENTAGES[split]
        if bucket < upper:
            return split
    raise ValueError(f"schema.SPLIT_PERCENTAGES must add up to {_BUCKETS}: {schema.SPLIT_PERCENTAGES}")


def shard_of(tune_id: str, num_shards: int) -> int:
    """The shard index in ``[0, num_shards)`` of ``tune_id`` within its split (stable hash)."""
    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards}")
    # A different salt from split_of, so shards are not correlated with the split buckets.
    return zlib.crc32(b"shard:" + tune_id.encode("utf-8")) % num_shards
