"""The slice of IAM the provider needs: password tokens and project lookup (reference 4b, 3).

``POST /v3/auth/tokens`` with the password method and a project scope (by id or by name)
answers 201, the token in ``X-Subject-Token`` and Keystone-shaped JSON; ``?nocatalog=true``
(any non-empty value) omits the catalog. ``GET /v3/projects?name=`` (AK/SK signed) is what
the official SDK calls to discover a project id when none is configured.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from metastudio_emulator.gateway import (
    RequestContext,
    RouteSpec,
    api_endpoint,
    base_url,
    query_dict,
)
from metastudio_emulator.request_checks import parse_json_body
from metastudio_emulator.responses import ApiError, json_response
from metastudio_emulator.runtime import EmulatorRuntime

WRONG_CREDENTIALS = "The username or password is wrong."


def iso_micro(epoch_seconds: float) -> str:
    """IAM's timestamp format: ``2020-01-04T09:05:22.701000Z``."""
    whole = int(epoch_seconds)
    micro = round((epoch_seconds - whole) * 1_000_000)
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micro:06d}Z"


def _iam_error(status: int, message: str) -> ApiError:
    return ApiError(status, "IAM", message, style="iam")


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


class IamApi:
    def __init__(self, runtime: EmulatorRuntime) -> None:
        self.rt = runtime

    def _check_user(self, user: Any) -> None:
        cfg = self.rt.config
        if not isinstance(user, dict):
            raise _iam_error(400, "auth.identity.password.user is required.")
        name_ok = user.get("name") == cfg.iam_user or user.get("id") == cfg.iam_user_id
        domain = user.get("domain")
        domain_ok = user.get("id") == cfg.iam_user_id or (
            isinstance(domain, dict)
            and (domain.get("name") == cfg.domain_name or domain.get("id") == cfg.domain_id)
        )
        password = user.get("password")
        if not isinstance(password, str):
            raise _iam_error(400, "auth.identity.password.user.password is required.")
        password_ok = secrets.compare_digest(password.encode(), cfg.iam_password.encode())
        if not (name_ok and domain_ok and password_ok):
            raise _iam_error(401, WRONG_CREDENTIALS)

    def _project(self, scope: Any) -> tuple[str, str]:
        project = _dig(scope, "project")
        if not isinstance(project, dict):
            raise _iam_error(
                400,
                "A project scope is required: MetaStudio is a project-level service (auth.scope.project).",
            )
        projects = self.rt.config.projects()
        if project.get("id"):
            if project["id"] in projects:
                return project["id"], projects[project["id"]]
        elif project.get("name"):
            for pid, name in projects.items():
                if name == project["name"]:
                    return pid, name
        else:
            raise _iam_error(400, "auth.scope.project needs an id or a name.")
        raise _iam_error(
            401, "The request you have made requires authentication: no such project for the user."
        )

    async def tokens(self, request: Request, ctx: RequestContext) -> Response:
        try:
            body = parse_json_body(await request.body(), required=True)
        except ApiError as err:
            raise _iam_error(400, err.message) from None
        identity = _dig(body, "auth", "identity")
        methods = _dig(identity, "methods")
        if not isinstance(methods, list) or "password" not in methods:
            raise _iam_error(400, "Only the password method is supported (auth.identity.methods).")
        self._check_user(_dig(identity, "password", "user"))
        project_id, project_name = self._project(_dig(body, "auth", "scope"))
        ctx.auth = "iam_password"
        token, info = self.rt.issue_token(project_id)
        cfg = self.rt.config
        domain = {"id": cfg.domain_id, "name": cfg.domain_name}
        url = base_url(request)
        catalog: list[dict[str, Any]] = []
        if not query_dict(request).get("nocatalog"):
            catalog = [
                {
                    "type": service,
                    "id": uuid.uuid5(uuid.NAMESPACE_URL, service).hex,
                    "name": name,
                    "endpoints": [
                        {
                            "id": uuid.uuid5(uuid.NAMESPACE_URL, f"{service}/{cfg.region}").hex,
                            "interface": "public",
                            "region": cfg.region,
                            "region_id": cfg.region,
                            "url": url,
                        }
                    ],
                }
                for service, name in (("metastudio", "metastudio"), ("identity", "iam"))
            ]
        payload = {
            "token": {
                "expires_at": iso_micro(info.expires_at),
                "issued_at": iso_micro(info.issued_at),
                "methods": ["password"],
                "catalog": catalog,
                "project": {"id": project_id, "name": project_name, "domain": domain},
                "roles": [{"id": "0", "name": "op_service"}, {"id": "1", "name": "te_admin"}],
                "user": {
                    "id": cfg.iam_user_id,
                    "name": cfg.iam_user,
                    "domain": domain,
                    "password_expires_at": "",
                },
            }
        }
        return json_response(
            payload,
            status=201,
            headers={"X-Subject-Token": token, "X-IAM-Trace-Id": uuid.uuid4().hex},
        )

    async def projects(self, request: Request, ctx: RequestContext) -> Response:
        wanted = query_dict(request).get("name")
        projects = [
            {
                "id": pid,
                "name": name,
                "domain_id": self.rt.config.domain_id,
                "enabled": True,
                "is_domain": False,
                "parent_id": self.rt.config.domain_id,
                "description": "",
            }
            for pid, name in self.rt.config.projects().items()
            if wanted is None or wanted == name
        ]
        return json_response(
            {
                "projects": projects,
                "links": {"self": f"{base_url(request)}/v3/projects", "next": None, "previous": None},
            },
            headers={"X-IAM-Trace-Id": uuid.uuid4().hex},
        )

    def routes(self) -> list[Route]:
        return [
            Route(
                "/v3/auth/tokens",
                api_endpoint(self.rt, RouteSpec("iam_tokens", auth="none", style="iam"), self.tokens),
                methods=["POST"],
                name="iam_tokens",
            ),
            Route(
                "/v3/projects",
                api_endpoint(self.rt, RouteSpec("iam_projects", auth="aksk", style="iam"), self.projects),
                methods=["GET"],
                name="iam_projects",
            ),
        ]
