"""The secrets scan of the system tests can fail: it finds each kind of credential it looks for
(plain, percent-encoded, issued IAM tokens known only by digest), in files and decrypted trigger
rows, and stays quiet on clean text. Uses the in-thread emulator (no Airflow components)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.system.cluster import decrypt_trigger_kwargs
from tests.system.secret_scan import SecretScanner

pytestmark = pytest.mark.system

SECRETS = {"SK": "emulator-demo-secret-key-0000000000000000", "IAM password": "Emulator-Passw0rd!"}


def test_finds_plain_and_percent_encoded_secrets_without_quoting_them() -> None:
    scanner = SecretScanner(SECRETS)
    scanner.scan_text("logs", "a", "ok\npassword=Emulator-Passw0rd! and again Emulator-Passw0rd!")
    scanner.scan_text("logs", "b", "uri: huaweicloud-metastudio://user:Emulator-Passw0rd%21@/?x=1")
    scanner.scan_text("logs", "c", "sk=*** password=*** nothing to see")
    assert [(f.source, f.secret) for f in scanner.findings] == [
        ("a", "IAM password"),
        ("a", "IAM password"),
        ("b", "IAM password"),
    ]
    assert all("Passw0rd" not in str(f) for f in scanner.findings)
    assert scanner.tally["logs"].items == 3 and scanner.tally["logs"].bytes > 100


def test_finds_issued_tokens_by_digest(emu) -> None:  # type: ignore[no-untyped-def]
    token = emu.control.issue_token()
    other = emu.control.issue_token()
    scanner = SecretScanner(SECRETS, emu.control.tokens())
    assert scanner.token_count == 2
    scanner.scan_text("xcom", "hit", json.dumps({"headers": {"X-Auth-Token": token}}))
    scanner.scan_text("xcom", "prefix only", token[:40] + " MII" + "x" * 300)
    scanner.scan_text("xcom", "at the end", "token " + other)
    assert [(f.source, f.secret) for f in scanner.findings] == [
        ("hit", "issued IAM token #1"),
        ("at the end", "issued IAM token #2"),
    ]
    assert all(token not in str(f) and other not in str(f) for f in scanner.findings)


def test_scans_files_and_decrypted_trigger_rows(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    row = Fernet(key.encode()).encrypt(json.dumps({"password": SECRETS["SK"]}).encode()).decode()
    assert SECRETS["SK"] not in row
    log = tmp_path / "attempt=1.log"
    log.write_bytes(b'{"event": "clean"}\n{"event": "sk emulator-demo-secret-key-0000000000000000"}\n\xff')
    scanner = SecretScanner(SECRETS)
    scanner.scan_text("trigger rows", "trigger 1", decrypt_trigger_kwargs(key, row))
    scanner.scan_text("trigger rows", "trigger 2", decrypt_trigger_kwargs(key, '{"job_id": "plain row"}'))
    scanner.scan_file("task logs", log)
    assert [(f.category, f.source, f.secret) for f in scanner.findings] == [
        ("trigger rows", "trigger 1", "SK"),
        ("task logs", str(log), "SK"),
    ]


def test_refuses_secrets_too_short_to_search() -> None:
    with pytest.raises(ValueError, match="too short"):
        SecretScanner({"pin": "1234"})
