"""Conformance tests for ``airflow_provider_voicetraining._wire.signing`` (``SDK-HMAC-SHA256``).

Three layers:

* the published vectors (``/work/shared/reference/signing-vectors.json``, made with the official
  ``huaweicloudsdkcore`` 3.1.219 ``Signer``), component by component, plus server-side verification;
* property-based comparison with the official ``Signer`` itself on generated requests;
* the sign -> verify round trip, and the small parsing/formatting helpers.

Importing ``huaweicloudsdkcore`` writes ``$HOME/.huaweicloud/application_id``, so the SDK is imported
lazily, once, with ``HOME`` pointing at a temporary directory (see :func:`_official`).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import string
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from airflow_provider_voicetraining._wire import signing

VECTORS_FILE = Path("/work/shared/reference/signing-vectors.json")
VECTORS_DOC = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
INPUTS = VECTORS_DOC["inputs"]
VECTORS = VECTORS_DOC["vectors"]
AK = INPUTS["ak"]
SK = INPUTS["sk"]
HOST = INPUTS["host"]
SDK_DATE = INPUTS["x_sdk_date"]

_SDK_HOME = tempfile.mkdtemp(prefix="huaweicloud-home-")
atexit.register(shutil.rmtree, _SDK_HOME, True)


@functools.cache
def _official() -> SimpleNamespace:
    """Import the official SDK with ``HOME`` at a temporary directory, then restore ``HOME``.

    A plain import (no ``importorskip``): the SDK is a declared test dependency.
    """
    saved = os.environ.get("HOME")
    os.environ["HOME"] = _SDK_HOME
    try:
        from huaweicloudsdkcore.auth.credentials import BasicCredentials
        from huaweicloudsdkcore.sdk_request import SdkRequest
        from huaweicloudsdkcore.signer.signer import Signer
    finally:
        if saved is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = saved
    return SimpleNamespace(BasicCredentials=BasicCredentials, SdkRequest=SdkRequest, Signer=Signer)


def official_sign(
    *,
    method: str,
    path: str,
    query_params: list[tuple[str, Any]],
    headers: dict[str, str],
    body: bytes | str | None,
    host: str,
    access_key: str,
    secret_key: str,
) -> Any:
    """Sign with the official ``Signer``; returns the (mutated) ``SdkRequest``."""
    sdk = _official()
    request = sdk.SdkRequest(
        method=method,
        schema="https",
        host=host,
        resource_path=path,
        query_params=list(query_params),
        header_params=dict(headers),
        body=body,
    )
    return sdk.Signer(sdk.BasicCredentials(access_key, secret_key)).sign(request)


def our_sign(
    *,
    method: str,
    path: str,
    pairs: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes | None,
    host: str = HOST,
    access_key: str = AK,
    secret_key: str = SK,
) -> dict[str, str]:
    return signing.sign(
        method=method,
        path=path,
        query=signing.canonical_query(pairs),
        headers=headers,
        body=body,
        host=host,
        access_key=access_key,
        secret_key=secret_key,
    )


# ---------------------------------------------------------------------------------------------
# 1. Published vectors
# ---------------------------------------------------------------------------------------------


def _vector_body(vector: dict[str, Any]) -> bytes | None:
    body = vector["body"]
    return None if body is None else body.encode("utf-8")


def _vector_pairs(vector: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in vector["query"]]


def _vector_wire(vector: dict[str, Any]) -> SimpleNamespace:
    """What the server receives for a vector: path, raw query (= canonical query), headers, body."""
    signed = our_sign(
        method=vector["method"],
        path=vector["path"],
        pairs=_vector_pairs(vector),
        headers=vector["headers_before_signing"],
        body=_vector_body(vector),
    )
    raw_query = vector["canonical_request"].split("\n")[2]
    return SimpleNamespace(
        method=vector["method"],
        path=vector["path"],
        raw_query=raw_query,
        headers=signed,
        body=_vector_body(vector),
        auth=signing.parse_authorization(signed["Authorization"]),
    )


def _verify_wire(wire: SimpleNamespace, secret_key: str = SK) -> bool:
    return signing.verify(
        method=wire.method,
        path=wire.path,
        raw_query=wire.raw_query,
        headers=wire.headers,
        body=wire.body,
        auth=wire.auth,
        secret_key=secret_key,
    )


vector_params = pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])


def test_vectors_file_has_the_three_published_vectors() -> None:
    assert len(VECTORS) == 3
    assert {v["method"] for v in VECTORS} == {"GET", "POST"}


@vector_params
def test_vector_canonical_query(vector: dict[str, Any]) -> None:
    expected = vector["canonical_request"].split("\n")[2]
    assert signing.canonical_query(_vector_pairs(vector)) == expected


@vector_params
def test_vector_canonical_request(vector: dict[str, Any]) -> None:
    headers = signing.prepare_headers(vector["headers_before_signing"], HOST)
    names = signing.signed_header_names(headers)
    canonical = signing.canonical_request(
        vector["method"],
        vector["path"],
        signing.canonical_query(_vector_pairs(vector)),
        headers,
        names,
        _vector_body(vector),
    )
    assert canonical == vector["canonical_request"]


@vector_params
def test_vector_string_to_sign(vector: dict[str, Any]) -> None:
    assert signing.string_to_sign(vector["canonical_request"], SDK_DATE) == vector["string_to_sign"]


@vector_params
def test_vector_authorization(vector: dict[str, Any]) -> None:
    signed = our_sign(
        method=vector["method"],
        path=vector["path"],
        pairs=_vector_pairs(vector),
        headers=vector["headers_before_signing"],
        body=_vector_body(vector),
    )
    assert signed["Authorization"] == vector["authorization"]
    assert signed["Host"] == HOST
    assert signed["X-Sdk-Date"] == SDK_DATE
    # sign() must not mutate its input
    assert "Host" not in vector["headers_before_signing"]


@vector_params
def test_vector_reproduced_by_official_signer(vector: dict[str, Any]) -> None:
    """Sanity check of the harness used by the properties below."""
    request = official_sign(
        method=vector["method"],
        path=vector["path"],
        query_params=_vector_pairs(vector),
        headers=vector["headers_before_signing"],
        body=vector["body"],
        host=HOST,
        access_key=AK,
        secret_key=SK,
    )
    assert request.header_params["Authorization"] == vector["authorization"]


@vector_params
def test_vector_wrong_secret_key_changes_signature(vector: dict[str, Any]) -> None:
    signed = our_sign(
        method=vector["method"],
        path=vector["path"],
        pairs=_vector_pairs(vector),
        headers=vector["headers_before_signing"],
        body=_vector_body(vector),
        secret_key=SK[:-1] + "2",
    )
    good = signing.parse_authorization(vector["authorization"])
    bad = signing.parse_authorization(signed["Authorization"])
    assert bad.signed_headers == good.signed_headers
    assert bad.signature != good.signature


@vector_params
def test_vector_verify_accepts(vector: dict[str, Any]) -> None:
    wire = _vector_wire(vector)
    assert wire.auth.signature == vector["authorization"].rsplit("Signature=", 1)[1]
    assert _verify_wire(wire)


@vector_params
def test_vector_verify_accepts_extra_unsigned_headers(vector: dict[str, Any]) -> None:
    wire = _vector_wire(vector)
    wire.headers = {**wire.headers, "Accept-Encoding": "gzip", "Content-Length": "123", "X_Trace": "t"}
    assert _verify_wire(wire)


@vector_params
def test_vector_verify_rejects_wrong_secret_key(vector: dict[str, Any]) -> None:
    assert not _verify_wire(_vector_wire(vector), secret_key=SK[:-1] + "2")


@vector_params
def test_vector_verify_rejects_tampered_body(vector: dict[str, Any]) -> None:
    wire = _vector_wire(vector)
    wire.body = b'{"voice_name": "evil"}' if wire.body is None else wire.body.replace(b"demo", b"evil")
    assert wire.body != _vector_body(vector)
    assert not _verify_wire(wire)


@vector_params
def test_vector_verify_rejects_tampered_path(vector: dict[str, Any]) -> None:
    wire = _vector_wire(vector)
    wire.path = wire.path.replace("0123456789abcdef", "fedcba9876543210", 1)
    assert wire.path != vector["path"]
    assert not _verify_wire(wire)


@vector_params
def test_vector_verify_rejects_tampered_query(vector: dict[str, Any]) -> None:
    wire = _vector_wire(vector)
    wire.raw_query = wire.raw_query.replace("limit=10", "limit=99") if wire.raw_query else "limit=99"
    assert wire.raw_query != vector["canonical_request"].split("\n")[2]
    assert not _verify_wire(wire)


@vector_params
@pytest.mark.parametrize("header", ["X-Project-Id", "Host", "X-Sdk-Date", "Content-Type"])
def test_vector_verify_rejects_tampered_signed_header(vector: dict[str, Any], header: str) -> None:
    wire = _vector_wire(vector)
    wire.headers = {**wire.headers, header: wire.headers[header][:-1] + "9"}
    assert not _verify_wire(wire)


@vector_params
def test_vector_verify_rejects_missing_signed_header(vector: dict[str, Any]) -> None:
    wire = _vector_wire(vector)
    wire.headers = {k: v for k, v in wire.headers.items() if k != "X-Project-Id"}
    assert not _verify_wire(wire)


@vector_params
def test_vector_verify_rejects_tampered_signature(vector: dict[str, Any]) -> None:
    wire = _vector_wire(vector)
    sig = wire.auth.signature
    wire.auth = signing.ParsedAuthorization(
        wire.auth.algorithm,
        wire.auth.access_key,
        wire.auth.signed_headers,
        sig[:-1] + ("0" if sig[-1] != "0" else "1"),
    )
    assert not _verify_wire(wire)


# ---------------------------------------------------------------------------------------------
# 2. Property: identical to the official Signer
# ---------------------------------------------------------------------------------------------

RESERVED = list(" !*'();:@&=+$,/?#[]%~")
PERCENT_SEQUENCES = ["%20", "%2F", "%2f", "%25", "%3F", "%E4%B8%AD", "%C3%A9", "%zz", "%", "%2", "+"]

unicode_char = st.characters(exclude_categories=("Cs",))
text_piece = st.one_of(
    st.sampled_from(RESERVED),
    st.sampled_from(PERCENT_SEQUENCES),
    st.text(unicode_char, min_size=1, max_size=4),
    st.text(string.ascii_letters + string.digits + "-_.~", min_size=1, max_size=6),
)
# unicode text incl. reserved characters and percent-encoded sequences; may be empty
url_text = st.lists(text_piece, max_size=5).map("".join)

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
methods = st.sampled_from(METHODS + [m.lower() for m in METHODS] + ["Get"])


@st.composite
def paths(draw: st.DrawFn) -> str:
    segments = draw(st.lists(url_text, max_size=5))
    if draw(st.booleans()):
        # the path as sent: each path parameter percent-encoded like the SDK does
        segments = [quote(seg, safe="") for seg in segments]
    path = "/v1/" + "/".join(segments)
    if draw(st.booleans()) and not path.endswith("/"):
        path += "/"
    return path


@st.composite
def query_pairs(draw: st.DrawFn) -> list[tuple[str, str]]:
    keys = draw(st.lists(url_text, min_size=1, max_size=4))
    values = st.one_of(st.just(""), url_text)
    return draw(st.lists(st.tuples(st.sampled_from(keys), values), max_size=8))


def group_repeated(pairs: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    """The SDK's other spelling of repeated keys: one tuple per key, list value."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return [(k, vs if len(vs) > 1 else vs[0]) for k, vs in grouped.items()]


