"""Huawei Cloud AK/SK request signing, ``SDK-HMAC-SHA256``, both directions.

Byte-identical to ``huaweicloudsdkcore.signer.Signer`` (3.1.219): the tests compare it with the
official signer on the published vectors and on generated requests. :func:`verify` is the
emulator's side, from the received request alone, as API Gateway does. Pure: no I/O, no Airflow.
The official signer's surprising rules (canonical URI, query encoding, which headers are signed)
are listed in docs/design.md.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
HEADER_DATE = "X-Sdk-Date"
HEADER_CONTENT_SHA256 = "X-Sdk-Content-Sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#: The clock skew API Gateway accepts between ``X-Sdk-Date`` and its own clock (15 minutes):
#: a client whose signed calls work may be this far off, so every comparison of the local clock
#: with a time the service stamped (a job's ``create_time``) tolerates as much.
MAX_CLOCK_SKEW = 15 * 60.0


def _encode(value: str) -> str:
    return quote(value, safe="~")


def format_sdk_date(epoch_seconds: float | None = None) -> str:
    """``X-Sdk-Date`` for ``epoch_seconds`` (now by default), UTC, ``YYYYMMDDTHHMMSSZ``."""
    return time.strftime(DATE_FORMAT, time.gmtime(time.time() if epoch_seconds is None else epoch_seconds))


def parse_sdk_date(value: str) -> float:
    """Epoch seconds of an ``X-Sdk-Date`` value; ``ValueError`` if malformed."""
    return float(calendar.timegm(time.strptime(value, DATE_FORMAT)))


@functools.lru_cache(maxsize=1024)
def canonical_uri(path: str) -> str:
    """Cached: a poller signs the same few paths over and over (pure function of ``path``)."""
    segments = unquote(path).split("/")
    uri = "/".join(_encode(s) for s in segments)
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """The canonical query string, which is also the exact query to send."""
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params))


def parse_query(raw_query: str) -> list[tuple[str, str]]:
    """Split a wire query the way API Gateway does: on ``&`` and the first ``=``, ``unquote``
    (a literal ``+`` stays a plus)."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return pairs


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    return sorted(name.lower() for name in headers if "_" not in name)


def canonical_headers(headers: Mapping[str, str], names: Iterable[str]) -> str:
    lowered = {name.lower(): str(value).strip() for name, value in headers.items()}
    return "".join(f"{name}:{lowered[name]}\n" for name in names)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _wire_value(value: str) -> str:
    """A header value as the official signer holds it after canonicalizing: stripped, and UTF-8
    bytes re-read as latin-1 (how ``requests`` then puts them on the wire)."""
    return str(value).strip().encode("utf-8").decode("iso-8859-1")


def payload_hash(body: bytes | None, headers: Mapping[str, str]) -> str:
    if not body:
        return EMPTY_SHA256
    declared = _header(headers, HEADER_CONTENT_SHA256)
    # The official signer reads this header after canonicalizing header values (stripped).
    if declared is not None and _wire_value(declared):
        return _wire_value(declared)
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_names: list[str],
    body: bytes | None,
) -> str:
    """Build the canonical request; ``query`` is already canonical (see :func:`canonical_query`)."""
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            query,
            canonical_headers(headers, signed_names),
            ";".join(signed_names),
            payload_hash(body, headers),
        ]
    )


def string_to_sign(canonical: str, sdk_date: str) -> str:
    """The official signer parses ``X-Sdk-Date`` and re-formats it here (``2025011T...`` becomes
    ``20250101T...``), while the canonical headers keep the value as sent."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{_normalize_sdk_date(sdk_date)}\n{digest}"


@functools.lru_cache(maxsize=64)
def _normalize_sdk_date(sdk_date: str) -> str:
    """``strptime`` + ``strftime`` of ``X-Sdk-Date``, cached (one value per second; ``strptime``
    is the slowest step of signing). A malformed value raises ``ValueError`` every time."""
    return dt.datetime.strptime(sdk_date, DATE_FORMAT).strftime(DATE_FORMAT)


def compute_signature(secret_key: str, to_sign: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def prepare_headers(headers: Mapping[str, str], host: str, sdk_date: str | None = None) -> dict[str, str]:
    """Add what the official signer adds before signing: ``X-Sdk-Content-Sha256`` for non-JSON
    bodies, ``X-Sdk-Date`` unless present, ``Host`` unless present."""
    out = dict(headers)
    # Case-sensitive on purpose: the official signer looks up exactly "Content-Type".
    content_type = out.get("Content-Type")
    if content_type and not content_type.startswith(("application/json", "application/bson")):
        out[HEADER_CONTENT_SHA256] = UNSIGNED_PAYLOAD
    if _header(out, HEADER_DATE) is None:
        out[HEADER_DATE] = sdk_date or format_sdk_date()
    if _header(out, "Host") is None:
        out["Host"] = host
    return out


def sign(
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes | None,
    host: str,
    access_key: str,
    secret_key: str,
) -> dict[str, str]:
    """Return ``headers`` plus everything signing adds (``X-Sdk-Date``, ``Host``, ``Authorization``).

    ``path`` is the path as sent (path parameters already percent-encoded); ``query`` the
    canonical query string (:func:`canonical_query`), which is also what must be sent.
    """
    out = prepare_headers(headers, host)
    names = signed_header_names(out)
    canonical = canonical_request(method, path, query, out, names, body)
    sdk_date = _header(out, HEADER_DATE)
    assert sdk_date is not None
    signature = compute_signature(secret_key, string_to_sign(canonical, sdk_date))
    out["Authorization"] = (
        f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return out


@dataclass(frozen=True)
class ParsedAuthorization:
    algorithm: str
    access_key: str
    signed_headers: list[str]
    signature: str


def parse_authorization(value: str) -> ParsedAuthorization:
    """Parse ``SDK-HMAC-SHA256 Access=..., SignedHeaders=a;b, Signature=...``; ``ValueError`` if malformed."""
    algorithm, _, rest = value.strip().partition(" ")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            raise ValueError("malformed Authorization header")
        fields[key] = val
    try:
        return ParsedAuthorization(
            algorithm=algorithm,
            access_key=fields["Access"],
            signed_headers=[h for h in fields["SignedHeaders"].split(";") if h],
            signature=fields["Signature"],
        )
    except KeyError as exc:
        raise ValueError(f"Authorization header lacks {exc.args[0]}") from None


def verify(
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes | None,
    auth: ParsedAuthorization,
    secret_key: str,
) -> bool:
    """Recompute the signature from the received request and compare in constant time.

    ``path`` is the raw request path as received, ``raw_query`` the raw query string; only the
    headers the client listed in ``SignedHeaders`` are used (their values as received).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    if any(name not in lowered for name in auth.signed_headers):
        return False
    canonical = canonical_request(
        method,
        path,
        canonical_query(parse_query(raw_query)),
        lowered,
        auth.signed_headers,
        body,
    )
    try:
        to_sign = string_to_sign(canonical, lowered.get(HEADER_DATE.lower(), ""))
    except ValueError:  # missing or malformed X-Sdk-Date
        return False
    expected = compute_signature(secret_key, to_sign)
    return hmac.compare_digest(expected, auth.signature)
