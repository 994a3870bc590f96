"""Airflow connection definitions pointing at a running emulator (JSON and URI forms).

Used by :class:`.server.EmulatorServer`, :class:`.server.EmulatorProcess` and the CLI, so the
``AIRFLOW_CONN_...`` value a test sets, the one the demo prints and the one a user copies are
the same. ``auth_type``:

* ``aksk``: login/password = AK/SK (no ``auth_type`` extra: aksk is the default);
* ``aksk_temporary``: temporary AK/SK plus the ``security_token`` extra;
* ``password``: IAM user/password plus ``domain_name`` (the hook fetches tokens from
  ``iam_endpoint``);
* ``token``: password = a token freshly issued by the emulator.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from metastudio_emulator.config import CONN_TYPE, EmulatorConfig

AUTH_TYPES = ("aksk", "aksk_temporary", "password", "token")


def connection_dict(
    config: EmulatorConfig,
    url: str,
    ca_file: str | None,
    auth_type: str = "aksk",
    token: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    if auth_type not in AUTH_TYPES:
        raise ValueError(f"auth_type must be one of {AUTH_TYPES}, not {auth_type!r}")
    # aksk is the provider's default auth type: it is left out, like every default (an extra value
    # under 5 characters makes Airflow's masker warn "too short to mask" in every task log)
    extra: dict[str, Any] = {
        "project_id": config.project_id,
        "endpoint": url,
        "iam_endpoint": url,
        "verify": ca_file or True,
        "region": config.region,
        # the emulator's job page is the console link of its jobs (the provider reads the
        # template; it knows nothing of emulator paths)
        "console_url": f"{url}/_emulator/console/jobs/{{job_id}}",
    }
    if auth_type == "aksk":
        login, password = config.access_key, config.secret_key
    elif auth_type == "aksk_temporary":
        login, password = config.temp_access_key, config.temp_secret_key
        extra["security_token"] = config.security_token
    elif auth_type == "password":
        login, password = config.iam_user, config.iam_password
        extra["auth_type"] = auth_type
        extra["domain_name"] = config.domain_name
    else:
        if not token:
            raise ValueError("auth_type='token' needs a token issued by the emulator")
        login, password = config.iam_user, token
        extra["auth_type"] = auth_type
    extra.update(overrides)
    return {"conn_type": CONN_TYPE, "login": login, "password": password, "extra": extra}


def connection_json(*args: Any, **kwargs: Any) -> str:
    """The value of an ``AIRFLOW_CONN_<ID>`` environment variable (JSON form)."""
    return json.dumps(connection_dict(*args, **kwargs))


def _uri_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def connection_uri(*args: Any, **kwargs: Any) -> str:
    """URI form: ``huaweicloud-metastudio://<login>:<password>@/?auth_type=...&...``.

    Every part is percent-encoded; extra values become strings (booleans ``true``/``false``).
    """
    conn = connection_dict(*args, **kwargs)
    scheme = CONN_TYPE.replace("_", "-")
    query = urlencode({k: _uri_value(v) for k, v in conn["extra"].items()})
    return f"{scheme}://{quote(conn['login'], safe='')}:{quote(conn['password'], safe='')}@/?{query}"
