"""Apache Airflow 3 provider for Huawei Cloud MetaStudio voice training.

Import-light on purpose: Airflow's provider discovery calls :func:`get_provider_info` in
every component, and DAG files import submodules on every parse. Public modules are the
paths without a leading underscore; each lists its API in ``__all__``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_voicetraining._wire.version import __version__

__all__ = ["CONN_TYPE", "DEFAULT_CONN_ID", "__version__", "get_provider_info"]

CONN_TYPE = "huaweicloud_metastudio"
DEFAULT_CONN_ID = "metastudio_default"


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata Airflow reads through the ``apache_airflow_provider`` entry point.

    Airflow 3.2+ builds the connection form only from ``hook-name``, ``ui-field-behaviour`` and
    ``conn-fields`` declared here (it no longer imports the hook for widgets), and it refuses to
    load a provider whose ``package-name`` differs from the canonical distribution name.
    """
    from airflow_provider_voicetraining._wire.settings import CONN_FIELDS

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
                "python-modules": [
                    "airflow_provider_voicetraining.operators.voice_training",
                    "airflow_provider_voicetraining.operators.voice_assessment",
                ],
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
        "extra-links": ["airflow_provider_voicetraining.links.voice_training.VoiceTrainingJobLink"],
        # trained voices are assets metastudio://<region>/<project_id>/voices/<asset_id>
        # (handler: validation; converter: the same dataset in OpenLineage)
        "asset-uris": [
            {
                "schemes": ["metastudio"],
                "handler": "airflow_provider_voicetraining.assets.normalize_uri",
                "factory": "airflow_provider_voicetraining.assets.create_asset",
                "to_openlineage_converter": (
                    "airflow_provider_voicetraining.lineage.convert_asset_to_openlineage"
                ),
            }
        ],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_voicetraining.hooks.voice_training.VoiceTrainingHook",
                "hook-name": "Huawei Cloud MetaStudio",
                "ui-field-behaviour": {
                    # port stays visible only for Airflow 3.3's Test button, which sends port 0
                    # for a connection stored without one and then refuses the difference
                    "hidden-fields": ["host", "schema"],
                    "relabeling": {
                        "login": "Access Key (AK) or IAM user name",
                        "password": "Secret Key (SK), IAM password or X-Auth-Token",
                        "port": "Port: not used; enter 0 so that the Test button works",
                    },
                    "placeholders": {
                        "port": "0",
                        "login": "AK for auth_type=aksk; IAM user for auth_type=password; empty for token",
                        "password": "SK, IAM password, or a ready IAM token",
                    },
                },
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
