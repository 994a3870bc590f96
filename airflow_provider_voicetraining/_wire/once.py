"""Saying a thing once: a bounded memory of keys already seen (for once-per-job warnings)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

#: keys remembered; the oldest are forgotten first (a forgotten key may warn again)
MAX_REMEMBERED = 10_000


class OnceEach:
    """``first(key)`` is True the first time a key is seen (of the last :data:`MAX_REMEMBERED`).

    :param limit: how many keys to remember.
    """

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self._seen: OrderedDict[Hashable, None] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def first(self, key: Hashable) -> bool:
        """Whether ``key`` is new (it is remembered from now on)."""
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = None
            if len(self._seen) > self._limit:
                self._seen.popitem(last=False)
            return True
