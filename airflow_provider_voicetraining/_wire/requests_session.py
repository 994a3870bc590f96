"""The ``requests.Session`` that ``VoiceTrainingHook.get_conn()`` returns, bound to one endpoint.

It adds to a plain session only what every MetaStudio call needs and ``requests`` does not do:

* a path starting with ``/`` is relative to the endpoint (``session.get("/v1/...")``);
* a default ``(connect, read)`` timeout on every request that passes none (``requests`` has
  none, so a silent server would hold a call forever);
* the connection's ``verify`` wins over ``REQUESTS_CA_BUNDLE`` (``requests`` lets the
  environment override a session's CA bundle);
* redirects: a hop that stays on the endpoint is authenticated again for its new URL and method
  (a signature covers both); a hop that leaves it carries none of the endpoint's headers
  (:data:`ENDPOINT_HEADERS`). ``requests`` itself drops only ``Authorization``, and only when
  the host changes: an ``X-Auth-Token`` or ``X-Security-Token`` would follow to any host.

Signing and tokens belong to the auth (:class:`~airflow_provider_voicetraining.auth.MetaStudioAuth`),
which authenticates only requests to the endpoint.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

import requests

#: What the auth sets on a request to the endpoint: the credentials, and what signing adds.
SIGNATURE_HEADERS = (
    "Authorization",
    "X-Auth-Token",
    "X-Security-Token",
    "X-Sdk-Date",
    "X-Sdk-Content-Sha256",
    "X-Project-Id",
    "Host",
)
#: Headers that never follow a redirect to another origin (the end user's id included).
ENDPOINT_HEADERS = (*SIGNATURE_HEADERS, "X-App-UserId")

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url``, lowercased, default ports made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def strip_headers(headers: MutableMapping[str, Any], names: tuple[str, ...]) -> None:
    """Remove ``names`` from ``headers`` (case-insensitively; ``requests`` headers are)."""
    for name in names:
        headers.pop(name, None)


class EndpointSession(requests.Session):
    """A session for one MetaStudio endpoint (see the module docstring).

    :param endpoint: ``scheme://host[:port]`` the relative paths resolve against.
    :param auth: authenticates requests to the endpoint (a ``MetaStudioAuth``).
    :param verify: TLS verification: a bool or the path of a CA bundle.
    :param timeout: ``(connect, read)`` seconds for requests that pass no ``timeout``.
    :param user_agent: the ``User-Agent`` header.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        auth: requests.auth.AuthBase,
        verify: bool | str,
        timeout: tuple[float, float],
        user_agent: str,
    ) -> None:
        super().__init__()
        self.endpoint = endpoint.rstrip("/")
        self.auth = auth
        self.verify = verify
        self.default_timeout = timeout
        self.headers["User-Agent"] = user_agent
        self._origin = origin(self.endpoint)

    def __repr__(self) -> str:
        return f"EndpointSession(endpoint={self.endpoint!r}, auth={self.auth!r})"

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """``requests.Session.request``; a ``url`` starting with ``/`` is relative to the endpoint."""
        if isinstance(url, str) and url.startswith("/") and not url.startswith("//"):
            url = self.endpoint + url
        if kwargs.get("verify") is None:
            kwargs["verify"] = self.verify
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """``requests.Session.send`` with the default timeout when the caller gives none."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().send(request, **kwargs)

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """Before each redirect hop: re-authenticate on the endpoint, strip everything off it."""
        url = prepared_request.url or ""
        if origin(url) != self._origin:
            strip_headers(prepared_request.headers, ENDPOINT_HEADERS)
            # netrc credentials of that host, if any
            super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
            return
        strip_headers(prepared_request.headers, SIGNATURE_HEADERS)
        if self.auth is not None:
            prepared_request.prepare_auth(self.auth)
