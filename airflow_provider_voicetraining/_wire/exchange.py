"""What the I/O-free request flow and the transport exchange.

The flow (:mod:`.request_flow`) is a generator: it *yields* actions (send this request, sleep
this long, mint a token) and receives their outcomes; the transport (:mod:`.transports`)
performs them. Building, signing, retrying and decoding live in the flow, I/O in the transport.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from airflow_provider_voicetraining._wire.decoding import decode_object
from airflow_provider_voicetraining._wire.limits import MAX_OBJECT_BODY, MAX_REQUEST_ID

T = TypeVar("T")


@dataclass(frozen=True)
class FileBody:
    """A request body streamed from a local file (uploads can be hundreds of MB)."""

    path: str
    size: int


@dataclass(frozen=True, repr=False)
class WireRequest:
    """One attempt, ready to send: the transport must finish it by ``deadline`` or give up."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | FileBody | None
    #: wall-clock epoch by which the attempt (connect, headers and body) must be complete
    deadline: float
    #: the most decoded body bytes to accept for a success status
    max_body: int
    #: what logs and errors may show: method + path without query (presigned queries are secrets)
    display: str

    def __repr__(self) -> str:
        return f"WireRequest({self.display})"


class Headers(dict[str, str]):
    """Case-insensitive read access over a plain dict of response headers."""

    def get_ci(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.items():
            if key.lower() == wanted:
                return value
        return None


_PRINTABLE = frozenset(range(0x21, 0x7F))


@dataclass(frozen=True)
class WireResponse:
    """An HTTP answer, its body read up to the call's cap (``truncated`` when cut there)."""

    status: int
    headers: Headers
    body: bytes
    truncated: bool = False
    #: the parsed JSON object, once computed (the async transport parses large bodies in a
    #: worker thread so the event loop never waits on it)
    _parsed: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def request_id(self) -> str | None:
        """``X-Request-Id`` if it looks like one (printable, at most 64 characters)."""
        value = self.headers.get_ci("X-Request-Id")
        if value is None:
            return None
        if len(value) > MAX_REQUEST_ID or not set(value.encode("utf-8", "replace")) <= _PRINTABLE:
            return "(malformed)"
        return value

    def object(self) -> dict[str, Any]:
        """The body as a JSON object (``{}`` when empty); ``ValueError`` if it is not one."""
        if "value" not in self._parsed:
            self._parsed["value"] = decode_object(self.body, self.truncated)
        return self._parsed["value"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class TransportFailure:
    """No usable HTTP answer. ``sent`` tells whether the server may have processed the request:
    a refused connection or a connect timeout never reached it, a read timeout may have."""

    kind: str  # "connect", "connect_timeout", "read_timeout", "deadline", "protocol", "tls", "other"
    message: str
    sent: bool

    @property
    def permanent(self) -> bool:
        """A certificate that does not verify will not verify on the next attempt either."""
        return self.kind == "tls" and "CERTIFICATE_VERIFY_FAILED" in self.message


@dataclass(frozen=True)
class Send:
    request: WireRequest


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class MintToken:
    """Ask the transport for an IAM token: the cached one if another call minted it meanwhile,
    else a new one (minting is single-flight per credentials, see :mod:`.tokens`)."""


Action = Send | Sleep | MintToken
Flow = Generator[Action, Any, T]


@dataclass(frozen=True)
class ApiCall(Generic[T]):
    """One logical operation, before auth and retries.

    ``path`` is built only from validated values with each path parameter percent-encoded;
    ``query`` holds plain strings (the signer sorts and encodes them).
    """

    operation: str
    method: str
    path: str
    decode: Callable[[WireResponse], T]
    query: tuple[tuple[str, str], ...] = ()
    body: bytes | FileBody | None = None
    app_user_id: str | None = None
    #: "service" (MetaStudio, authenticated), "iam" (token endpoint, unauthenticated) or
    #: "absolute" (a presigned URL given in ``path``, unauthenticated)
    target: str = "service"
    #: May the call be repeated when the outcome is unknown (read timeout, 5xx)? Creating a job
    #: is not: it is retried only when the request surely never reached the service.
    idempotent: bool = True
    ok_status: frozenset[int] = frozenset({200})
    content_type: str = "application/json"
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    #: the most decoded body bytes accepted for a success status
    max_body: int = MAX_OBJECT_BODY
