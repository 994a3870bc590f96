"""Local emulator of the Huawei Cloud MetaStudio voice-training REST API.

A real HTTP server (Starlette on uvicorn) that verifies AK/SK signatures and IAM tokens like
API Gateway, runs time-scaled job lifecycles and injects faults on demand, so the provider's
tests, the demo and offline DAG development run without a Huawei Cloud account. It never
imports Airflow and starts in well under a second. Install it with
``pip install "airflow-provider-voicetraining[emulator]"``; it builds on the provider's
Airflow-free wire layer (signing, states, vocabulary, package rules), so it refuses and accepts
what the provider does.

Running it
----------
::

    metastudio-emulator --port 18080 --time-scale 0.1
    # same as: python -m metastudio_emulator --port 18080 --time-scale 0.1
    # prints the endpoint and: export AIRFLOW_CONN_METASTUDIO_DEFAULT='{"conn_type": ...}'

Options: ``--host``, ``--port`` (0 = free), ``--tls`` (generated CA; its path is printed),
``--time-scale``, ``--seed``, ``--faults FILE.json`` (a list of rules or
``{"rules": [...], "seed": n}``), ``--seed-jobs FILE.json`` (a list of job objects),
``--ak/--sk/--project-id``, ``--token-ttl``, ``--config FILE.json`` (any
:class:`EmulatorConfig` field; ``-`` reads one line from stdin), ``--json`` (print one line
``{"url", "ca_file", "pid", "connection", "connection_uri"}`` for a parent process), and
``--log-level``. SIGTERM/SIGINT stop it cleanly (exit 0).

From Python::

    from metastudio_emulator import (
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
``P/user/short-jobs`` (create, commit, show); the asset library's ShowAsset
``GET /v1/{project_id}/digital-assets/{asset_id}`` for voices that reached ``SUCCEED``; IAM
``POST /v3/auth/tokens`` (password, project scope by id or name, ``?nocatalog=true``) and
``GET /v3/projects?name=`` (SDK project discovery); presigned uploads ``PUT /_obs/{job_id}/...``
(``data.zip`` needs ``application/zip``).

Success is 200 (IAM 201, uploads 200 + ``ETag``); bad parameters 400 ``MSS.00000003``; unknown
job or asset 404 ``MSS.00000001``; auth failures 401 ``APIG.0301`` (signature, unknown AK, locked AK,
bad/expired token, ``signature expired`` beyond 15 min of skew); a token for another project
or an ``X-Project-Id``/path mismatch 403 ``APIG.0302``; throttling 429 ``APIGW.0308``. Every
response carries ``X-Request-Id`` (32 hex). A request with ``X-App-UserId`` sees only that app
user's jobs; without it, every job of the project. Five consecutive signature failures lock an
AK for five minutes (the next requests get "AK access failed to reach the limit,forbidden").

Lifecycle, outcome rule, faults, quotas, recording checks
---------------------------------------------------------
Documented once for users in the docs (``docs/emulator.md``); implemented in :mod:`.lifecycle`
(timelines and the outcome rule), :mod:`.faults` (fault kinds and rule keys), :mod:`.quotas`
(counters from the provider's ``Edition`` table, one training per first commit) and
:mod:`.store` (the assessment of a recording check, from the recordings' names).

Control plane (``/_emulator/``, unauthenticated, never faulted, not in the request log)
---------------------------------------------------------------------------------------
``GET health``; ``POST reset``; ``POST jobs`` (seed); ``GET jobs``, ``GET jobs/{id}``;
``POST jobs/{id}/outcome``; ``GET|PUT|DELETE faults``; ``GET requests?route=``,
``DELETE requests``; ``GET stats``; ``PUT clock``; ``PUT rate-limit``; ``GET|PUT quotas``;
``GET|POST tokens``,
``POST tokens/expire``; ``GET console/jobs/{id}``. :class:`EmulatorControl` wraps them.
"""

from __future__ import annotations

#: What to install when the emulator's server stack is missing (the ``emulator`` extra).
INSTALL_HINT = "pip install 'airflow-provider-voicetraining[emulator]'"

try:
    from metastudio_emulator.config import EmulatorConfig
    from metastudio_emulator.control import EmulatorControl, EmulatorControlError
    from metastudio_emulator.server import (
        EmulatorProcess,
        EmulatorServer,
        spawn_emulator_process,
    )
except ModuleNotFoundError as _missing:  # the server stack comes with the extra, not the provider
    if (_missing.name or "").partition(".")[0] in {"metastudio_emulator", "airflow_provider_voicetraining"}:
        raise
    raise ImportError(
        f"The MetaStudio emulator needs its extra, which is not installed ({_missing.name} is missing): "
        f"{INSTALL_HINT}",
        name=_missing.name,
    ) from _missing

__all__ = [
    "INSTALL_HINT",
    "EmulatorConfig",
    "EmulatorControl",
    "EmulatorControlError",
    "EmulatorProcess",
    "EmulatorServer",
    "spawn_emulator_process",
]
