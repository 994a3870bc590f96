"""Shared helpers of the emulator suite: zip builders and a client that signs requests with the
provider's own signer (``airflow_provider_voicetraining._wire.signing``)."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any
from urllib.parse import urlsplit

import requests

from airflow_provider_voicetraining._wire import signing
from metastudio_emulator import EmulatorServer

OTHER_PROJECT = "fedcba9876543210fedcba9876543210"


def make_zip(members: dict[str, bytes] | list[str]) -> bytes:
    buf = io.BytesIO()
    items = members.items() if isinstance(members, dict) else ((m, b"data") for m in members)
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in items:
            archive.writestr(name, data)
    return buf.getvalue()


def pairs(count: int) -> list[str]:
    return [f"{i}.{ext}" for i in range(count) for ext in ("wav", "txt")]


EDITION_MEMBERS = {
    "basic": pairs(20),
    "middle": pairs(100),
    "advance": ["long.wav"],
    "third-party": ["long.wav"],
}


class Api:
    """A minimal signed client of the emulator (AK/SK by default, or an ``X-Auth-Token``)."""

    def __init__(self, emu: EmulatorServer, session: requests.Session | None = None) -> None:
        self.emu = emu
        self.url = emu.url
        self.cfg = emu.config
        self.host = urlsplit(emu.url).netloc
        self.session = session or requests.Session()
        self.session.verify = emu.ca_file or True
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        self.prefix = f"/v1/{self.cfg.project_id}/voice-training-manage"

    def call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        ak: str | None = None,
        sk: str | None = None,
        token: str | None = None,
        sign: bool = True,
        project_header: bool = True,
    ) -> requests.Response:
        """``path`` relative to the project prefix unless it starts with ``/v``."""
        full = path if path.startswith(("/v1/", "/v3/")) else self.prefix + path
        pairs_ = list(query.items()) if isinstance(query, dict) else list(query or [])
        qs = signing.canonical_query([(k, str(v)) for k, v in pairs_])
        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
        h = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            h["X-Auth-Token"] = token
        elif sign:
            if project_header:
                h.setdefault("X-Project-Id", self.cfg.project_id)
            h = signing.sign(
                method=method,
                path=full,
                query=qs,
                headers=h,
                body=data,
                host=self.host,
                access_key=ak or self.cfg.access_key,
                secret_key=sk or self.cfg.secret_key,
            )
        return self.session.request(method, self.url + full + ("?" + qs if qs else ""), headers=h, data=data)

    # Conveniences -------------------------------------------------------------------------

    def create(self, edition: str = "basic", **body: Any) -> dict[str, Any]:
        body.setdefault("voice_name", "demo-voice")
        r = self.call("POST", f"/user/{edition}-jobs", body=body)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    def upload(self, url: str, data: bytes, content_type: str = "application/zip") -> requests.Response:
        return self.session.put(url, data=data, headers={"Content-Type": content_type})

    def upload_package(self, created: dict[str, Any], members: list[str] | dict[str, bytes]) -> None:
        r = self.upload(created["training_data_uploading_url"], make_zip(members))
        assert r.status_code == 200, r.text

    def commit(self, job_id: str, body: Any = None) -> requests.Response:
        return self.call("POST", f"/user/jobs/{job_id}", body=body)

    def show(self, job_id: str) -> dict[str, Any]:
        r = self.call("GET", f"/user/jobs/{job_id}")
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    def wait_state(self, job_id: str, states: set[str] | str, timeout: float = 5.0) -> dict[str, Any]:
        wanted = {states} if isinstance(states, str) else states
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            job = self.show(job_id)
            if not seen or seen[-1] != job["state"]:
                seen.append(job["state"])
            if job["state"] in wanted:
                job["_seen"] = seen
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} never reached {wanted}; states seen: {seen}")
            time.sleep(0.01)

    def ready_job(self, edition: str = "basic", **body: Any) -> dict[str, Any]:
        """Create + upload a valid package; returns the create response."""
        created = self.create(edition, **body)
        self.upload_package(created, EDITION_MEMBERS[edition])
        return created