# Names whose case/whitespace handling differs from the SDK are tested separately (section 5).
EXCLUDED_RANDOM_NAMES = {"content-type", "x-sdk-date", "x-sdk-content-sha256", "authorization"}
header_name = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=12)
header_name_with_underscore = st.tuples(header_name, header_name).map(lambda t: f"{t[0]}_{t[1]}")
random_header_name = st.one_of(header_name, header_name, header_name_with_underscore).filter(
    lambda n: n.lower() not in EXCLUDED_RANDOM_NAMES
)
whitespace = st.text(" \t", max_size=3)
ascii_value = st.tuples(
    whitespace, st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E)), whitespace
).map("".join)
header_value = st.one_of(ascii_value, ascii_value, ascii_value, st.text(unicode_char, max_size=8))
CONTENT_TYPES = [
    "application/json",
    "application/json;charset=utf8",
    "application/json; charset=UTF-8",
    "application/bson",
    "application/zip",
    "application/octet-stream",
    "text/plain",
    "multipart/form-data; boundary=xyz",
    "",
    " application/json",
]
SPECIAL_HEADERS = {
    "X-Project-Id": st.text(string.hexdigits.lower(), min_size=32, max_size=32),
    "X-App-UserId": ascii_value,
    "X-Security-Token": ascii_value,
    "User-Agent": ascii_value,
    "Host": st.sampled_from(["other.example.com", "127.0.0.1:9999"]),
    "host": st.sampled_from(["lower.example.com"]),
}


