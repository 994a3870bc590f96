"""Provider discovery: the entry point, the provider-info schema, the CLI, the connection form."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_voicetraining import __version__, get_provider_info
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook


def test_entry_point_and_package_name() -> None:
    points = importlib.metadata.entry_points(group="apache_airflow_provider")
    ours = [p for p in points if p.value.startswith("airflow_provider_voicetraining")]
    assert len(ours) == 1 and ours[0].load() is get_provider_info
    assert get_provider_info()["package-name"] == "airflow-provider-voicetraining"
    assert ours[0].dist is not None
    assert ours[0].dist.name.replace("_", "-") == "airflow-provider-voicetraining"
    # one version source: the distribution's metadata and the provider info read __version__
    assert ours[0].dist.version == __version__ == get_provider_info()["versions"][0]


def test_provider_info_matches_airflows_schema() -> None:
    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)
    connection = get_provider_info()["connection-types"][0]
    assert connection["connection-type"] == VoiceTrainingHook.conn_type
    # port shows (relabelled): Airflow 3.3's Test button needs 0 stored
    assert set(connection["ui-field-behaviour"]["hidden-fields"]) == {"host", "schema"}
    fields = connection["conn-fields"]
    assert fields["security_token"]["schema"]["format"] == "password"
    assert {"auth_type", "project_id", "region", "endpoint", "verify", "app_user_id"} <= set(fields)
    # the classes named in the metadata import
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in get_provider_info()[section]:
            for module in entry["python-modules"]:
                __import__(module)


def _airflow_cli(*args: str) -> str:
    env = {**os.environ}
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # stdout may carry log lines ("[2026-...] ...") around the JSON document
    for line in result.stdout.splitlines():
        if line.startswith("[{") or line == "[]":
            return line
    raise AssertionError(f"no JSON list in: {result.stdout[-2000:]}")


def test_airflow_cli_lists_the_provider_and_its_hook() -> None:
    providers = json.loads(_airflow_cli("providers", "list", "-o", "json"))
    assert {"package_name": "airflow-provider-voicetraining", "version": __version__}.items() <= next(
        p for p in providers if p["package_name"] == "airflow-provider-voicetraining"
    ).items()
    hooks = json.loads(_airflow_cli("providers", "hooks", "-o", "json"))
    hook = next(h for h in hooks if h["connection_type"] == "huaweicloud_metastudio")
    assert hook["class"] == "airflow_provider_voicetraining.hooks.voice_training.VoiceTrainingHook"
    assert hook["conn_id_attribute_name"] == "metastudio_conn_id"
    assert hook["hook_name"] == "Huawei Cloud MetaStudio"


def test_connection_form_metadata_for_the_ui() -> None:
    """Airflow 3.2+ builds the form from conn-fields alone (no hook import)."""
    services = pytest.importorskip("airflow.api_fastapi.core_api.services.ui.connections")
    if not hasattr(services, "HookMetaService"):
        pytest.skip("this Airflow builds connection forms from hook widgets (3.0/3.1)")
    meta = next(
        m for m in services.HookMetaService.hook_meta_data() if m.connection_type == "huaweicloud_metastudio"
    )
    from airflow_provider_voicetraining.version_compat import AIRFLOW_VERSION

    if tuple(int(p) for p in AIRFLOW_VERSION.split(".")[:2]) < (3, 2):
        pytest.skip("Airflow 3.0/3.1 build connection forms from the hook's widget methods")
    assert meta.hook_name == "Huawei Cloud MetaStudio"
    assert meta.standard_fields.host.hidden and not meta.standard_fields.login.hidden
    assert meta.standard_fields.login.title.startswith("Access Key")
    assert meta.extra_fields["security_token"]["schema"]["format"] == "password"
    # no value the form writes or offers is under 5 characters (Airflow warns "too short to
    # mask" about such extra values, e.g. "aksk", in every task and trigger log)
    offered = {name: f["value"] for name, f in meta.extra_fields.items() if f["value"] is not None}
    assert offered == {"auth_type": "AK/SK"}
    choices = [c for f in meta.extra_fields.values() for c in f["schema"].get("enum", [])]
    assert choices and all(isinstance(c, str) and len(c) >= 5 for c in choices), choices
    # the project id is required: a plain string with a minimum length (Save stays disabled)
    assert meta.extra_fields["project_id"]["schema"]["type"] == "string"
    assert meta.extra_fields["project_id"]["schema"]["minLength"] == 1
    # one JSON type per field: a union with boolean renders as a multi-line JSON text area
    for name, field in meta.extra_fields.items():
        declared = field["schema"]["type"]
        types = [t for t in ([declared] if isinstance(declared, str) else declared) if t != "null"]
        assert len(types) == 1, (name, types)


def test_old_style_form_methods_agree_with_the_metadata() -> None:
    assert (
        VoiceTrainingHook.get_ui_field_behaviour()
        == get_provider_info()["connection-types"][0]["ui-field-behaviour"]
    )
    widgets = VoiceTrainingHook.get_connection_form_widgets()
    if importlib.util.find_spec("flask_appbuilder") and importlib.util.find_spec("wtforms"):
        # a 3.0/3.1 deployment with FAB: one widget per declared field
        assert set(widgets) == set(get_provider_info()["connection-types"][0]["conn-fields"])
    else:
        # without FAB (the 3.x default) the method degrades to no widgets instead of failing
        assert widgets == {}


def test_metastudio_asset_uris_are_registered_and_validated() -> None:
    """Airflow applies the registered handler whenever an Asset with the scheme is built."""
    from airflow.sdk import Asset

    entry = get_provider_info()["asset-uris"][0]
    assert entry["schemes"] == ["metastudio"]
    good = "metastudio://CN-North-4/0123456789abcdef0123456789abcdef/voices/5d0c-asset_1/"
    assert (
        Asset(uri=good).uri == "metastudio://cn-north-4/0123456789abcdef0123456789abcdef/voices/5d0c-asset_1"
    )
    for bad, problem in [
        ("metastudio://cn-north-4/0123456789abcdef0123456789abcdef/jobs/5d0c", "is not /<project_id>"),
        ("metastudio://mars-1/0123456789abcdef0123456789abcdef/voices/5d0c", "is not a region id"),
        ("metastudio://cn-north-4/../voices/5d0c", "is not a project id"),
        ("metastudio://cn-north-4/0123456789abcdef0123456789abcdef/voices/a%20b", "is not an asset id"),
        ("metastudio://cn-north-4:443/0123456789abcdef0123456789abcdef/voices/5d0c", "port"),
        ("metastudio://cn-north-4/0123456789abcdef0123456789abcdef/voices/5d0c?v=1", "query"),
    ]:
        with pytest.raises(ValueError, match="asset URI") as info:
            Asset(uri=bad)
        assert problem in str(info.value) and "metastudio://<region>/<project_id>/voices/<asset_id>" in str(
            info.value
        )
    from airflow_provider_voicetraining.assets import create_asset

    made = create_asset(region="cn-east-3", project_id="p" * 32, asset_id="a-1", extra={"k": 1})
    assert made.uri == f"metastudio://cn-east-3/{'p' * 32}/voices/a-1" and made.extra == {"k": 1}
