"""The connection contract: every auth mode and extra, in JSON and URI forms, and every bad field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk import Connection

from airflow_provider_voicetraining._wire.settings import ConnectionSettings, parse_connection
from airflow_provider_voicetraining.errors import VoiceTrainingConnectionError
from airflow_provider_voicetraining.version_compat import base_hook_class

AK = "HPUAEXAMPLEAK0000001"
SK = "exampleSecretKey0000000000000000000000001"
PROJECT = "0123456789abcdef0123456789abcdef"


def conn(
    login: str | None = AK, password: str | None = SK, host: str | None = None, **extra: Any
) -> Connection:
    extra.setdefault("project_id", PROJECT)
    return Connection(
        conn_id="metastudio_test",
        conn_type="huaweicloud_metastudio",
        host=host,
        login=login,
        password=password,
        extra=json.dumps({k: v for k, v in extra.items() if v is not ...}),
    )


def test_aksk_defaults() -> None:
    settings = parse_connection(conn())
    assert settings.auth_type == "aksk"
    assert settings.endpoint == "https://metastudio.cn-north-4.myhuaweicloud.com"
    assert settings.iam_endpoint == "https://iam.cn-north-4.myhuaweicloud.com"
    assert settings.access_key is not None and settings.access_key.reveal() == AK
    assert settings.secret_key is not None and settings.secret_key.reveal() == SK
    assert (settings.timeout, settings.max_retries, settings.verify) == (30.0, 5, True)
    assert settings.host == "metastudio.cn-north-4.myhuaweicloud.com"


@pytest.mark.parametrize("spelling", ["AK/SK", "ak/sk", " aksk ", None])
def test_aksk_as_the_connection_form_spells_it(spelling: str | None) -> None:
    """The form offers "AK/SK" (5 characters: "aksk" would make Airflow's masker warn), and
    saves every field it shows, a port of 0 and nulls included."""
    form = Connection(
        conn_id="metastudio_form",
        conn_type="huaweicloud_metastudio",
        login=AK,
        password=SK,
        port=0,
        extra=json.dumps({"auth_type": spelling, "project_id": PROJECT, "region": None, "verify": None}),
    )
    settings = parse_connection(form)
    assert settings.auth_type == "aksk" and settings.secret_key is not None


def test_region_endpoint_and_overrides() -> None:
    settings = parse_connection(
        conn(
            region="ap-southeast-3",
            endpoint="https://metastudio.ap-southeast-3.myhuaweicloud.com:443/",
            iam_endpoint="https://iam.myhuaweicloud.com",
            app_user_id="end-user-42",
            verify="false",
            timeout="12.5",
            max_retries=2,
            security_token="temporary-security-token-value",
        )
    )
    # the default port is dropped so the signed Host equals the one requests sends
    assert settings.endpoint == "https://metastudio.ap-southeast-3.myhuaweicloud.com"
    assert settings.iam_endpoint == "https://iam.myhuaweicloud.com"
    assert (settings.region, settings.app_user_id, settings.verify) == (
        "ap-southeast-3",
        "end-user-42",
        False,
    )
    assert (settings.timeout, settings.max_retries) == (12.5, 2)
    assert settings.security_token is not None


def test_loopback_http_and_port_kept() -> None:
    settings = parse_connection(conn(endpoint="http://127.0.0.1:8080"))
    assert settings.endpoint == "http://127.0.0.1:8080"
    assert settings.host == "127.0.0.1:8080"


def test_password_mode() -> None:
    settings = parse_connection(
        conn(login="iam-user", password="iam-pass-123", auth_type="password", domain_name="acct")
    )
    assert (settings.auth_type, settings.user_name, settings.domain_name) == ("password", "iam-user", "acct")
    assert settings.password is not None and settings.password.reveal() == "iam-pass-123"


def test_token_mode() -> None:
    settings = parse_connection(conn(login=None, password="MIIready-token-value", auth_type="token"))
    assert settings.token is not None and settings.token.reveal() == "MIIready-token-value"


def test_legacy_prefixed_extras_are_accepted() -> None:
    settings = parse_connection(conn(**{"extra__huaweicloud_metastudio__region": "cn-east-3"}))
    assert settings.region == "cn-east-3"


def test_repr_hides_every_secret() -> None:
    settings = parse_connection(conn(security_token="security-token-xyz"))
    text = repr(settings) + str(settings) + repr(settings.secret_key) + f"{settings.secret_key}"
    for secret in (AK, SK, "security-token-xyz"):
        assert secret not in text
    assert "project_id" in text


@pytest.mark.parametrize(
    ("connection", "field", "fragment"),
    [
        (conn(project_id=...), "project_id", "missing"),
        (conn(project_id="../etc"), "project_id", "not a project id"),
        (conn(auth_type="oauth"), "auth_type", "not supported"),
        (conn(region="north"), "region", "not a region"),
        (conn(endpoint="http://metastudio.example.com"), "endpoint", "unencrypted"),
        (conn(endpoint="ftp://127.0.0.1"), "endpoint", "no http(s) scheme"),
        (conn(endpoint="https://u:p@example.com"), "endpoint", "credentials"),
        (conn(endpoint="https://example.com/v1?x=1"), "endpoint", "path, query or fragment"),
        (conn(endpoint="https://exa mple.com"), "endpoint", "not a valid host"),
        (conn(iam_endpoint="http://iam.example.com"), "iam_endpoint", "unencrypted"),
        (conn(verify="/nonexistent/ca.pem"), "verify", "does not exist"),
        (conn(timeout="soon"), "timeout", "not a number"),
        (conn(timeout=0), "timeout", "out of range"),
        (conn(max_retries=99), "max_retries", "out of range"),
        (conn(app_user_id="user\r\nX-Evil: 1"), "app_user_id", "CR/LF"),
        (conn(app_user_id="用户"), "app_user_id", "non-ASCII"),
        (conn(app_user_id="x" * 300), "app_user_id", "characters long"),
        (conn(login=None), "login (AK)", "missing"),
        (conn(login="AK WITH SPACE"), "login (AK)", "not an access key"),
        (conn(password=None), "password (SK)", "missing"),
        (conn(password="sk\nsk"), "password (SK)", "CR/LF"),
        (conn(login="u", auth_type="password", domain_name=...), "domain_name", "missing"),
        (conn(auth_type="token", password="tok en"), "password (X-Auth-Token)", "spaces"),
        (conn(auth_type="token", security_token="abcdefgh"), "security_token", "only used with"),
        (conn(host="metastudio.example.com"), "host", "extras"),
        (conn(retry_delay=5, retry_max_delay=1), "retry_max_delay", "smaller"),
    ],
)
def test_bad_fields_name_the_field_and_the_fix(connection: Connection, field: str, fragment: str) -> None:
    with pytest.raises(VoiceTrainingConnectionError) as info:
        parse_connection(connection)
    message = str(info.value)
    assert field in message
    assert fragment in message
    assert "Fix:" in message
    assert SK not in message


def test_password_mode_needs_a_login() -> None:
    with pytest.raises(VoiceTrainingConnectionError, match="IAM user name"):
        parse_connection(conn(login=None, auth_type="password", domain_name="d"))


def test_secret_values_never_appear_in_errors() -> None:
    with pytest.raises(VoiceTrainingConnectionError) as info:
        parse_connection(conn(password="super-secret\nvalue"))
    assert "super-secret" not in str(info.value)


@pytest.mark.parametrize("form", ["json", "uri"])
def test_env_var_forms_resolve_through_airflow(monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    if form == "json":
        value = json.dumps(
            {
                "conn_type": "huaweicloud_metastudio",
                "login": AK,
                "password": "s/k+with=specials",
                "extra": {"project_id": PROJECT, "region": "cn-east-3", "verify": False},
            }
        )
    else:
        value = (
            f"huaweicloud-metastudio://{AK}:s%2Fk%2Bwith%3Dspecials@/"
            f"?project_id={PROJECT}&region=cn-east-3&verify=false"
        )
    monkeypatch.setenv("AIRFLOW_CONN_METASTUDIO_FORMS", value)
    airflow_conn = base_hook_class().get_connection("metastudio_forms")
    settings: ConnectionSettings = parse_connection(airflow_conn)
    assert settings.secret_key is not None and settings.secret_key.reveal() == "s/k+with=specials"
    assert (settings.region, settings.verify, settings.project_id) == ("cn-east-3", False, PROJECT)


def test_extra_that_is_not_json_is_reported_as_such() -> None:
    broken = Connection(
        conn_id="broken", conn_type="huaweicloud_metastudio", login=AK, password=SK, extra="{oops"
    )
    with pytest.raises(VoiceTrainingConnectionError, match="extra: is not valid JSON"):
        parse_connection(broken)


def _short_secret_warning_flag() -> Any:
    try:  # 3.1+
        from airflow.sdk._shared.secrets_masker.secrets_masker import SecretsMasker
    except ImportError:  # 3.0.x
        from airflow.sdk.execution_time.secrets_masker import SecretsMasker  # type: ignore[no-redef]
    return SecretsMasker


def test_short_extra_values_do_not_make_airflow_warn_too_short_to_mask(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Airflow's masker warns "Skipping masking for a secret as it's too short" for any extra
    value under 5 characters read through ``extra_dejson`` (in every task and trigger log). The
    parser reads the raw JSON instead; the hook masks the credentials itself."""
    masker = _short_secret_warning_flag()
    short = conn(auth_type="aksk", verify="true", region="cn-north-4", app_user_id="u1")
    monkeypatch.setattr(masker, "_has_warned_short_secret", False)
    with caplog.at_level("WARNING"):
        settings = parse_connection(short)
    assert (settings.auth_type, settings.verify, settings.app_user_id) == ("aksk", True, "u1")
    assert "too short" not in caplog.text
    # the warning is real: Airflow's own accessor emits it for the same connection
    with caplog.at_level("WARNING"):
        assert short.extra_dejson["auth_type"] == "aksk"
    assert "too short" in caplog.text
