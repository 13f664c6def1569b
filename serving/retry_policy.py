"""How long a client waits for a model server: a deadline per call, and retries while it is unavailable."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Deadline per call, and retries on UNAVAILABLE for ``window_s`` seconds (long enough for a
    server to restart) with exponential backoff from ``first_backoff_s`` up to ``max_backoff_s``."""

    timeout_s: float = 30.0
    generate_timeout_s: float = 600.0
    window_s: float = 10.0
    first_backoff_s: float = 0.25
    max_backoff_s: float = 2.0

    def backoffs(self) -> list[float]:
        """The waits between attempts: they add up to ``window_s`` (the last one cut to fit)."""
        waits: list[float] = []
        while sum(waits) < self.window_s:
            waits.append(min(self.first_backoff_s * 2 ** len(waits), self.max_backoff_s, self.window_s - sum(waits)))
        return waits
