"""Table-driven bad input: connection fields, hook / sensor / operator arguments, API responses.

For input that is ours, each row must fail with an error naming the field and the fix, raised
before any request: the emulator's request log proves nothing was sent. For bad API responses,
the error must say what is wrong with the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_voicetraining.errors import (
    VoiceTrainingConnectionError,
    VoiceTrainingError,
    VoiceTrainingPackageError,
    VoiceTrainingResponseError,
    VoiceTrainingValidationError,
)
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
from airflow_provider_voicetraining.operators.voice_assessment import AssessVoiceRecordingsOperator
from airflow_provider_voicetraining.operators.voice_training import (
    CreateVoiceTrainingJobOperator,
    VoiceTrainingJobResultOperator,
)
from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor

JOB = "26f06524-4f75-4b3a-a853-b649a21aaf66"


@dataclass
class Case:
    name: str
    run: Callable[[Any], Any]  # gets the emulator
    error: type[Exception]
    mentions: tuple[str, ...]
    conn: dict[str, Any] = field(default_factory=dict)  # connection overrides
    ours: bool = True  # our input: nothing may be sent


def hook_call(fn: Callable[[VoiceTrainingHook], Any]) -> Callable[[Any], Any]:
    return lambda emu: fn(VoiceTrainingHook())


def create_op(tmp: Path, **kwargs: Any) -> Callable[[Any], Any]:
    def run(emu: Any) -> Any:
        args = {
            "task_id": "create",
            "edition": "basic",
            "voice_name": "v",
            "training_package": str(tmp / "p.zip"),
        }
        args.update(kwargs)
        return CreateVoiceTrainingJobOperator(**args).execute({})

    return run


def _not_a_zip(tmp: Path) -> str:
    path = tmp / "not-a-zip.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("plain text")
    return str(path)


def _package(tmp: Path, wav: bool = True) -> str:
    if not wav:
        import zipfile

        tmp.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(tmp / "texts.zip", "w") as archive:
            archive.writestr("0.txt", "only a transcript")
        return str(tmp / "texts.zip")
    from airflow_provider_voicetraining.packages import make_synthetic_package

    return make_synthetic_package(tmp / "good.zip", "basic", seconds=0.01)


def _cases(tmp: Path) -> list[Case]:
    conn_get = hook_call(lambda h: h.get_job(JOB))
    return [
        # -- connection fields -----------------------------------------------------------------
        Case(
            "conn: missing project_id",
            conn_get,
            VoiceTrainingConnectionError,
            ("project_id", "missing"),
            {"project_id": None},
        ),
        Case(
            "conn: unknown auth_type",
            conn_get,
            VoiceTrainingConnectionError,
            ("auth_type", "use one of"),
            {"auth_type": "kerberos"},
        ),
        Case(
            "conn: http:// to a remote host",
            conn_get,
            VoiceTrainingConnectionError,
            ("endpoint", "https"),
            {"endpoint": "http://metastudio.example.com"},
        ),
        Case(
            "conn: bad region",
            conn_get,
            VoiceTrainingConnectionError,
            ("region", "cn-north-4"),
            {"region": "mars-1a"},
        ),
        Case(
            "conn: bad verify path",
            conn_get,
            VoiceTrainingConnectionError,
            ("verify", "CA bundle"),
            {"verify": "/no/such/ca.pem"},
        ),
        Case(
            "conn: endpoint with a path",
            conn_get,
            VoiceTrainingConnectionError,
            ("endpoint", "scheme://host"),
            {"endpoint": "https://example.com/../admin"},
        ),
        Case(
            "conn: CR/LF in app_user_id",
            conn_get,
            VoiceTrainingConnectionError,
            ("app_user_id", "CR/LF"),
            {"app_user_id": "u\r\nX-Injected: 1"},
        ),
        Case(
            "conn: negative timeout",
            conn_get,
            VoiceTrainingConnectionError,
            ("timeout", "between"),
            {"timeout": -1},
        ),
        Case(
            "conn: empty SK",
            conn_get,
            VoiceTrainingConnectionError,
            ("password (SK)", "missing"),
            {"password": ""},
        ),
        Case(
            "conn: AK with a newline",
            conn_get,
            VoiceTrainingConnectionError,
            ("login (AK)", "access key"),
            {"login": "EMULATORAK\n0000001"},
        ),
        Case(
            "conn: password mode without domain",
            conn_get,
            VoiceTrainingConnectionError,
            ("domain_name",),
            {"auth_type": "password", "domain_name": None},
        ),
        # -- hook arguments ----------------------------------------------------------------------
        Case(
            "job_id: path traversal",
            hook_call(lambda h: h.get_job("../../v2/admin")),
            VoiceTrainingValidationError,
            ("job_id", "path separator"),
        ),
        Case(
            "job_id: separator",
            hook_call(lambda h: h.delete_job("abc/def")),
            VoiceTrainingValidationError,
            ("job_id", "path separator"),
        ),
        Case(
            "job_id: backslash",
            hook_call(lambda h: h.get_audit_result("abc\\def")),
            VoiceTrainingValidationError,
            ("job_id",),
        ),
        Case(
            "job_id: query injection",
            hook_call(lambda h: h.get_job("abc?state=x")),
            VoiceTrainingValidationError,
            ("job_id", "A-Z a-z 0-9"),
        ),
        Case(
            "job_id: empty",
            hook_call(lambda h: h.get_job("")),
            VoiceTrainingValidationError,
            ("job_id", "empty"),
        ),
        Case(
            "job_id: oversized",
            hook_call(lambda h: h.get_job("a" * 500)),
            VoiceTrainingValidationError,
            ("job_id", "500 characters"),
        ),
        Case(
            "app_user_id: CR/LF",
            hook_call(lambda h: h.get_job(JOB, app_user_id="a\nb")),
            VoiceTrainingValidationError,
            ("app_user_id", "CR/LF"),
        ),
        Case(
            "app_user_id: non-ASCII",
            hook_call(lambda h: h.get_job(JOB, app_user_id="用户7")),
            VoiceTrainingValidationError,
            ("app_user_id", "non-ASCII"),
        ),
        Case(
            "app_user_id: empty",
            hook_call(lambda h: h.get_job(JOB, app_user_id="")),
            VoiceTrainingValidationError,
            ("app_user_id", "empty"),
        ),
        Case(
            "app_user_id: oversized",
            hook_call(lambda h: h.get_job(JOB, app_user_id="u" * 300)),
            VoiceTrainingValidationError,
            ("app_user_id",),
        ),
        Case(
            "create: unknown edition",
            hook_call(lambda h: h.create_job("flexus", voice_name="v")),
            VoiceTrainingValidationError,
            ("edition", "basic"),
        ),
        Case(
            "create: oversized voice_name",
            hook_call(lambda h: h.create_job("basic", voice_name="v" * 300)),
            VoiceTrainingValidationError,
            ("voice_name", "shorten"),
        ),
        Case(
            "create: tag not in the enum",
            hook_call(lambda h: h.create_job("basic", voice_name="v", tag="SPORTS")),
            VoiceTrainingValidationError,
            ("tag", "ECOMMERCE"),
        ),
        Case(
            "list: limit over 100",
            hook_call(lambda h: h.list_jobs(page_size=1000)),
            VoiceTrainingValidationError,
            ("page_size", "1..100"),
        ),
        Case(
            "list: naive datetime",
            hook_call(lambda h: h.list_jobs(create_since=__import__("datetime").datetime(2026, 1, 1))),
            VoiceTrainingValidationError,
            ("create_since", "timezone"),
        ),
        # -- sensor and operator arguments ---------------------------------------------------------
        Case(
            "sensor: rendered job_id is a path",
            lambda emu: VoiceTrainingJobSensor(task_id="s", job_id="/etc/passwd").poke({}),
            VoiceTrainingValidationError,
            ("job_id",),
        ),
        Case(
            "sensor: failure_states without FAILED",
            lambda emu: VoiceTrainingJobSensor(task_id="s", job_id=JOB, failure_states=["AUDIT_FAILED"]),
            VoiceTrainingValidationError,
            ("failure_states", "FAILED"),
        ),
        Case(
            "sensor: app_user_id CR/LF",
            lambda emu: VoiceTrainingJobSensor(task_id="s", job_id=JOB, app_user_id="x\r\n").poke({}),
            VoiceTrainingValidationError,
            ("app_user_id",),
        ),
        Case(
            "result: rendered job_id is a list",
            lambda emu: VoiceTrainingJobResultOperator(task_id="r", job_id=["a", "b"]).execute({}),
            VoiceTrainingValidationError,
            ("job_id", "must be a string"),
        ),
        Case(
            "result: negative poll_interval",
            lambda emu: VoiceTrainingJobResultOperator(task_id="r", job_id=JOB, poll_interval=-5),
            VoiceTrainingValidationError,
            ("poll_interval",),
        ),
        Case(
            "create: package does not exist",
            create_op(tmp),
            VoiceTrainingPackageError,
            ("training_package", "does not exist"),
        ),
        Case(
            "create: package is not a zip",
            lambda emu: create_op(tmp, training_package=_not_a_zip(tmp))(emu),
            VoiceTrainingPackageError,
            ("training_package", "not a zip"),
        ),
        Case(
            "create: empty voice_name",
            lambda emu: create_op(tmp, voice_name="", training_package=_package(tmp))(emu),
            VoiceTrainingValidationError,
            ("voice_name", "empty"),
        ),
        Case(
            "create: package path is empty",
            create_op(tmp, training_package=""),
            VoiceTrainingPackageError,
            ("training_package", "empty"),
        ),
        Case(
            "create: unknown commit override",
            lambda emu: create_op(tmp, training_package=_package(tmp), commit_overrides={"colour": "red"})(
                emu
            ),
            VoiceTrainingValidationError,
            ("commit overrides",),
        ),
        Case(
            "create: bad sex with a good package",
            lambda emu: create_op(tmp, training_package=_package(tmp), sex="robot")(emu),
            VoiceTrainingValidationError,
            ("sex", "FEMALE"),
        ),
        Case(
            "create: on_abort typo",
            create_op(tmp, on_abort="remove"),
            VoiceTrainingValidationError,
            ("on_abort", "leave"),
        ),
        Case(
            "create: negative quota_wait_timeout",
            create_op(tmp, quota_wait_timeout=-1),
            VoiceTrainingValidationError,
            ("quota_wait_timeout",),
        ),
        Case(
            "create: commit body app_user_id with CR/LF",
            lambda emu: create_op(
                tmp, training_package=_package(tmp), commit_overrides={"app_user_id": "user\r\nX-Evil: 1"}
            )(emu),
            VoiceTrainingValidationError,
            ("app_user_id (commit body)",),
        ),
        Case(
            "assess: zip without a recording",
            lambda emu: AssessVoiceRecordingsOperator(task_id="a", package=_package(tmp, wav=False)).execute(
                {}
            ),
            VoiceTrainingPackageError,
            ("package", ".wav"),
        ),
        Case(
            "assess: language typo",
            lambda emu: AssessVoiceRecordingsOperator(
                task_id="a", package=_package(tmp), language="FR"
            ).execute({}),
            VoiceTrainingValidationError,
            ("language", "CN"),
        ),
        # -- API responses ------------------------------------------------------------------------
        Case(
            "response: job without state",
            lambda emu: VoiceTrainingHook().get_job(
                emu.control.seed_job(state="WAITING", omit_fields=["state"])["job_id"]
            ),
            VoiceTrainingResponseError,
            ("show_job", "no state"),
            {"max_retries": 0},
            ours=False,
        ),
        Case(
            "response: SUCCEED without asset_id",
            lambda emu: VoiceTrainingJobSensor(
                task_id="s",
                job_id=emu.control.seed_job(state="SUCCEED", omit_fields=["asset_id"])["job_id"],
                max_consecutive_errors=0,
            ).poke(_ctx()),
            VoiceTrainingResponseError,
            ("SUCCEED", "asset_id"),
            ours=False,
        ),
        Case(
            "response: non-JSON body",
            lambda emu: (
                emu.control.set_faults([{"route": "show_job", "kind": "malformed"}]),
                VoiceTrainingHook().get_job(emu.control.seed_job(state="WAITING")["job_id"]),
            ),
            VoiceTrainingResponseError,
            ("does not match the API",),
            {"max_retries": 1},
            ours=False,
        ),
    ]


class _TI:
    """Only what a poke touches before the answer is judged: the console-URL XCom."""

    def xcom_push(self, key: str, value: Any) -> None:
        pass


def _ctx() -> dict[str, Any]:
    return {"ti": _TI()}


CASE_NAMES = [c.name for c in _cases(Path("/nonexistent"))]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input(emu, use_conn, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    case = next(c for c in _cases(tmp_path) if c.name == name)
    extra = {k: v for k, v in case.conn.items() if k not in ("login", "password")}
    use_conn(emu, extra_overrides=extra, login=case.conn.get("login"), password=case.conn.get("password"))
    emu.control.clear_requests()
    with pytest.raises(VoiceTrainingError) as info:
        case.run(emu)
    assert isinstance(info.value, case.error), f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    for fragment in case.mentions:
        assert fragment in message, message
    if case.ours:
        assert "Fix:" in message
        assert emu.control.requests() == [], "a request was sent despite bad input"
    assert emu.config.secret_key not in message


# ---------------------------------------------------------------- every field, every character
#: characters no field may hold: a trailing newline is a character too (``$`` matched before it)
BAD_CHARACTERS = {
    "trailing LF": "{}\n",
    "CR/LF inside": "{}\r\nX-Injected: 1",
    "NUL": "{}\x00",
    "ESC": "\x1b[31m{}",
    "TAB": "{}\t",
    "DEL": "{}\x7f",
    "lone surrogate": "{}\ud800",
}


def _job_id_methods() -> list[str]:
    """Every public hook method whose first argument is a job id (found, not listed by hand)."""
    import inspect

    return sorted(
        name
        for name, fn in inspect.getmembers(VoiceTrainingHook, inspect.isfunction)
        if not name.startswith("_") and list(inspect.signature(fn).parameters)[1:2] == ["job_id"]
    )


JOB_ID_METHODS = _job_id_methods()


def _call_hook(name: str, job_id: str) -> Any:
    import asyncio

    hook = VoiceTrainingHook()
    if name.startswith("a") and name[1:] in JOB_ID_METHODS:

        async def go() -> Any:
            async with VoiceTrainingHook() as ahook:
                return await getattr(ahook, name)(job_id)

        return asyncio.run(go())
    return getattr(hook, name)(job_id)


def test_every_job_id_method_is_found() -> None:
    assert len(JOB_ID_METHODS) >= 12, JOB_ID_METHODS


@pytest.mark.parametrize("bad", list(BAD_CHARACTERS))
@pytest.mark.parametrize("method", JOB_ID_METHODS)
def test_job_ids_are_refused_for_every_character(emu, use_conn, method: str, bad: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    emu.control.clear_requests()
    with pytest.raises(VoiceTrainingValidationError) as info:
        _call_hook(method, BAD_CHARACTERS[bad].format("abc"))
    message = str(info.value)
    assert "job_id" in message and "Fix:" in message, message
    assert "\n" not in message and "\r" not in message and "\x1b" not in message
    assert emu.control.requests() == [], "a request was sent despite a bad job id"


@pytest.mark.parametrize("bad", ["trailing LF", "CR/LF inside", "NUL", "ESC"])
@pytest.mark.parametrize("waiter", ["sensor poke", "result operator"])
def test_task_job_ids_are_refused_for_every_character(emu, use_conn, waiter: str, bad: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    emu.control.clear_requests()
    job_id = BAD_CHARACTERS[bad].format(JOB)
    with pytest.raises(VoiceTrainingValidationError, match="job_id"):
        if waiter == "sensor poke":
            VoiceTrainingJobSensor(task_id="s", job_id=job_id).poke(_ctx())  # type: ignore[arg-type]
        else:
            VoiceTrainingJobResultOperator(task_id="r", job_id=job_id).execute(_ctx())  # type: ignore[arg-type]
    assert emu.control.requests() == []


#: connection fields -> a good value each bad character is added to ("login" is the AK)
CONNECTION_FIELDS = {
    "project_id": "0123456789abcdef0123456789abcdef",
    "region": "cn-north-4",
    "login": "EMULATORAK0000000001",
    "endpoint": "https://metastudio.cn-north-4.myhuaweicloud.com",
    "iam_endpoint": "https://iam.cn-north-4.myhuaweicloud.com",
    "app_user_id": "user-7",
    "verify": "true",
    "console_url": "https://console.example.com/jobs/{job_id}",
    "security_token": "TemporarySecurityToken0001",
}


@pytest.mark.parametrize("bad", ["trailing LF", "CR/LF inside", "NUL", "ESC", "TAB"])
@pytest.mark.parametrize("name", list(CONNECTION_FIELDS))
def test_connection_fields_are_refused_for_every_character(emu, use_conn, name: str, bad: str) -> None:  # type: ignore[no-untyped-def]
    value = BAD_CHARACTERS[bad].format(CONNECTION_FIELDS[name])
    if name == "login":
        use_conn(emu, login=value)
    elif name == "endpoint":
        use_conn(
            emu,
            extra_overrides={
                "endpoint": value.replace("https://metastudio.cn-north-4.myhuaweicloud.com", emu.url)
            },
        )
    else:
        use_conn(emu, extra_overrides={name: value})
    emu.control.clear_requests()
    with pytest.raises(VoiceTrainingConnectionError) as info:
        VoiceTrainingHook().get_job(JOB)
    message = str(info.value)
    shown = "login (AK)" if name == "login" else name
    assert f"field {shown}" in message and "Fix:" in message, message
    assert emu.control.requests() == []
    if name in ("login", "security_token"):
        assert CONNECTION_FIELDS[name] not in message


#: free-text fields of create, commit and list: each refused with every bad character
TEXT_FIELDS = {
    "create": ["voice_name", "description", "phone", "batch_name", "output_language", "custom_text"],
    "commit": ["voice_name", "description", "phone", "output_language", "custom_text"],
    "list": ["voice_name", "batch_name", "create_since", "update_until"],
}
TEXT_CASES = [(where, name) for where, names in TEXT_FIELDS.items() for name in names]


def _send_text(where: str, name: str, value: str) -> Any:
    hook = VoiceTrainingHook()
    if where == "create":
        fields = {"voice_name": "v", name: value}
        voice = fields.pop("voice_name")
        return hook.create_job("basic", voice_name=voice, **fields)
    if where == "commit":
        return hook.commit_job(JOB, {name: value})
    return next(iter(hook.list_jobs(**{name: value})), None)


@pytest.mark.parametrize("bad", ["trailing LF", "CR/LF inside", "NUL", "ESC", "lone surrogate"])
@pytest.mark.parametrize(("where", "name"), TEXT_CASES, ids=[f"{w}-{n}" for w, n in TEXT_CASES])
def test_free_text_fields_are_refused_for_every_character(
    emu, use_conn, where: str, name: str, bad: str
) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    emu.control.clear_requests()
    good = "2026-01-01T00:00:00Z" if name.endswith(("since", "until")) else "text"
    with pytest.raises(VoiceTrainingValidationError) as info:
        _send_text(where, name, BAD_CHARACTERS[bad].format(good))
    message = str(info.value)
    assert name in message and "Fix:" in message, message
    assert emu.control.requests() == []


@pytest.mark.parametrize(
    ("where", "value"),
    [("tag", "ECOMMERCE\n"), ("sex", "FEMALE\x00"), ("language", "CN\r\n"), ("edition", "basic\n")],
)
def test_choices_are_refused_for_every_character(emu, use_conn, where: str, value: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    emu.control.clear_requests()
    with pytest.raises(VoiceTrainingValidationError, match=where):
        if where == "edition":
            VoiceTrainingHook().create_job(value, voice_name="v")
        else:
            VoiceTrainingHook().create_job("basic", voice_name="v", **{where: value})
    assert emu.control.requests() == []
