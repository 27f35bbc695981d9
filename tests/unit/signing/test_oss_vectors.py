"""Golden vectors: tests/vectors/oss_v1/<case>/, oss_v2/<case>/ and oss_v4/<case>/.

Each directory is one request as an official OSS SDK sent it (or the presigned URL it built),
with the string to sign (and for V4 the canonical request) recorded from inside that SDK's own
signing code and the signature it put on the wire (see gen_oss_vectors.py and each ``source``).
``bucket``/``key`` in request.json are what the routing layer derives from the path or Host.
A failure names the first stage that diverged.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tessera.signing import oss_v1, oss_v2, oss_v4
from tessera.signing.encoding import decode_query
from tessera.signing.oss_common import AuthScheme, classify, security_token

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
CASES = sorted(
    p for version in ("oss_v1", "oss_v2", "oss_v4") for p in (VECTORS / version).iterdir()
)
TOKEN = "CAIS/Fake+Token=="


def _read(case: Path, name: str) -> str:
    return (case / name).read_text(encoding="utf-8")


def check_stages(case: Path, stages: list[tuple[str, str, str]]) -> None:
    """``stages`` = (name, expected, actual) in pipeline order; fail on the first divergence."""
    for name, expected, actual in stages:
        if expected != actual:
            diff = "\n".join(
                difflib.unified_diff(
                    expected.split("\n"), actual.split("\n"), "expected", "tessera", lineterm=""
                )
            )
            pytest.fail(f"{case.parent.name}/{case.name}: stage {name!r} diverged\n{diff}")


class Vector:
    """One case directory, read into the request view the signing modules take."""

    def __init__(self, case: Path) -> None:
        data: dict[str, Any] = json.loads(_read(case, "request.json"))
        self.case = case
        self.scheme = AuthScheme(data["scheme"])
        self.method: str = data["method"]
        self.path: str = data["path"]
        self.query = decode_query(data["query"])
        self.headers = {str(k).lower(): str(v) for k, v in data["headers"]}
        self.bucket: str = data["bucket"]
        self.key: str | None = data["key"] or None
        self.secret = _read(case, "secret")
        self.signature = _read(case, "signature")


def _v1(v: Vector) -> None:
    resource = oss_v1.canonical_resource(v.bucket, v.key, v.query)
    if v.scheme is AuthScheme.V1_HEADER:
        sent, date = oss_v1.parse_authorization(v.headers["authorization"]).signature, None
    else:
        presigned = oss_v1.parse_presigned(v.query)
        sent, date = presigned.signature, presigned.expires
    sts = oss_v1.string_to_sign(v.method, v.headers, resource, date=date)
    check_stages(
        v.case,
        [
            ("string_to_sign", _read(v.case, "string_to_sign"), sts),
            ("signature", v.signature, oss_v1.signature(v.secret, sts)),
            ("signature as sent", v.signature, sent),
        ],
    )
    assert oss_v1.verify(v.method, v.headers, resource, v.secret, sent, date=date) is None
    assert oss_v1.verify(v.method, v.headers, resource, v.secret + "x", sent, date=date) == sts


def _v2(v: Vector) -> None:
    presigned = v.scheme is AuthScheme.V2_QUERY
    if presigned:
        auth = oss_v2.parse_presigned(v.query)
    else:
        auth = oss_v2.parse_authorization(v.headers["authorization"])
    resource = oss_v2.canonical_resource(v.bucket, v.key, v.query, presigned=presigned)
    sts = oss_v2.string_to_sign(
        v.method,
        v.headers,
        auth.additional_headers,
        resource,
        date=auth.expires if presigned else None,
    )
    check_stages(
        v.case,
        [
            ("string_to_sign", _read(v.case, "string_to_sign"), sts),
            ("signature", v.signature, oss_v2.signature(v.secret, sts)),
            ("signature as sent", v.signature, auth.signature),
        ],
    )
    for secret, expected in ((v.secret, None), (v.secret + "x", sts)):
        result = oss_v2.verify(
            method=v.method,
            bucket=v.bucket,
            key=v.key,
            query_pairs=v.query,
            headers=v.headers,
            auth=auth,
            secret=secret,
        )
        assert result == expected


def _v4(v: Vector) -> None:
    presigned = v.scheme is AuthScheme.V4_QUERY
    if presigned:
        auth = oss_v4.parse_presigned(v.query)
    else:
        auth = oss_v4.parse_authorization(v.headers["authorization"])
    assert auth.region == "cn-hangzhou"
    canonical = oss_v4.canonical_request(
        v.method,
        v.bucket,
        v.key,
        v.query,
        v.headers,
        auth.additional_headers,
        presigned=presigned,
    )
    request_time = auth.request_time or v.headers["x-oss-date"]
    sts = oss_v4.string_to_sign(request_time, oss_v4.scope(auth.date, auth.region), canonical)
    key = oss_v4.signing_key(v.secret, auth.date, auth.region)
    check_stages(
        v.case,
        [
            ("canonical_request", _read(v.case, "canonical_request"), canonical),
            ("string_to_sign", _read(v.case, "string_to_sign"), sts),
            ("signature", v.signature, oss_v4.signature(key, sts)),
            ("signature as sent", v.signature, auth.signature),
        ],
    )
    for secret, expected in ((v.secret, None), (v.secret + "x", sts)):
        result = oss_v4.verify(
            method=v.method,
            bucket=v.bucket,
            key=v.key,
            query_pairs=v.query,
            headers=v.headers,
            auth=auth,
            secret=secret,
        )
        assert result == expected


def _check_routing(v: Vector) -> None:
    """The recorded bucket/key agree with the wire path (path style) or the Host (virtual host)."""
    path = unquote(v.path)
    host = v.headers["host"]
    if host.startswith(v.bucket + "."):
        assert path == "/" + (v.key or ""), v.case.name
    else:
        assert path == f"/{v.bucket}/{v.key or ''}", v.case.name


@pytest.mark.parametrize("case", CASES, ids=[f"{p.parent.name}/{p.name}" for p in CASES])
def test_oss_vector(case: Path) -> None:
    v = Vector(case)
    _check_routing(v)
    assert classify(v.method, v.query, v.headers) is v.scheme
    sts_key = "STS." in json.dumps(json.loads(_read(case, "request.json")))
    assert security_token(v.scheme, v.query, v.headers) == (TOKEN if sts_key else None)
    {"oss_v1": _v1, "oss_v2": _v2, "oss_v4": _v4}[case.parent.name](v)


def test_every_vector_names_its_source_and_covers_each_scheme() -> None:
    for case in CASES:
        assert _read(case, "source").strip(), case.name
    schemes = {Vector(case).scheme for case in CASES}
    assert schemes == set(AuthScheme) - {AuthScheme.ANONYMOUS, AuthScheme.POST_FORM}
    sdks = {case.name.split("-")[0] for case in CASES}
    assert {"oss2", "v2sdk"} <= sdks