@st.composite
def header_sets(draw: st.DrawFn, *, ascii_only: bool = False) -> dict[str, str]:
    value = ascii_value if ascii_only else header_value
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        headers["Content-Type"] = draw(st.sampled_from(CONTENT_TYPES))
    for name in draw(st.lists(st.sampled_from(sorted(SPECIAL_HEADERS)), unique=True, max_size=4)):
        headers[name] = draw(SPECIAL_HEADERS[name])
    for name in draw(st.lists(random_header_name, max_size=5)):
        headers[name] = draw(value)
    headers["X-Sdk-Date"] = SDK_DATE
    # the X-Sdk-Date position in the dict does not matter; shuffle the order a little
    items = list(headers.items())
    return dict(draw(st.permutations(items)))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(unicode_char, max_size=10),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(unicode_char, max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
bodies = st.one_of(
    st.none(),
    st.just(b""),
    st.binary(min_size=1, max_size=64),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
)
hosts = st.sampled_from([HOST, "127.0.0.1:8080", "localhost", "metastudio.ap-southeast-1.myhuaweicloud.com"])
keys_text = st.text(unicode_char, min_size=1, max_size=20)


def _as_bytes(body: bytes | str | None) -> bytes | None:
    return body.encode("utf-8") if isinstance(body, str) else body


# 200 examples per property and run: nearly all of the time goes to drawing these rich inputs
# (the signing itself is microseconds). Every run draws new examples, and `make test` runs the
# unit tests once per supported Airflow version (signing does not depend on it), so each CI run
# still compares 400 fresh requests with the official Signer per property.
PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@PROPERTY_SETTINGS
@given(
    method=methods,
    path=paths(),
    pairs=query_pairs(),
    grouped=st.booleans(),
    headers=header_sets(),
    body=bodies,
    host=hosts,
    access_key=keys_text,
    secret_key=keys_text,
)
def test_sign_matches_official_signer(
    method: str,
    path: str,
    pairs: list[tuple[str, str]],
    grouped: bool,
    headers: dict[str, str],
    body: bytes | str | None,
    host: str,
    access_key: str,
    secret_key: str,
) -> None:
    ours = our_sign(
        method=method,
        path=path,
        pairs=pairs,
        headers=headers,
        body=_as_bytes(body),
        host=host,
        access_key=access_key,
        secret_key=secret_key,
    )
    official = official_sign(
        method=method,
        path=path,
        query_params=group_repeated(pairs) if grouped else pairs,
        headers=headers,
        body=body,
        host=host,
        access_key=access_key,
        secret_key=secret_key,
    )
    assert ours["Authorization"] == official.header_params["Authorization"]
    assert set(ours) == set(official.header_params)
    for added in set(official.header_params) - set(headers):
        assert ours[added] == official.header_params[added], added
    # the canonical query is also the query the SDK sends
    query = signing.canonical_query(pairs)
    assert official.uri == (f"{path}?{query}" if query else path)


@PROPERTY_SETTINGS
@given(pairs=query_pairs())
def test_canonical_query_matches_official_for_both_repeated_key_spellings(
    pairs: list[tuple[str, str]],
) -> None:
    sdk = _official()
    ours = signing.canonical_query(pairs)
    for params in (pairs, group_repeated(pairs)):
        request = sdk.SdkRequest(query_params=list(params))
        assert sdk.Signer.process_canonical_query_string(request) == ours


def test_repeated_keys_are_sorted_by_value_and_kept() -> None:
    pairs = [("state", "WAITING"), ("a b", "x+y"), ("state", "FAILED"), ("state", "FAILED")]
    expected = "a%20b=x%2By&state=FAILED&state=FAILED&state=WAITING"
    assert signing.canonical_query(pairs) == expected
    request = _official().SdkRequest(query_params=group_repeated(pairs))
    assert _official().Signer.process_canonical_query_string(request) == expected


def test_underscore_headers_are_not_signed_and_non_json_is_unsigned_payload() -> None:
    headers = {"Content-Type": "application/zip", "X_Custom": "x", "X-Sdk-Date": SDK_DATE}
    signed = our_sign(method="PUT", path="/v1/p/upload", pairs=[], headers=headers, body=b"PK\x03\x04")
    assert signed["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    parsed = signing.parse_authorization(signed["Authorization"])
    assert parsed.signed_headers == ["content-type", "host", "x-sdk-content-sha256", "x-sdk-date"]


# ---------------------------------------------------------------------------------------------
# 3. Property: sign -> verify round trip
# ---------------------------------------------------------------------------------------------

access_keys = st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=24)


def _dedupe_case_insensitively(headers: dict[str, str]) -> dict[str, str]:
    """A wire request has one value per header name (names are case-insensitive)."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in headers.items():
        if name.lower() not in seen:
            seen.add(name.lower())
            out[name] = value
    return out


@PROPERTY_SETTINGS
@given(
    method=methods,
    path=paths(),
    pairs=query_pairs(),
    headers=header_sets(ascii_only=True).map(_dedupe_case_insensitively),
    body=bodies.map(_as_bytes),
    host=hosts,
    access_key=access_keys,
    secret_key=keys_text,
    other_key=keys_text,
    data=st.data(),
)
def test_signed_request_verifies_only_with_the_same_secret_key(
    method: str,
    path: str,
    pairs: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes | None,
    host: str,
    access_key: str,
    secret_key: str,
    other_key: str,
    data: st.DataObject,
) -> None:
    assume(other_key != secret_key)
    raw_query = signing.canonical_query(pairs)
    sent = our_sign(
        method=method,
        path=path,
        pairs=pairs,
        headers=headers,
        body=body,
        host=host,
        access_key=access_key,
        secret_key=secret_key,
    )
    auth = signing.parse_authorization(sent["Authorization"])
    assert auth.algorithm == "SDK-HMAC-SHA256"
    assert auth.access_key == access_key
    assert "host" in auth.signed_headers
    assert "x-sdk-date" in auth.signed_headers

    def check(secret: str, hdrs: dict[str, str] = sent) -> bool:
        return signing.verify(
            method=method,
            path=path,
            raw_query=raw_query,
            headers=hdrs,
            body=body,
            auth=auth,
            secret_key=secret,
        )

    assert check(secret_key)
    assert not check(other_key)
    # changing any signed header's value breaks the signature
    victim = data.draw(st.sampled_from(auth.signed_headers), label="tampered header")
    tampered = {k: (v.strip() + "!" if k.lower() == victim else v) for k, v in sent.items()}
    assert not check(secret_key, tampered)


# ---------------------------------------------------------------------------------------------
# 4. Helpers: parse_authorization, parse_query, dates
# ---------------------------------------------------------------------------------------------


def test_parse_authorization_reads_the_three_fields() -> None:
    parsed = signing.parse_authorization(VECTORS[0]["authorization"])
    assert parsed == signing.ParsedAuthorization(
        algorithm="SDK-HMAC-SHA256",
        access_key=AK,
        signed_headers=["content-type", "host", "x-project-id", "x-sdk-date"],
        signature="a59916acd9814b44928819606cf1fde7dfcf218704e625d7d0ad7aca171aa3c4",
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "SDK-HMAC-SHA256",
        "garbage",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date",
        "SDK-HMAC-SHA256 Access=AK, Signature=abc",
        "SDK-HMAC-SHA256 SignedHeaders=host, Signature=abc",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders, Signature=abc",
        "SDK-HMAC-SHA256 Access=AK SignedHeaders=host Signature=abc",
        "SDK-HMAC-SHA256 Access=AK,, Signature=abc",
    ],
)
def test_parse_authorization_rejects_malformed(value: str) -> None:
    with pytest.raises(ValueError):
        signing.parse_authorization(value)


def test_parse_query_keeps_plus_and_decodes_percent() -> None:
    assert signing.parse_query("a=1+2&b=%20x%2By&c=%E4%B8%AD") == [("a", "1+2"), ("b", " x+y"), ("c", "中")]


def test_parse_query_splits_on_first_equals_and_skips_empty_parts() -> None:
    assert signing.parse_query("&k=v=w&&flag&=x&") == [("k", "v=w"), ("flag", ""), ("", "x")]
    assert signing.parse_query("") == []


@settings(max_examples=200, deadline=None)
@given(pairs=query_pairs())
def test_parse_query_inverts_canonical_query(pairs: list[tuple[str, str]]) -> None:
    assert signing.parse_query(signing.canonical_query(pairs)) == sorted(pairs)


def test_format_sdk_date_known_values() -> None:
    assert signing.format_sdk_date(0) == "19700101T000000Z"
    assert signing.format_sdk_date(1735689600) == SDK_DATE
    assert signing.parse_sdk_date(SDK_DATE) == 1735689600.0


def test_format_sdk_date_defaults_to_now() -> None:
    before = time.time()
    value = signing.format_sdk_date()
    after = time.time()
    assert int(before) - 1 <= signing.parse_sdk_date(value) <= after + 1


@settings(max_examples=300, deadline=None)
@given(epoch=st.integers(min_value=0, max_value=253402300799))  # up to 9999-12-31T23:59:59Z
def test_sdk_date_round_trip(epoch: int) -> None:
    formatted = signing.format_sdk_date(epoch)
    assert len(formatted) == 16
    assert signing.parse_sdk_date(formatted) == epoch
    assert signing.format_sdk_date(signing.parse_sdk_date(formatted)) == formatted


@pytest.mark.parametrize(
    "value", ["", "2025-01-01T00:00:00Z", "20250101T000000", "20250101 000000Z", "20251301T000000Z", "x"]
)
def test_parse_sdk_date_rejects_malformed(value: str) -> None:
    with pytest.raises(ValueError):
        signing.parse_sdk_date(value)


# ---------------------------------------------------------------------------------------------
# 5. Input classes where signing.py and the official Signer disagree (kept failing on purpose)
# ---------------------------------------------------------------------------------------------


def _assert_same_authorization(headers: dict[str, str], body: bytes | None) -> None:
    ours = our_sign(method="POST", path="/v1/p/jobs", pairs=[], headers=headers, body=body)
    official = official_sign(
        method="POST",
        path="/v1/p/jobs",
        query_params=[],
        headers=headers,
        body=body,
        host=HOST,
        access_key=AK,
        secret_key=SK,
    )
    assert ours["Authorization"] == official.header_params["Authorization"]
    assert set(ours) == set(official.header_params)


def test_lowercase_non_json_content_type_matches_official_signer() -> None:
    """The SDK looks up ``Content-Type`` case-sensitively (``header_params.get("Content-Type")``):
    a lower-case ``content-type: text/plain`` adds no ``X-Sdk-Content-Sha256`` there."""
    _assert_same_authorization({"content-type": "text/plain", "X-Sdk-Date": SDK_DATE}, b"x")


def test_supplied_content_sha256_with_whitespace_matches_official_signer() -> None:
    """The SDK reads ``X-Sdk-Content-Sha256`` for the payload hash *after* stripping header values."""
    _assert_same_authorization({"X-Sdk-Content-Sha256": " abc ", "X-Sdk-Date": SDK_DATE}, b"x")


def test_non_zero_padded_sdk_date_matches_official_signer() -> None:
    """The SDK parses ``X-Sdk-Date`` with ``strptime`` and re-formats it for the string to sign."""
    _assert_same_authorization({"X-Sdk-Date": "2025011T000000Z"}, None)
