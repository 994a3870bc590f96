"""Apache Airflow 3 provider for Huawei Cloud MetaStudio voice training.

This module stays import-light on purpose: Airflow's provider discovery calls
:func:`get_provider_info` in every component (scheduler, triggerer, api-server,
dag-processor), and DAG files import submodules on every parse.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

CONN_TYPE = "huaweicloud_metastudio"
DEFAULT_CONN_ID = "metastudio_default"


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata Airflow reads through the ``apache_airflow_provider`` entry point.

    Airflow 3.2+ builds the connection form only from ``hook-name``, ``ui-field-behaviour`` and
    ``conn-fields`` declared here (it no longer imports the hook for widgets), and it refuses to
    load a provider whose ``package-name`` differs from the canonical distribution name.
    """
    return {
        "package-name": "airflow-provider-voicetraining",
        "name": "Huawei Cloud MetaStudio Voice Training",
        "description": "Create, commit and wait for MetaStudio voice-training (timbre model) jobs.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Huawei Cloud MetaStudio",
                "external-doc-url": "https://support.huaweicloud.com/intl/en-us/api-metastudio/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Huawei Cloud MetaStudio",
                "python-modules": ["airflow_provider_voicetraining.hooks.voice_training"],
            }
        ],
        "operators": [
            {
                "integration-name": "Huawei Cloud MetaStudio",
                "python-modules": ["airflow_provider_voicetraining.operators.voice_training"],
            }
        ],
        "sensors": [
            {
                "integration-name": "Huawei Cloud MetaStudio",
                "python-modules": ["airflow_provider_voicetraining.sensors.voice_training"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Huawei Cloud MetaStudio",
                "python-modules": ["airflow_provider_voicetraining.triggers.voice_training"],
            }
        ],
        "extra-links": ["airflow_provider_voicetraining.links.VoiceTrainingJobLink"],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_voicetraining.hooks.voice_training.VoiceTrainingHook",
                "hook-name": "Huawei Cloud MetaStudio",
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "port", "schema"],
                    "relabeling": {
                        "login": "Access Key (AK) or IAM user name",
                        "password": "Secret Key (SK), IAM password or X-Auth-Token",
                    },
                    "placeholders": {
                        "login": "AK for auth_type=aksk; IAM user for auth_type=password; empty for token",
                        "password": "SK, IAM password, or a ready IAM token",
                    },
                },
                "conn-fields": _CONN_FIELDS,
            }
        ],
    }


_CONN_FIELDS: dict[str, Any] = {
    "auth_type": {
        "label": "Auth type",
        "description": "aksk (default): login=AK, password=SK. password: IAM user/password, the hook "
        "gets a project-scoped token. token: password holds a ready X-Auth-Token.",
        "schema": {
            "type": ["string", "null"],
            "enum": ["aksk", "password", "token", None],
            "default": "aksk",
        },
    },
    "project_id": {
        "label": "Project ID",
        "description": "Required. The Huawei Cloud project id of the MetaStudio region.",
        "schema": {"type": ["string", "null"], "pattern": "^[A-Za-z0-9-]{1,64}$"},
    },
    "region": {
        "label": "Region",
        "description": "e.g. cn-north-4; gives https://metastudio.{region}.myhuaweicloud.com",
        "schema": {"type": ["string", "null"], "default": "cn-north-4"},
    },
    "endpoint": {
        "label": "Endpoint override",
        "description": "Full MetaStudio URL, e.g. the local emulator. http:// only for loopback hosts.",
        "schema": {"type": ["string", "null"], "format": "url"},
    },
    "iam_endpoint": {
        "label": "IAM endpoint override",
        "description": "Default https://iam.{region}.myhuaweicloud.com (auth_type=password only).",
        "schema": {"type": ["string", "null"], "format": "url"},
    },
    "domain_name": {
        "label": "Account (domain) name",
        "description": "Huawei Cloud account name owning the IAM user (auth_type=password).",
        "schema": {"type": ["string", "null"]},
    },
    "security_token": {
        "label": "Security token",
        "description": "For temporary AK/SK credentials; sent as X-Security-Token.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "app_user_id": {
        "label": "Default X-App-UserId",
        "description": "Third-party end-user id sent with every call (per-call overrides win).",
        "schema": {"type": ["string", "null"]},
    },
    "verify": {
        "label": "TLS verify",
        "description": "true (default), false, or the path of a CA bundle.",
        "schema": {"type": ["string", "boolean", "null"]},
    },
    "timeout": {
        "label": "Timeout (s)",
        "description": "Connect and read timeout of each HTTP request. Default 30.",
        "schema": {"type": ["number", "null"], "minimum": 0.1, "maximum": 600},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retries on connection errors, timeouts, 429 and 5xx. Default 5.",
        "schema": {"type": ["integer", "null"], "minimum": 0, "maximum": 20},
    },
}
