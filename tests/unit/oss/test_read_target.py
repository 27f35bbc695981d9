"""The query decoding and addressing of an OSS request, and their memo for GET and HEAD.

``_read_target`` remembers ``(parse_oss_query, resolve)`` by the exact request target (host,
raw path, raw query, configured domains): both are pure, so a remembered answer must equal a
fresh one for every input, and a failure must be raised again, never remembered.
"""

from __future__ import annotations

import pytest

from tessera.errors import InvalidArgument, InvalidName
from tessera.oss.addressing import resolve
from tessera.oss.app import _read_presigned_v4, _read_target, parse_oss_query
from tessera.signing import oss_v4

DOMAINS = ("oss.localhost",)


@pytest.mark.parametrize(
    "raw, pairs",
    [
        (b"", ()),
        (b"acl", (("acl", ""),)),
        (b"a=1&acl&b=%2B&c=x+y", (("a", "1"), ("acl", ""), ("b", "+"), ("c", "x y"))),
        (b"prefix=%E7%8C%AB%2F&&max-keys=2", (("prefix", "猫/"), ("max-keys", "2"))),
        (b"a=1&a=2", (("a", "1"), ("a", "2"))),
    ],
)
def test_a_query_decodes_to_its_pairs_in_order(raw: bytes, pairs: tuple[tuple[str, str]]) -> None:
    assert parse_oss_query(raw) == pairs


def test_a_query_that_is_not_ascii_is_invalid() -> None:
    with pytest.raises(InvalidArgument):
        parse_oss_query("prefix=猫".encode())


@pytest.mark.parametrize(
    "host, path, query",
    [
        ("127.0.0.1:9800", "/photos/cat%20one.jpg", b"x-oss-expires=60&x-oss-signature=ab"),
        ("photos.oss.localhost:9800", "/a%2Bb/%F0%9F%90%88", b"versionId=1"),
        ("localhost", "/photos", b"prefix=a+b&delimiter=%2F"),
        ("127.0.0.1", "/", b""),
    ],
)
def test_a_remembered_target_equals_a_fresh_one(host: str, path: str, query: bytes) -> None:
    first = _read_target(host, path, query, DOMAINS)
    assert first == (parse_oss_query(query), resolve(host, path, DOMAINS))
    assert _read_target(host, path, query, DOMAINS) is first
    # a different target is a different entry, never the remembered one
    other = _read_target(host, path, query + b"&other=1", DOMAINS)
    assert other[0] == (*first[0], ("other", "1"))


def test_a_bad_target_fails_every_time() -> None:
    for _ in range(2):
        with pytest.raises(InvalidName):
            _read_target("127.0.0.1", "/Bad_Bucket/k", b"", DOMAINS)
        with pytest.raises(InvalidArgument):
            _read_target("127.0.0.1", "/bucket/k", "q=猫".encode(), DOMAINS)


def test_a_remembered_presigned_v4_query_parses_as_a_fresh_one() -> None:
    query = parse_oss_query(
        b"x-oss-signature-version=OSS4-HMAC-SHA256"
        b"&x-oss-credential=LTAI5t%2F20260101%2Fcn-hangzhou%2Foss%2Faliyun_v4_request"
        b"&x-oss-date=20260101T000000Z&x-oss-expires=60"
        b"&x-oss-signature=" + b"ab" * 32
    )
    first = _read_presigned_v4(query)
    assert first == oss_v4.parse_presigned(query)
    assert _read_presigned_v4(query) is first
    broken = tuple((k, "20260102T000000Z" if k == "x-oss-date" else v) for k, v in query)
    for _ in range(2):  # a scope date that differs from x-oss-date: refused each time
        with pytest.raises(Exception, match="differs"):
            _read_presigned_v4(broken)
