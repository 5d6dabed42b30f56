"""How many credential checks one user may cause (domain.ports.CheckBudget).

A check sends a username and password that the caller chose to a host the caller
named. Without a limit, the service would be a free, well-connected proxy for
guessing registry passwords (or for knocking on hosts). A moving window per user,
in memory (the `limits` library), as the authentication throttle: replicas each
count their own.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class CheckBudget:
    def __init__(self, per_minute: int) -> None:
        self._item = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def take(self, caller: str) -> float | None:
        if self._limiter.hit(self._item, "checks", caller):
            return None
        reset_at = self._limiter.get_window_stats(self._item, "checks", caller).reset_time
        return max(1.0, math.ceil(reset_at - time.time()))
