"""Reading a body with a cap that holds after decompression.

The transport reads the raw bytes and :class:`CappedBody` decodes each ``Content-Encoding``
layer with ``max_length``, so memory never exceeds the cap by more than one network chunk (a
single ``decompress()`` of a gzip bomb would return the whole expansion at once).
"""

from __future__ import annotations

import zlib
from typing import Any

#: Content codings we decode (what we ask for in ``Accept-Encoding``).
ACCEPT_ENCODING = "gzip, deflate"
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class UnsupportedEncoding(ValueError):
    """The server used a content coding we did not ask for (``br``, ``zstd`` ...)."""


class CappedBody:
    """Accumulates a body up to ``limit`` decoded bytes; :attr:`truncated` once beyond.

    :param content_encoding: the response's ``Content-Encoding`` header (codings in the order
        they were applied), or None.
    :param limit: the most decoded bytes to keep.
    """

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        self.limit = limit
        self.truncated = False
        self._parts: list[bytes] = []
        self._size = 0
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        unknown = [c for c in codings if c not in _WBITS]
        if unknown:
            raise UnsupportedEncoding(f"unsupported Content-Encoding {', '.join(unknown)[:40]!r}")
        # decoded in reverse order of application
        self._layers = [zlib.decompressobj(_WBITS[c]) for c in reversed(codings)]

    def feed(self, chunk: bytes) -> bool:
        """Take a raw chunk; return False once the cap is exceeded (stop reading).

        A corrupt compressed stream raises ``ValueError``, like any other garbled body.
        """
        data = chunk
        for layer in self._layers:
            data = self._decode(layer, data)
            if self.truncated:
                return False
        self._keep(data)
        return not self.truncated

    def _decode(self, layer: Any, data: bytes) -> bytes:
        try:
            return self._decompress(layer, data)
        except zlib.error as exc:
            raise ValueError(f"corrupt compressed body ({exc})") from None

    def _decompress(self, layer: Any, data: bytes) -> bytes:
        out = [layer.decompress(data, self.limit + 1)]
        size = len(out[0])
        while layer.unconsumed_tail and size <= self.limit:
            more = layer.decompress(layer.unconsumed_tail, self.limit + 1 - size)
            if not more:
                break
            out.append(more)
            size += len(more)
        if size > self.limit or layer.unconsumed_tail:
            self.truncated = True
        return b"".join(out)

    @staticmethod
    def _flush(layer: Any) -> bytes:
        try:
            return bytes(layer.flush())
        except zlib.error as exc:
            raise ValueError(f"corrupt compressed body ({exc})") from None

    def _keep(self, data: bytes) -> None:
        room = self.limit - self._size
        if len(data) > room:
            data = data[:room]
            self.truncated = True
        self._parts.append(data)
        self._size += len(data)

    def value(self) -> bytes:
        """The decoded bytes kept (at most ``limit``); ``ValueError`` for a corrupt stream."""
        if not self.truncated and self._layers:
            data = b""
            for layer in self._layers:
                data = (self._decode(layer, data) if data else b"") + self._flush(layer)
                if self.truncated:
                    break
            else:
                self._keep(data)
        return b"".join(self._parts)
