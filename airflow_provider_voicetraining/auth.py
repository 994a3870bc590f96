"""``MetaStudioAuth``: authenticate any ``requests`` call to MetaStudio, in Airflow or outside it.

``VoiceTrainingHook.get_conn()`` returns a session that uses it; outside Airflow::

    import requests
    from airflow_provider_voicetraining.auth import MetaStudioAuth

    auth = MetaStudioAuth(project_id, access_key=ak, secret_key=sk)  # or user_name/password, or token
    requests.get(f"{auth.endpoint}/v1/{project_id}/digital-assets/{asset_id}", auth=auth, timeout=30)

The typed calls' code does the work: the same ``SDK-HMAC-SHA256`` signer (byte-identical to the
official SDK's) and, with an IAM user, the same process-wide token cache, single-flight minting
and refresh. Importing this module does not import Airflow.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase

from airflow_provider_voicetraining._wire import signing
from airflow_provider_voicetraining._wire.errors import VoiceTrainingValidationError
from airflow_provider_voicetraining._wire.requests_session import (
    ENDPOINT_HEADERS,
    SIGNATURE_HEADERS,
    origin,
    strip_headers,
)
from airflow_provider_voicetraining._wire.retry import RetryPolicy
from airflow_provider_voicetraining._wire.secrets import Redactor, Secret
from airflow_provider_voicetraining._wire.settings import (
    AUTH_AKSK,
    AUTH_PASSWORD,
    AUTH_TOKEN,
    ConnectionSettings,
    parse_connection,
)
from airflow_provider_voicetraining._wire.tokens import TOKENS, cache_key
from airflow_provider_voicetraining._wire.transports import SyncTransport

__all__ = ["MetaStudioAuth"]

log = logging.getLogger(__name__)

#: Headers ``requests`` and urllib3 manage for the connection: never signed (the official SDK
#: signs its request before ``requests`` adds them, and a proxy may rewrite them).
_UNSIGNED = frozenset(
    {
        "accept",
        "accept-encoding",
        "authorization",
        "connection",
        "content-length",
        "cookie",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
#: Set by the auth itself on every signed request (a caller's own values are replaced).
_SET_BY_SIGNING = frozenset(h.lower() for h in SIGNATURE_HEADERS)


class _Credentials:
    """The constructor's arguments in the shape of an Airflow connection.

    They pass the very checks a connection does (one definition of what is valid).
    """

    conn_id = ""
    host = None

    def __init__(self, login: str | None, password: str | None, extra: dict[str, Any]) -> None:
        self.login = login
        self.password = password
        self.extra_dejson = {k: v for k, v in extra.items() if v is not None}


class MetaStudioAuth(AuthBase):
    """A ``requests`` auth that signs with AK/SK or sends an IAM token, like the official SDK.

    Give one set of credentials: ``access_key`` + ``secret_key`` (``security_token`` too for
    temporary ones), or ``user_name`` + ``password`` + ``domain_name`` (an IAM user: tokens are
    minted, cached per process and refreshed as the hook does), or a ready ``token``.

    Only requests to ``endpoint`` are authenticated (any other host gets no credential), and a
    redirect away from it keeps none. Each request to the endpoint gets its query in canonical
    form (sorted, ``%20`` for a space; a ``+`` is read as a space, as ``requests`` encodes
    ``params``), ``X-App-UserId`` unless it has one, and ``X-Project-Id`` + ``X-Sdk-Date`` +
    ``X-Security-Token`` + ``Authorization`` (AK/SK) or ``X-Auth-Token`` (token modes). With an
    IAM user, a 401 drops the token, mints a new one and resends the request once. AK/SK signs
    the body, so it must be bytes, text or ``json=`` (not a stream).

    :param project_id: the project of the MetaStudio region.
    :param access_key: Access Key ID (AK/SK mode).
    :param secret_key: Secret Access Key (AK/SK mode).
    :param security_token: of temporary AK/SK credentials; sent as ``X-Security-Token``.
    :param user_name: IAM user name (token minting).
    :param password: IAM user's password (token minting).
    :param domain_name: account (domain) name owning the IAM user (token minting).
    :param token: a ready IAM token (``X-Subject-Token``), used as it is.
    :param region: region id (default ``cn-north-4``): gives the default endpoints.
    :param endpoint: MetaStudio base URL (default ``https://metastudio.{region}.myhuaweicloud.com``).
    :param iam_endpoint: IAM base URL for minting (default ``https://iam.{region}.myhuaweicloud.com``).
    :param app_user_id: default ``X-App-UserId`` (a request's own header wins).
    :param verify: TLS verification of the IAM endpoint when minting: bool or CA bundle path.
    """

    def __init__(
        self,
        project_id: str,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        security_token: str | None = None,
        user_name: str | None = None,
        password: str | None = None,
        domain_name: str | None = None,
        token: str | None = None,
        region: str | None = None,
        endpoint: str | None = None,
        iam_endpoint: str | None = None,
        app_user_id: str | None = None,
        verify: bool | str = True,
    ) -> None:
        modes = [
            mode
            for mode, given in (
                (AUTH_AKSK, access_key or secret_key or security_token),
                (AUTH_PASSWORD, user_name or password or domain_name),
                (AUTH_TOKEN, token),
            )
            if given
        ]
        if len(modes) != 1:
            raise VoiceTrainingValidationError(
                "MetaStudioAuth credentials",
                "name no auth mode" if not modes else f"mix auth modes {modes}",
                "give access_key + secret_key, or user_name + password + domain_name, or token",
            )
        auth_type = modes[0]
        login, secret = {
            AUTH_AKSK: (access_key, secret_key),
            AUTH_PASSWORD: (user_name, password),
            AUTH_TOKEN: (None, token),
        }[auth_type]
        extra = {
            "auth_type": auth_type,
            "project_id": project_id,
            "region": region,
            "endpoint": endpoint,
            "iam_endpoint": iam_endpoint,
            "domain_name": domain_name,
            "security_token": security_token,
            "app_user_id": app_user_id,
            "verify": verify,
        }
        self._bind(parse_connection(_Credentials(login, secret, extra), named=False), None)

    @classmethod
    def from_settings(
        cls, settings: ConnectionSettings, transport: SyncTransport | None = None
    ) -> MetaStudioAuth:
        """Build the auth of a validated connection (``VoiceTrainingHook.settings``).

        :param settings: the connection.
        :param transport: mints IAM tokens (the hook passes its own, which masks them in Airflow);
            default: a private one per mint.
        """
        auth = cls.__new__(cls)
        auth._bind(settings, transport)
        return auth

    def _bind(self, settings: ConnectionSettings, transport: SyncTransport | None) -> None:
        self._settings = settings
        self._transport = transport
        self._origin = origin(settings.endpoint)
        self._token_key = cache_key(settings) if settings.auth_type == AUTH_PASSWORD else ""

    def __repr__(self) -> str:
        s = self._settings
        return (
            f"MetaStudioAuth(auth_type={s.auth_type!r}, project_id={s.project_id!r}, endpoint={s.endpoint!r})"
        )

    @property
    def endpoint(self) -> str:
        """The MetaStudio base URL this auth authenticates requests to."""
        return self._settings.endpoint

    @property
    def project_id(self) -> str:
        """The project (what ``{project_id}`` in an API path stands for)."""
        return self._settings.project_id

    # ------------------------------------------------------------------ each request
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Authenticate ``r`` if it goes to the endpoint (``requests`` calls this)."""
        url = r.url or ""
        if origin(url) != self._origin:
            return r  # credentials go to the endpoint only
        scheme, netloc, path, query, _fragment = urlsplit(url)
        path = path or "/"
        canonical = signing.canonical_query(parse_qsl(query, keep_blank_values=True))
        r.url = urlunsplit((scheme, netloc, path, canonical, ""))
        if self._settings.app_user_id and "X-App-UserId" not in r.headers:
            r.headers["X-App-UserId"] = self._settings.app_user_id
        if self._on_response not in r.hooks["response"]:
            r.register_hook("response", self._on_response)  # type: ignore[no-untyped-call]
        if self._settings.auth_type == AUTH_AKSK:
            self._sign(r, path, canonical, netloc.rpartition("@")[2])
        else:
            r.headers["X-Auth-Token"] = self._token().reveal()
        return r

    def _sign(self, r: requests.PreparedRequest, path: str, query: str, host: str) -> None:
        settings = self._settings
        assert settings.access_key is not None and settings.secret_key is not None
        body = r.body
        if isinstance(body, str):
            body = body.encode("utf-8")  # the bytes hashed are the bytes sent
            r.body = body
        elif body is not None and not isinstance(body, bytes):
            raise VoiceTrainingValidationError(
                "request body",
                f"is a {type(body).__name__}, which AK/SK signing cannot hash without reading it",
                "pass the body as bytes, text or json=...",
            )
        headers = {
            name: value.decode("latin-1") if isinstance(value, bytes) else value
            for name, value in r.headers.items()
            if name.lower() not in _UNSIGNED and name.lower() not in _SET_BY_SIGNING
        }
        content_sha256 = r.headers.get(signing.HEADER_CONTENT_SHA256)
        if content_sha256 is not None:  # the caller's own choice (UNSIGNED-PAYLOAD) stands
            headers[signing.HEADER_CONTENT_SHA256] = content_sha256
        headers["X-Project-Id"] = settings.project_id
        if settings.security_token is not None:
            headers["X-Security-Token"] = settings.security_token.reveal()
        headers[signing.HEADER_DATE] = signing.format_sdk_date()
        headers["Host"] = host
        r.headers.update(
            signing.sign(
                method=r.method or "GET",
                path=path,
                query=query,
                headers=headers,
                body=body or None,
                host=host,
                access_key=settings.access_key.reveal(),
                secret_key=settings.secret_key.reveal(),
            )
        )

    # ------------------------------------------------------------------ tokens
    def _token(self) -> Secret:
        settings = self._settings
        if settings.auth_type == AUTH_TOKEN:
            assert settings.token is not None
            return settings.token
        cached = TOKENS.valid(self._token_key)
        if cached is not None:
            return cached
        if self._transport is not None:
            return self._transport.token()
        policy = RetryPolicy.for_connection(settings)
        transport = SyncTransport(settings, policy, Redactor(settings.secrets()))
        try:
            return transport.token()
        finally:
            transport.close()

    # ------------------------------------------------------------------ each response
    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code == 401 and self._token_key:
            return self._remint(response, **kwargs)
        self._guard_redirect(response)
        return response

    def _guard_redirect(self, response: requests.Response) -> None:
        """Strip every endpoint header from the next hop's copy of a request redirected away.

        ``requests`` drops only ``Authorization``, and only when the host changes.
        """
        location = response.headers.get("location")
        if response.is_redirect and location and origin(urljoin(response.url, location)) != self._origin:
            strip_headers(response.request.headers, ENDPOINT_HEADERS)

    def _remint(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """Drop a refused token, mint a new one and resend once (the hook's rule).

        The hook's first re-mint of a call is free; a session makes no retries, so it is the only
        one: a second 401 is the answer.
        """
        request = response.request
        used = request.headers.get("X-Auth-Token")
        if not used or not (request.body is None or isinstance(request.body, bytes | str)):
            return response  # not ours, or a streamed body that cannot be sent twice
        TOKENS.drop(self._token_key, Secret(used if isinstance(used, str) else used.decode("latin-1")))
        log.info("MetaStudio %s: token rejected (HTTP 401); minting a new one", request.method)
        retry = request.copy()
        retry.headers["X-Auth-Token"] = self._token().reveal()
        response.content  # noqa: B018 - read the body so the connection goes back to the pool
        response.close()
        answer: requests.Response = response.connection.send(retry, **kwargs)
        answer.history.append(response)
        answer.request = retry
        self._guard_redirect(answer)
        return answer
