"""A bounded, expiring set: "have I seen this key lately?" (thread-safe, per process)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class BoundedSet:
    """Remembers up to `capacity` keys for `ttl` seconds (oldest forgotten first). `add` says if it was new."""

    def __init__(self, capacity: int = 20000, ttl: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._items: OrderedDict[Hashable, float] = OrderedDict()
        self._capacity = capacity
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()

    def add(self, key: Hashable) -> bool:
        now = self._clock()
        with self._lock:
            while self._items and (len(self._items) >= self._capacity
                                   or next(iter(self._items.values())) < now - self._ttl):
                self._items.popitem(last=False)
            if key in self._items:
                return False
            self._items[key] = now
            return True
