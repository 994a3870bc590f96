"""Synchronous client of the control routes (``/_emulator/...``), for tests and demos.

It talks HTTP, so it drives a server in a thread, in a child process or on another machine
the same way. Failures raise :class:`EmulatorControlError` with the status and the message.
"""

from __future__ import annotations

from typing import Any

import requests


class EmulatorControlError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"emulator control call failed ({status}): {message}")
        self.status = status
        self.message = message


class EmulatorControl:
    """``EmulatorControl(base_url, verify=ca_file_or_True)``; reusable, keep-alive session."""

    def __init__(self, base_url: str, verify: str | bool = True, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.verify = verify
        self._session.trust_env = False

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> EmulatorControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        response = self._session.request(
            method, f"{self.base_url}/_emulator{path}", json=body, params=params, timeout=self.timeout
        )
        try:
            payload = response.json()
        except ValueError:
            payload = {"error": response.text}
        if response.status_code >= 400:
            message = payload.get("error") if isinstance(payload, dict) else str(payload)
            raise EmulatorControlError(response.status_code, str(message))
        return payload

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/health")
        return result

    def reset(self) -> None:
        self._call("POST", "/reset")

    def seed_job(self, **fields: Any) -> dict[str, Any]:
        """Insert a job; returns its internal record (``record["view"]`` is the API detail)."""
        result: dict[str, Any] = self._call("POST", "/jobs", fields)
        return result

    def set_outcome(
        self, job_id: str, outcome: str | None, at_once: bool = False, **details: Any
    ) -> dict[str, Any]:
        """Force a job's outcome (``"SUCCEED"``, ``"fail"``, ``"PROCESSING"`` to hold ...).

        ``at_once=True`` moves a job in progress straight to the outcome now, through no other
        state (what a test that asserts the states seen needs); otherwise the rest of the
        timeline is re-planned and runs on.
        """
        result: dict[str, Any] = self._call(
            "POST", f"/jobs/{job_id}/outcome", {"outcome": outcome, "at_once": at_once, **details}
        )
        return result

    def job(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/jobs/{job_id}")
        return result

    def jobs(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/jobs")["jobs"]
        return result

    def set_faults(self, rules: list[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
        result: dict[str, Any] = self._call("PUT", "/faults", {"rules": rules, "seed": seed})
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/faults")
        return result

    def requests(self, route: str | None = None) -> list[dict[str, Any]]:
        params = {"route": route} if route else None
        result: list[dict[str, Any]] = self._call("GET", "/requests", params=params)["requests"]
        return result

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/stats")
        return result

    def set_clock_offset(self, seconds: float, jobs: bool = False, frozen: bool = False) -> None:
        """Skew the gateway's clock by ``seconds``.

        :param seconds: how far the gateway's clock is ahead of real time (negative: behind).
        :param jobs: skew the jobs' timestamps (the service's clock) by the same amount.
        :param frozen: stop the gateway's clock at the skewed time until the next call or reset.
        """
        self._call("PUT", "/clock", {"offset_seconds": seconds, "jobs": jobs, "frozen": frozen})

    def set_rate_limit(self, per_second: float | None, burst: int | None = None) -> None:
        self._call("PUT", "/rate-limit", {"per_second": per_second, "burst": burst})

    def set_quotas(self, **totals: int) -> dict[str, Any]:
        """Set the trainings bought per counter (``basic=0``); returns totals and what is left."""
        result: dict[str, Any] = self._call("PUT", "/quotas", totals)
        return result

    def quotas(self) -> dict[str, Any]:
        """``{"totals": {...}, "available": {...}}`` of the default project."""
        result: dict[str, Any] = self._call("GET", "/quotas")
        return result

    def expire_tokens(self) -> None:
        self._call("POST", "/tokens/expire")

    def issue_token(self, project_id: str | None = None, ttl_seconds: float | None = None) -> str:
        body = {"project_id": project_id, "ttl_seconds": ttl_seconds}
        token: str = self._call("POST", "/tokens", body)["token"]
        return token

    def tokens(self) -> list[dict[str, Any]]:
        """Every token issued since start or reset, never in clear: ``sha256``, ``length``,
        ``prefix``, ``project_id``, ``user_name``, ``issued_at``, ``expires_at``, ``expired``."""
        result: list[dict[str, Any]] = self._call("GET", "/tokens")["tokens"]
        return result

    def console_url(self, job_id: str) -> str:
        return f"{self.base_url}/_emulator/console/jobs/{job_id}"
