"""Local emulator of the Huawei Cloud MetaStudio voice-training REST API.

A real HTTP server (Starlette on uvicorn) that verifies AK/SK signatures and IAM tokens like
API Gateway, runs time-scaled job lifecycles and injects faults on demand, so the provider's
tests, the demo and offline DAG development run without a Huawei Cloud account. It never
imports Airflow and starts in well under a second.

Running it
----------
::

    metastudio-emulator --port 8080 --time-scale 0.1
    # same as: python -m airflow_provider_voicetraining.emulator --port 8080 --time-scale 0.1
    # prints the endpoint and: export AIRFLOW_CONN_METASTUDIO_DEFAULT='{"conn_type": ...}'

Options: ``--host``, ``--port`` (0 = free), ``--tls`` (generated CA; its path is printed),
``--time-scale``, ``--seed``, ``--faults FILE.json`` (a list of rules or
``{"rules": [...], "seed": n}``), ``--seed-jobs FILE.json`` (a list of job objects),
``--ak/--sk/--project-id``, ``--token-ttl``, ``--config FILE.json`` (any
:class:`EmulatorConfig` field; ``-`` reads one line from stdin), ``--json`` (print one line
``{"url", "ca_file", "pid", "connection", "connection_uri"}`` for a parent process), and
``--log-level``. SIGTERM/SIGINT stop it cleanly (exit 0).

From Python::

    from airflow_provider_voicetraining.emulator import (
        EmulatorConfig, EmulatorControl, EmulatorServer, spawn_emulator_process,
    )

    with EmulatorServer(EmulatorConfig(time_scale=0.02, seed=1)) as emu:   # thread; port 0 = free port
        emu.url, emu.ca_file, emu.config, emu.control
        emu.connection_json(auth_type="aksk")   # "aksk", "aksk_temporary", "password", "token"
        emu.connection_uri(auth_type="password", timeout=5)   # kwargs merge into extra
    with spawn_emulator_process(EmulatorConfig(tls=True)) as proc:       # own process, no orphans
        proc.url, proc.ca_file, proc.pid, proc.control, proc.config

Demo credentials (fixed, public, overridable; never use them against the real service)
--------------------------------------------------------------------------------------
==================  ===============================================
AK / SK             ``EMULATORAK0000000001`` / ``emulator-demo-secret-key-0000000000000000``
temporary AK / SK   ``EMULATORTMPAK0000001`` / ``emulator-temporary-secret-key-00000000000``
security token      ``EmulatorSecurityToken`` followed by 40 zeros
project             ``0123456789abcdef0123456789abcdef`` (name ``cn-north-4``), region ``cn-north-4``
IAM user            domain ``emulator-domain``, user ``emulator-user``, password ``Emulator-Passw0rd!``
==================  ===============================================

API surface
-----------
``P = /v1/{project_id}/voice-training-manage``: create ``P/user/{basic,middle,advance,third-party}-jobs``;
commit ``POST P/user/jobs/{id}``; list ``GET P/user/jobs`` (offset, limit 1-100, comma-separated
``state`` OR-list, job_type, voice_name, batch_name, tag, job_id, create/update since/until as
RFC 3339 or epoch ms, sort_key, sort_dir (default create_time desc), is_ondemand_resource); show;
delete; ``/audit-result``; ``/uploading-address-url``;
``/review-attachment-uploading-address-url``; ``/op-logs``; ``P/quotas``; short jobs
``P/user/short-jobs`` (create, commit, show); IAM ``POST /v3/auth/tokens`` (password, project
scope by id or name, ``?nocatalog=true``) and ``GET /v3/projects?name=`` (SDK project discovery);
presigned uploads ``PUT /_obs/{job_id}/...`` (``data.zip`` needs ``application/zip``).

Success is 200 (IAM 201, uploads 200 + ``ETag``); bad parameters 400 ``MSS.00000003``; unknown
job 404 ``MSS.00000001``; auth failures 401 ``APIG.0301`` (signature, unknown AK, locked AK,
bad/expired token, ``signature expired`` beyond 15 min of skew); a token for another project
or an ``X-Project-Id``/path mismatch 403 ``APIG.0302``; throttling 429 ``APIGW.0308``. Every
response carries ``X-Request-Id`` (32 hex). A request with ``X-App-UserId`` sees only that app
user's jobs; without it, every job of the project. Five consecutive signature failures lock an
AK for five minutes (the next requests get "AK access failed to reach the limit,forbidden").

Job lifecycle and outcome rule
------------------------------
create -> ``CREATING``; commit (after the data upload) -> ``SYSTEM_AUDITING`` (2 s) ->
``AUDITING`` (3 s) -> [advance/third-party: ``WAITING_SPLIT`` (1 s) -> ``SPLITTING`` (2 s) ->
``ANNOTATING`` (2 s)] -> ``WAITING`` (3 s) -> ``PROCESSING`` (8 s) -> ``UPLOADING`` (3 s) ->
``SUCCEED`` with ``asset_id``: 19 s for basic/middle, 24 s for advance/third-party, every
duration multiplied by ``time_scale``. The state is a pure function of the time since commit
(no background tasks). The outcome, first match wins:

1. an outcome set with ``control.set_outcome(job_id, ...)`` (``SUCCEED``, ``fail``,
   ``audit_fail``, ``split_fail``, ``review``, ``reject``, or an in-progress state such as
   ``PROCESSING`` to hold the job there);
2. a package that is not a zip or lacks what the edition needs (basic ``0..19`` wav+txt pairs,
   middle ``0..99``, advance/third-party any ``.wav``) -> ``AUDIT_FAILED`` naming what is missing;
3. the ``voice_name`` prefix (case-insensitive): ``fail-`` -> ``FAILED`` after PROCESSING
   (``MSS.20001001``); ``auditfail-`` -> ``AUDIT_FAILED`` after SYSTEM_AUDITING on the first
   commit only (re-upload via ``uploading-address-url`` and re-commit, then it succeeds);
   ``splitfail-`` -> ``SPLIT_FAILED`` after SPLITTING (any edition); ``review-`` -> stays in
   ``USER_RESULT_REVIEW`` (via ``RESULT_REVIEW``, 2 s); ``reject-`` -> ``USER_REVIEW_REJECT``
   after 3 s of ``USER_RESULT_REVIEW``;
4. anything else -> ``SUCCEED``.

Commit is allowed from ``CREATING`` and ``AUDIT_FAILED`` only, and needs uploaded data (a
package, or at least one segment in SEGMENT mode; after an audit failure, a *new* upload).
``reject_times`` counts audit failures. ``create_time``/``lastupdate_time`` are epoch ms.

Control plane (``/_emulator/``, unauthenticated, never faulted, not in the request log)
------------------------------------------------------------------------------------
``GET health``; ``POST reset`` (back to the startup state: jobs, faults, log, tokens, lockouts,
clock, rate limit); ``POST jobs`` (seed: any fields, any state string; ``lifecycle=True`` runs
the timeline from that state); ``GET jobs``, ``GET jobs/{id}`` (internal record);
``POST jobs/{id}/outcome``; ``GET|PUT|DELETE faults``; ``GET requests?route=``,
``DELETE requests``; ``GET stats`` (requests per route and status, distinct ``connections``,
CPU seconds, uptime); ``PUT clock`` (gateway clock offset); ``PUT rate-limit`` (per-AK token
bucket); ``GET tokens`` (issued tokens as SHA-256 digests with length, prefix and expiry,
never in clear), ``POST tokens`` (issue a token), ``POST tokens/expire``; ``GET console/jobs/{id}``
(HTML page, the "console link" for loopback endpoints). :class:`EmulatorControl` wraps them.

Faults
------
Rules ``{"route": <route name or "*">, "kind": ..., "rate": 0..1, ...}`` with route names
``create_basic_job``, ``create_middle_job``, ``create_advance_job``, ``create_third_party_job``,
``commit_job``, ``list_jobs``, ``show_job``, ``delete_job``, ``show_audit_result``,
``show_uploading_address``, ``show_review_attachment_address``, ``list_op_logs``,
``show_quotas``, ``create_short_job``, ``commit_short_job``, ``show_short_job``,
``iam_tokens``, ``obs_upload`` (and ``iam_projects``). Kinds: ``status`` (``status``, default
503, with a gateway/service error body), ``throttle`` (429 ``APIGW.0308`` +
``Retry-After: retry_after``; ``burst: N`` throttles the next N requests too), ``latency``
(``uniform(min_delay, max_delay)`` seconds, then normal), ``drop`` (response head with the full
``Content-Length``, half the body, connection closed: ``requests`` raises
``ChunkedEncodingError`` "IncompleteRead", ``httpx`` ``RemoteProtocolError`` "peer closed
connection without sending complete message body", and the official SDK lets the
``ChunkedEncodingError`` escape), ``malformed`` (200, truncated non-JSON body),
``token_expiry`` (the presented IAM token expires just before authentication -> 401). ``drop``
and ``malformed`` let the request be processed first unless ``"process": false``; ``times: N``
caps a rule. Each route draws from its own ``random.Random(f"{seed}:{route}")``, so runs are
reproducible. Faults apply before authentication, except ``token_expiry``.
"""

from __future__ import annotations

from airflow_provider_voicetraining.emulator.config import EmulatorConfig
from airflow_provider_voicetraining.emulator.control import EmulatorControl, EmulatorControlError
from airflow_provider_voicetraining.emulator.server import (
    EmulatorProcess,
    EmulatorServer,
    spawn_emulator_process,
)

__all__ = [
    "EmulatorConfig",
    "EmulatorControl",
    "EmulatorControlError",
    "EmulatorProcess",
    "EmulatorServer",
    "spawn_emulator_process",
]
