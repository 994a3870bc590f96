"""Control plane under ``/_emulator/``: unauthenticated, never faulted, never logged.

Tests drive the emulator through these routes (or :class:`.control.EmulatorControl`), which
works the same for a server in a thread and one in another process.

=======  =================================  ==============================================
Method   Path                               Purpose
=======  =================================  ==============================================
GET      /_emulator/health                  liveness + version + project
POST     /_emulator/reset                   back to the startup state
GET      /_emulator/jobs                    internal records of every job
POST     /_emulator/jobs                    seed a job (any fields, any state)
GET      /_emulator/jobs/{id}               internal record of one job
POST     /_emulator/jobs/{id}/outcome       ``{"outcome": ..., **details}``; null clears
GET      /_emulator/faults                  current rules, seed and trigger counts
PUT      /_emulator/faults                  ``{"rules": [...], "seed": 0}``
DELETE   /_emulator/faults                  remove every rule
GET      /_emulator/requests?route=         request log (optionally one route)
DELETE   /_emulator/requests                clear the log and counters
GET      /_emulator/stats                   requests per route/status, connections, CPU
PUT      /_emulator/clock                   ``{"offset_seconds": 960, "jobs": false}`` (jobs:
                                            job timestamps follow the offset too)
PUT      /_emulator/rate-limit              ``{"per_second": 5, "burst": 5}`` (null disables)
GET      /_emulator/quotas                  totals and trainings left per quota counter
PUT      /_emulator/quotas                  ``{"basic": 0}``: set totals (others unchanged)
GET      /_emulator/tokens                  issued tokens as SHA-256 digests + metadata
POST     /_emulator/tokens                  ``{"project_id", "ttl_seconds"}`` -> a token
POST     /_emulator/tokens/expire           expire every issued token
GET      /_emulator/console/jobs/{id}       HTML page of a job (the "console link")
=======  =================================  ==============================================
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from metastudio_emulator import store as views
from metastudio_emulator.gateway import base_url, context, query_dict
from metastudio_emulator.responses import ApiError, json_response
from metastudio_emulator.runtime import EmulatorRuntime

VERSION = "1"


def _control_error(status: int, message: str) -> Response:
    return json_response({"error": message}, status=status)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValueError("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _cell(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


ControlHandler = Callable[[Request], Awaitable[Response]]


def _control(handler: ControlHandler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        ctx = context(request)
        ctx.control = True
        ctx.route = "control"
        try:
            return await handler(request)
        except ApiError as err:
            return _control_error(err.status, err.message)
        except (ValueError, TypeError, KeyError) as err:
            return _control_error(400, str(err))

    return endpoint


class ControlApi:
    def __init__(self, runtime: EmulatorRuntime) -> None:
        self.rt = runtime

    def _record(self, job_id: str) -> views.JobRecord:
        rec = self.rt.store.jobs.get(job_id)
        if rec is None:
            raise ApiError(404, "not_found", f"no job {job_id}")
        return rec

    async def health(self, request: Request) -> Response:
        cfg = self.rt.config
        return json_response(
            {
                "status": "ok",
                "version": VERSION,
                "project_id": cfg.project_id,
                "region": cfg.region,
                "tls": cfg.tls,
            }
        )

    async def reset(self, request: Request) -> Response:
        self.rt.reset()
        return json_response({"status": "reset"})

    async def list_records(self, request: Request) -> Response:
        now, url = self.rt.now(), base_url(request)
        return json_response({"jobs": [views.internal_view(r, now, url) for r in self.rt.store]})

    async def seed(self, request: Request) -> Response:
        rec = self.rt.store.seed(await _json(request), self.rt.config.project_id, self.rt.now())
        return json_response(views.internal_view(rec, self.rt.now(), base_url(request)))

    async def record(self, request: Request) -> Response:
        rec = self._record(request.path_params["job_id"])
        return json_response(views.internal_view(rec, self.rt.now(), base_url(request)))

    async def outcome(self, request: Request) -> Response:
        rec = self._record(request.path_params["job_id"])
        body = await _json(request)
        outcome = body.pop("outcome", None)
        at_once = bool(body.pop("at_once", False))
        self.rt.store.set_outcome(rec, outcome, body, self.rt.now(), at_once=at_once)
        return json_response(views.internal_view(rec, self.rt.now(), base_url(request)))

    async def get_faults(self, request: Request) -> Response:
        return json_response(self.rt.faults.describe())

    async def set_faults(self, request: Request) -> Response:
        body = await _json(request)
        rules = body.get("rules", [])
        if not isinstance(rules, list):
            raise ValueError("rules must be a list")
        self.rt.faults.configure(rules, int(body.get("seed", 0)))
        return json_response(self.rt.faults.describe())

    async def clear_faults(self, request: Request) -> Response:
        self.rt.faults.clear()
        return json_response(self.rt.faults.describe())

    async def requests(self, request: Request) -> Response:
        route = query_dict(request).get("route")
        return json_response({"requests": self.rt.log.select(route)})

    async def clear_requests(self, request: Request) -> Response:
        self.rt.log.clear()
        return json_response({"status": "cleared"})

    async def stats(self, request: Request) -> Response:
        return json_response(self.rt.stats())

    async def clock(self, request: Request) -> Response:
        body = await _json(request)
        self.rt.clock_offset = float(body.get("offset_seconds", 0.0))
        self.rt.jobs_clock_offset = self.rt.clock_offset if body.get("jobs") else 0.0
        self.rt.gateway_frozen_at = None
        if body.get("frozen"):
            self.rt.gateway_frozen_at = self.rt.gateway_now()
        return json_response(
            {
                "offset_seconds": self.rt.clock_offset,
                "jobs": bool(body.get("jobs")),
                "frozen": self.rt.gateway_frozen_at is not None,
            }
        )

    async def rate_limit(self, request: Request) -> Response:
        body = await _json(request)
        per_second = body.get("per_second")
        burst = body.get("burst")
        self.rt.rate_limiter.configure(
            float(per_second) if per_second is not None else None, int(burst) if burst is not None else None
        )
        return json_response(
            {"per_second": self.rt.rate_limiter.per_second, "burst": self.rt.rate_limiter.burst}
        )

    async def quotas(self, request: Request) -> Response:
        if request.method == "PUT":
            self.rt.quotas.set_totals(await _json(request))
        available, _ = self.rt.quotas.view(self.rt.store, self.rt.config.project_id)
        return json_response({"totals": dict(self.rt.quotas.totals), "available": available})

    async def issue_token(self, request: Request) -> Response:
        body = await _json(request)
        project_id = body.get("project_id") or self.rt.config.project_id
        ttl = body.get("ttl_seconds")
        token, info = self.rt.issue_token(str(project_id), float(ttl) if ttl is not None else None)
        return json_response(
            {
                "token": token,
                "project_id": info.project_id,
                "issued_at": info.issued_at,
                "expires_at": info.expires_at,
            }
        )

    async def list_tokens(self, request: Request) -> Response:
        return json_response({"tokens": self.rt.tokens.describe(self.rt.gateway_now())})

    async def expire_tokens(self, request: Request) -> Response:
        count = self.rt.tokens.expire_all(self.rt.gateway_now())
        return json_response({"expired": count})

    async def console(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        rec = self.rt.store.jobs.get(job_id)
        if rec is None:
            return HTMLResponse(
                f"<!doctype html><title>Not found</title><h1>No job {html.escape(job_id)}</h1>",
                status_code=404,
            )
        now = self.rt.now()
        view = (
            views.voice_view(rec, now, base_url(request))
            if rec.kind == "voice"
            else views.short_view(rec, now)
        )
        rows = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_cell(v))}</td></tr>"
            for k, v in view.items()
        )
        ops = "".join(
            f"<li>{op['time']} {html.escape(op['action'])} ({html.escape(op['operator'])})</li>"
            for op in (views.op_logs(rec, now) if rec.kind == "voice" else [])
        )
        page = (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>Voice training job {html.escape(job_id)}</title></head><body>"
            f"<h1>Voice training job {html.escape(job_id)}</h1>"
            f"<p>State: <strong id='state'>{html.escape(str(view['state']))}</strong>"
            " (MetaStudio emulator)</p>"
            f"<table>{rows}</table><h2>Operations</h2><ol>{ops}</ol></body></html>"
        )
        return HTMLResponse(page)

    def routes(self) -> list[Route]:
        p = "/_emulator"
        table: list[tuple[str, str, ControlHandler]] = [
            ("GET", "/health", self.health),
            ("POST", "/reset", self.reset),
            ("GET", "/jobs", self.list_records),
            ("POST", "/jobs", self.seed),
            ("GET", "/jobs/{job_id}", self.record),
            ("POST", "/jobs/{job_id}/outcome", self.outcome),
            ("GET", "/faults", self.get_faults),
            ("PUT", "/faults", self.set_faults),
            ("DELETE", "/faults", self.clear_faults),
            ("GET", "/requests", self.requests),
            ("DELETE", "/requests", self.clear_requests),
            ("GET", "/stats", self.stats),
            ("PUT", "/clock", self.clock),
            ("PUT", "/rate-limit", self.rate_limit),
            ("GET", "/quotas", self.quotas),
            ("PUT", "/quotas", self.quotas),
            ("GET", "/tokens", self.list_tokens),
            ("POST", "/tokens", self.issue_token),
            ("POST", "/tokens/expire", self.expire_tokens),
            ("GET", "/console/jobs/{job_id}", self.console),
        ]
        return [Route(p + path, _control(handler), methods=[method]) for method, path, handler in table]
