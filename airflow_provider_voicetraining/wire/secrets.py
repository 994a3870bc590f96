"""A holder for credentials that cannot leak by accident.

``repr``, ``str`` and f-strings show ``***``; the value is only reachable through
:meth:`Secret.reveal`, which the signer and the transports call at the last moment.
Pickling and JSON serialization refuse, so a secret can never travel into trigger kwargs
or XCom by mistake.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any, NoReturn


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


class Redactor:
    """Replaces known secret values in text (server messages, exception text) with ``***``.

    The gateway echoes the AK in some error messages ("Get secretKey failed,ak:..."), and a
    misbehaving proxy could echo anything; such text goes through here before it reaches an
    exception or a log line.
    """

    __slots__ = ("_values",)

    def __init__(self, secrets: Iterable[str | Secret | None] = ()) -> None:
        values = {s.reveal() if isinstance(s, Secret) else s for s in secrets}
        self._values = sorted((v for v in values if v), key=len, reverse=True)

    def add(self, value: str | Secret | None) -> None:
        raw = value.reveal() if isinstance(value, Secret) else value
        if raw and raw not in self._values:
            self._values.append(raw)
            self._values.sort(key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        for value in self._values:
            if value in text:
                text = text.replace(value, "***")
        return text
