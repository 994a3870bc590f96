"""A holder for credentials that cannot leak by accident.

``repr``, ``str`` and f-strings show ``***``; the value is only reachable through
:meth:`Secret.reveal`, which the signer and the transports call at the last moment.
Pickling and JSON serialization refuse, so a secret can never travel into trigger kwargs
or XCom by mistake.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterable
from typing import Any, NoReturn
from urllib.parse import quote

from airflow_provider_voicetraining._wire.limits import MAX_MESSAGE, MAX_SERVER_TEXT


class Secret:
    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.reveal().encode(), other.reveal().encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret values cannot be pickled or serialized")

    def __bool__(self) -> bool:
        return bool(self._value)


#: Values that travel in credentials-bearing text even when the secret itself is unknown here:
#: an echoed ``Authorization`` header's signature, a presigned URL's signature.
_CREDENTIAL_PATTERNS = re.compile(
    r"(?P<key>Signature=|X-Amz-Signature=|signature=|X-Auth-Token[\"']?\s*[:=]\s*[\"']?"
    r"|X-Subject-Token[\"']?\s*[:=]\s*[\"']?|X-Security-Token[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>[^\s,&\"'<>;]+)"
)
#: A secret cut by a bound still leaks its start; the shortest start worth hiding.
_MIN_PARTIAL = 4
#: The shortest run of a secret's characters a log filter hides wherever it appears.
MIN_FRAGMENT = 10
#: The shortest whitespace-separated part of a secret hidden on its own (an AK has 8 or more).
MIN_SECRET_PART = 8


def secret_variants(value: str) -> set[str]:
    """The forms in which ``value`` can show up in text: as given, without surrounding
    whitespace, each whitespace-separated part (of at least :data:`MIN_SECRET_PART`
    characters), and each of those percent-encoded, JSON-escaped and as a bytes ``repr``
    shows it (httpcore's DEBUG lines)."""
    cores = {value, value.strip(), *(p for p in value.split() if len(p) >= MIN_SECRET_PART)}
    out: set[str] = set()
    for core in (c for c in cores if c):
        out.add(core)
        out.add(quote(core, safe=""))
        out.add(json.dumps(core)[1:-1])
        out.add(repr(core.encode("utf-8", "surrogateescape"))[2:-1])
    return out


class Redactor:
    """Replaces known secret values in text (server messages, exception text) with ``***``.

    The gateway echoes the AK in some error messages ("Get secretKey failed,ak:..."), and a
    misbehaving proxy could echo anything; such text goes through here before it reaches an
    exception, a log line or a trigger event: :meth:`clip` for each piece of server text,
    :meth:`final` for the assembled message.

    Each value is hidden in all its :func:`secret_variants`, and every value added to any
    redactor is also added to :data:`EVERY_SECRET`, which the HTTP libraries' log filter uses
    (:mod:`.log_scrub`).

    :param secrets: the values to hide (more can be added later, e.g. minted tokens).
    """

    __slots__ = ("_shared", "_values")

    def __init__(self, secrets: Iterable[str | Secret | None] = (), *, shared: bool = True) -> None:
        self._values: list[str] = []
        self._shared = shared
        for secret in secrets:
            self.add(secret)

    def add(self, value: str | Secret | None) -> None:
        """Hide ``value`` (in all its variants) from now on."""
        raw = value.reveal() if isinstance(value, Secret) else value
        if not raw:
            return
        new = secret_variants(raw) - set(self._values)
        if new:
            self._values.extend(new)
            self._values.sort(key=len, reverse=True)
        if self._shared:
            EVERY_SECRET.add(raw)

    def __call__(self, text: str | None) -> str | None:
        """``text`` with every known secret and credential-looking value replaced by ``***``."""
        if not text:
            return text
        for value in self._values:
            if value in text:
                text = text.replace(value, "***")
        return _CREDENTIAL_PATTERNS.sub(lambda m: f"{m.group('key')}***", text)

    def clip(self, text: str | None, limit: int = MAX_SERVER_TEXT) -> str | None:
        """Redact ``text``, bound it to ``limit`` characters, and hide a secret the cut left
        half visible (the redaction runs on the whole text first, so only a secret that
        straddled an earlier cut, e.g. the body's size cap, can still show its start)."""
        text = self(text)
        if text is None:
            return None
        text = "".join(c if c.isprintable() else " " for c in text[: limit * 2])
        if len(text) > limit:
            text = text[: limit - 3] + "..."
        return self._hide_partial_tail(text)

    def final(self, text: str) -> str:
        """An assembled message, redacted as a whole and bounded to ``MAX_MESSAGE``."""
        return self.clip(text, MAX_MESSAGE) or ""

    def hide_fragments(self, text: str, size: int = MIN_FRAGMENT) -> str:
        """``text`` with every run of at least ``size`` characters of a known secret hidden
        (a server echoing a secret cut short, e.g. the first 60 characters of a token in
        ``X-Request-Id``). A search per window of each secret: for log filters, not hot paths."""
        for secret in self._values:
            for i in range(len(secret) - size + 1):
                window = secret[i : i + size]
                at = text.find(window)
                while at != -1:
                    start, end, left, right = at, at + size, i, i + size
                    while start > 0 and left > 0 and text[start - 1] == secret[left - 1]:
                        start, left = start - 1, left - 1
                    while end < len(text) and right < len(secret) and text[end] == secret[right]:
                        end, right = end + 1, right + 1
                    text = text[:start] + "***" + text[end:]
                    at = text.find(window)
        return text

    def _hide_partial_tail(self, text: str) -> str:
        body = text[:-3] if text.endswith("...") else text
        for value in self._values:
            for size in range(min(len(value) - 1, len(body)), _MIN_PARTIAL - 1, -1):
                if body.endswith(value[:size]):
                    return body[:-size] + "***" + text[len(body) :]
        return text


#: Every secret any redactor of this process was given: what log filters hide by value.
EVERY_SECRET = Redactor(shared=False)
