"""Reading answers: JSON bodies and the service's ``error_code`` / ``error_msg``.

Pure functions of the bytes received. A body that cannot be read as a whole ends in
``ValueError`` (which the request flow turns into a retry or a
:class:`~.errors.VoiceTrainingResponseError`): invalid UTF-8 or JSON, a key given twice in one
object (``"state": "SUCCEED", "state": "FAILED"``: no "last one wins"), nesting deeper than
:data:`~.limits.MAX_JSON_DEPTH` (never a ``RecursionError``), a body cut at its size cap.

One broken value does not sink the answer: a number Python cannot hold (``1e999``, a
5,000-digit integer) becomes ``None`` and its text is kept in :attr:`JsonObject.unparsed`
(the models decide whether the field was essential), a lone surrogate in a string becomes
U+FFFD (it could not be encoded as UTF-8 in an event or a log line).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from airflow_provider_voicetraining._wire.limits import MAX_JSON_DEPTH


class Unparsed:
    """A JSON number Python cannot hold, as its text (only while a body is being parsed)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


class JsonObject(dict[str, Any]):
    """A parsed JSON object; :attr:`unparsed` maps the path of each value that could not be
    read (``create_time``, ``allocated_resource.expire_time``) to its raw text."""

    unparsed: dict[str, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unparsed = {}


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise ValueError(f"the key {_fixed(twice)[:40]!r} appears twice in one object")
    return data


_SURROGATE = re.compile("[\ud800-\udfff]")


def _fixed(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def _path(parent: str, key: object) -> str:
    return f"{parent}.{key}" if parent else str(key)


def _check_depth(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((v, depth + 1) for v in children if isinstance(v, dict | list))


def _clean(value: Any) -> dict[str, str]:
    """Fix strings and turn :class:`Unparsed` into ``None`` (in place); return ``{path: raw
    text}`` of the values that were turned. (Run only on bodies that need it.)"""
    unparsed: dict[str, str] = {}
    stack: list[tuple[Any, str]] = [(value, "")] if isinstance(value, dict | list) else []
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            if not "".join(item).isascii():
                renamed = {_fixed(k): v for k, v in item.items()}
                item.clear()
                item.update(renamed)
            entries: Any = item.items()
        else:
            entries = enumerate(item)
        changes: list[tuple[Any, Any]] = []
        for key, child in entries:
            if isinstance(child, dict | list):
                stack.append((child, _path(path, key)))
            elif isinstance(child, str):
                if not child.isascii():
                    fixed = _fixed(child)
                    if fixed is not child:
                        changes.append((key, fixed))
            elif isinstance(child, Unparsed):
                unparsed[_path(path, key)] = child.text
                changes.append((key, None))
        for key, new in changes:
            item[key] = new
    return unparsed


#: a JSON escape of a UTF-16 surrogate: the only way a lone surrogate gets into parsed text
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_json(body: bytes) -> Any:
    """Parse ``body`` (see the module docstring); ``ValueError`` if it cannot be read as a whole."""
    return _parse(body)[0]


def _parse(body: bytes) -> tuple[Any, dict[str, str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    unreadable: list[Unparsed] = []

    def read_float(text: str) -> float | Unparsed:
        value = float(text)
        if math.isfinite(value):
            return value
        unreadable.append(Unparsed(text))
        return unreadable[-1]

    def read_int(text: str) -> int | Unparsed:
        try:
            return int(text)
        except ValueError:  # more digits than int() converts
            unreadable.append(Unparsed(text))
            return unreadable[-1]

    def loads(read_ints: bool) -> Any:
        return json.loads(
            text,
            parse_float=read_float,
            parse_int=read_int if read_ints else None,
            parse_constant=_no_constants,
            object_pairs_hook=_unique_keys,
        )

    try:
        try:
            value = loads(read_ints=False)  # integers at C speed
        except ValueError as exc:
            if "integer string conversion" not in str(exc):
                raise
            value = loads(read_ints=True)  # a number too long for int(): that value only
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    if isinstance(value, str):
        return _fixed(value), {}
    if isinstance(value, Unparsed):
        return None, {"": value.text}
    _check_depth(value)
    if unreadable or _SURROGATE_ESCAPE.search(text):
        return value, _clean(value)
    return value, {}


def decode_object(body: bytes, truncated: bool = False) -> JsonObject:
    """A JSON object body, or ``{}`` for the documented empty 200s (commit, delete)."""
    if truncated:
        raise ValueError("the answer is larger than the provider accepts for this call")
    if not body.strip():
        return JsonObject()
    data, unparsed = _parse(body)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    result = JsonObject(data)
    result.unparsed = unparsed
    return result


def extract_error(body: bytes) -> tuple[str | None, str | None]:
    """``(error_code, error_msg)`` the way the official SDK reads them.

    ``error_code/error_msg``, ``errorCode/errorMsg``, ``code/message``, or one nested object
    holding one of those pairs; for a body that is not JSON, its text as the message. Values
    are returned whole: the caller bounds and redacts them.
    """
    try:
        data = parse_json(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return None, (text or None)
    if not isinstance(data, dict):
        return None, None
    candidates = [data] + [v for v in data.values() if isinstance(v, dict)]
    for item in candidates:
        for code_key, msg_key in (
            ("error_code", "error_msg"),
            ("errorCode", "errorMsg"),
            ("code", "message"),
        ):
            if code_key in item or msg_key in item:
                code = item.get(code_key)
                msg = item.get(msg_key)
                return (None if code is None else str(code)), (None if msg is None else str(msg))
    return None, None
