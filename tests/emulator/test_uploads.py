"""Presigned OBS-like uploads: signature, expiry, content types, stored metadata."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from .helpers import Api, make_zip, pairs


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _obs_error(r, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/xml")
    assert f"<Code>{code}</Code>" in r.text
    assert r.headers["X-Request-Id"] in r.text


def test_presigned_urls_point_at_the_emulator_and_not_at_the_user_sk(api: Api) -> None:
    created = api.create("basic")
    url = created["training_data_uploading_url"]
    assert url.startswith(api.url + f"/_obs/{created['job_id']}/data.zip?")
    query = parse_qs(urlsplit(url).query)
    assert set(query) == {"AccessKeyId", "Expires", "Signature"}
    assert query["AccessKeyId"][0] != api.cfg.access_key
    assert created["authorization_letter_uploading_url"].startswith(api.url + "/_obs/")


def test_upload_stores_metadata_only(api: Api) -> None:
    created = api.create("basic")
    data = make_zip({"0.wav": b"R" * 1000, "sub/1.txt": b"text"})
    r = api.upload(created["training_data_uploading_url"], data)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["ETag"].strip('"') and len(r.headers["X-Request-Id"]) == 32
    package = api.emu.control.job(created["job_id"])["uploads"]["package"]
    assert package["size"] == len(data) and package["is_zip"] is True
    assert package["members"] == ["0.wav", "sub/1.txt"]
    assert package["etag"] == r.headers["ETag"]
    assert "data" not in package and "content" not in package
    assert api.show(created["job_id"])["training_input_source_url"].endswith("/data.zip")
    not_zip = api.upload(created["training_data_uploading_url"], b"plain bytes")
    assert not_zip.status_code == 200
    assert api.emu.control.job(created["job_id"])["uploads"]["package"]["is_zip"] is False
    entry = api.emu.control.requests("obs_upload")[-1]
    assert entry["auth"] == "presigned" and entry["method"] == "PUT"


def test_bad_signature_expiry_and_content_type(api: Api) -> None:
    created = api.create("basic")
    url = created["training_data_uploading_url"]
    data = make_zip(pairs(20))
    _obs_error(api.upload(_with_query(url, Signature="AAAA"), data), 403, "SignatureDoesNotMatch")
    expires = int(parse_qs(urlsplit(url).query)["Expires"][0])
    _obs_error(api.upload(_with_query(url, Expires=str(expires + 10)), data), 403, "SignatureDoesNotMatch")
    no_query = url.split("?")[0]
    _obs_error(api.upload(no_query, data), 403, "AccessDenied")
    other_job = api.create("basic")["job_id"]
    _obs_error(api.upload(url.replace(created["job_id"], other_job), data), 403, "SignatureDoesNotMatch")
    _obs_error(api.upload(url, data, "application/octet-stream"), 400, "InvalidArgument")
    api.emu.control.set_clock_offset(2 * 3600)  # presigned URLs live 1 h by default
    _obs_error(api.upload(url, data), 403, "AccessDenied")
    api.emu.control.set_clock_offset(0)
    assert api.upload(url, data, "application/zip; charset=binary").status_code == 200
    assert api.session.get(url).status_code == 404  # only PUT exists


def test_authorization_letter_and_deleted_job(api: Api) -> None:
    created = api.create("basic")
    r = api.upload(created["authorization_letter_uploading_url"], b"%PDF-1.4", "application/pdf")
    assert r.status_code == 200
    assert api.show(created["job_id"])["voice_authorization_url"].endswith("/authorization/letter")
    api.call("DELETE", f"/user/jobs/{created['job_id']}")
    _obs_error(api.upload(created["training_data_uploading_url"], b"x"), 404, "NoSuchKey")
