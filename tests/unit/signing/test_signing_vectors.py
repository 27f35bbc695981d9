"""Golden vectors: tests/vectors/pop_v1/<case>/ and tests/vectors/acs3/<case>/.

Each directory is one case: the request as an official client sent it, and the string to sign,
canonical request and signature recorded from inside that client (see gen_vectors.py, and each
case's ``source`` file). A failure names the first stage that diverged.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from tessera.signing import acs3, pop_v1
from tessera.signing.encoding import decode_query

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
POP_V1 = sorted(p for p in (VECTORS / "pop_v1").iterdir() if p.is_dir())
ACS3 = sorted(p for p in (VECTORS / "acs3").iterdir() if p.is_dir())


# Skip list: case name -> reason. Empty: every vector passes.
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
            pytest.fail(f"{case.name}: stage {name!r} diverged\n{diff}", pytrace=False)


def _parse_raw_request(text: str) -> tuple[str, list[tuple[str, str]], dict[str, str], str]:
    head, _, body = text.partition("\n\n")  # stored with \n line ends, not CRLF
    request_line, *header_lines = head.split("\n")
    method, target, _ = request_line.split(" ")
    headers = dict(line.split(": ", 1) for line in header_lines)
    headers = {k.lower(): v for k, v in headers.items()}
    return method, decode_query(target.partition("?")[2]), headers, body


def _pop_v1_params(case: Path) -> tuple[str, list[tuple[str, str]], str]:
    """(method, union of query and form parameters, Signature as sent)."""
    if (case / "params.json").exists():
        pairs = [(k, v) for k, v in json.loads(_read(case, "params.json"))]
        return _read(case, "method"), pairs, _read(case, "signature")
    method, query, headers, body = _parse_raw_request(_read(case, "request.txt"))
    form = []
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = decode_query(body)
    params = query + form
    return method, params, dict(params)["Signature"]


@pytest.mark.parametrize("case", POP_V1, ids=[p.name for p in POP_V1])
def test_pop_v1_vector(case: Path) -> None:
    method, params, sent = _pop_v1_params(case)
    variant = next(v for v in pop_v1.VARIANTS if v == _read(case, "variant").strip())
    secret = _read(case, "secret")
    sts = pop_v1.string_to_sign(method, params, variant=variant)
    check_stages(
        case,
        [
            ("method", _read(case, "method"), method),
            ("string_to_sign", _read(case, "string_to_sign"), sts),
            ("signature", _read(case, "signature"), pop_v1.signature(secret, sts)),
            ("signature as sent", _read(case, "signature"), sent),
        ],
    )
    assert pop_v1.verify(method, params, secret, sent) is None, f"{case.name}: verify refused"
    if variant != "strict":  # the fallback is really needed for this client
        assert pop_v1.signature(secret, pop_v1.string_to_sign(method, params)) != sent
    assert pop_v1.verify(method, params, secret + "x", sent) is not None


def _acs3_inputs(case: Path) -> tuple[dict[str, object], dict[str, str]]:
    request = json.loads(_read(case, "request.json"))
    headers = acs3.collect_headers((k, v) for k, v in request["headers"])
    return request, headers


@pytest.mark.parametrize("case", ACS3, ids=[p.name for p in ACS3])
def test_acs3_vector(case: Path) -> None:
    request, headers = _acs3_inputs(case)
    auth = acs3.parse_authorization(headers["authorization"])
    query = decode_query(str(request["query"]))
    payload = acs3.hashed_payload(str(request["body"]).encode("utf-8"))
    method, path = str(request["method"]), str(request["path"])
    canonical = acs3.canonical_request(method, path, query, headers, auth.signed_headers, payload)
    sts = acs3.string_to_sign(canonical)
    secret = _read(case, "secret")
    check_stages(
        case,
        [
            ("x-acs-content-sha256", headers["x-acs-content-sha256"], payload),
            ("canonical_request", _read(case, "canonical_request"), canonical),
            ("string_to_sign", _read(case, "string_to_sign"), sts),
            ("signature", _read(case, "signature"), acs3.signature(secret, sts)),
            ("signature as sent", _read(case, "signature"), auth.signature),
        ],
    )
    assert acs3.unsigned_headers(headers, auth.signed_headers) == ()
    ok = acs3.verify(
        method=method,
        canonical_uri=path,
        query_pairs=query,
        headers=headers,
        signed_headers=auth.signed_headers,
        hashed_payload=payload,
        secret=secret,
        provided_signature=auth.signature,
    )
    assert ok is None, f"{case.name}: verify refused"


def test_every_vector_names_its_source() -> None:
    for case in POP_V1 + ACS3:
        assert _read(case, "source").strip(), case.name
    assert len(POP_V1) >= 5 and len(ACS3) >= 3
