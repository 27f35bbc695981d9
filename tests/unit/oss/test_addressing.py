from __future__ import annotations

from urllib.parse import quote, unquote_to_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.errors import InvalidName
from tessera.oss.addressing import Address, host_name, resolve
from tessera.oss.names import check_object_key

DOMAINS = ("oss.localhost", "s3.example.com")

CASES = [
    # host, raw path, expected (bucket, key, style); spec 0.1, 1 and the captures of 13
    ("127.0.0.1:28471", "/", (None, None, "path")),
    ("127.0.0.1:28471", "/?prefix=", (None, None, "path")),
    ("127.0.0.1:28471", "/testbucket/", ("testbucket", None, "path")),
    ("127.0.0.1:28471", "/testbucket", ("testbucket", None, "path")),
    (
        "127.0.0.1:28471",
        "/testbucket/cap%2Fv1%2Fhello%20w%C3%B6rld%2B1.txt",  # oss2: '/' as %2F (13.1)
        ("testbucket", "cap/v1/hello wörld+1.txt", "path"),
    ),
    (
        "127.0.0.1:28471",
        "/testbucket/cap/v4/hello%20w%C3%B6rld%2B1.txt",  # v2 SDK: '/' unescaped (13.2)
        ("testbucket", "cap/v4/hello wörld+1.txt", "path"),
    ),
    ("localhost:28471", "/testbucket/cap/v1-sld/k", ("testbucket", "cap/v1-sld/k", "path")),
    ("[::1]:9000", "/b1b/k", ("b1b", "k", "path")),
    ("::1", "/b1b/k", ("b1b", "k", "path")),
    # decoded exactly once: %2525 is the three characters %25
    ("127.0.0.1", "/bkt/a%2525b", ("bkt", "a%25b", "path")),
    ("127.0.0.1", "/bkt/a+b", ("bkt", "a+b", "path")),  # '+' in a path is a plus
    # ali-oss with an IP endpoint overrides Host (13.3)
    (
        "testbucket.oss-cn-hangzhou.aliyuncs.com",
        "/cap/v1/hello%20w%C3%B6rld%2B1.txt",
        ("testbucket", "cap/v1/hello wörld+1.txt", "virtual"),
    ),
    ("testbucket.oss-cn-hangzhou.aliyuncs.com", "/", ("testbucket", None, "virtual")),
    (".oss-cn-hangzhou.aliyuncs.com", "/", (None, None, "virtual")),  # empty label = service
    ("bkt.oss-cn-hangzhou-internal.aliyuncs.com", "/k", ("bkt", "k", "virtual")),
    ("oss-cn-hangzhou.aliyuncs.com", "/bkt/k", ("bkt", "k", "path")),
    # configured domains, with and without port, any case
    ("bkt.oss.localhost:9800", "/a/b", ("bkt", "a/b", "virtual")),
    ("BKT.OSS.LOCALHOST", "/", ("bkt", None, "virtual")),
    ("oss.localhost:9800", "/bkt/k", ("bkt", "k", "path")),  # bare domain: path style
    ("bkt.s3.example.com", "/k", ("bkt", "k", "virtual")),
    # v2 SDK with a localhost endpoint uses <bucket>.localhost (spec 0.1)
    ("bkt.localhost:9800", "/k", ("bkt", "k", "virtual")),
    # the virtual-host path keeps everything, including a segment equal to the bucket
    ("bkt.oss.localhost", "/bkt/k", ("bkt", "bkt/k", "virtual")),
    ("bkt.oss.localhost", "/-/health", ("bkt", "-/health", "virtual")),
    # unknown host names: path style
    ("tessera:9800", "/bkt/k", ("bkt", "k", "path")),
]


@pytest.mark.parametrize(("host", "path", "expected"), CASES)
def test_resolve(host: str, path: str, expected: tuple[str | None, str | None, str]) -> None:
    raw_path = path.partition("?")[0]
    assert resolve(host, raw_path, DOMAINS) == Address(*expected)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/-/health", "/-/", "/-"])
def test_tessera_prefix_is_not_oss(path: str) -> None:
    assert resolve("127.0.0.1:9800", path, DOMAINS) is None


@pytest.mark.parametrize(
    ("host", "path", "kind"),
    [
        ("127.0.0.1", "/Bad_Bucket/k", "Bucket"),
        ("127.0.0.1", "/ab/k", "Bucket"),
        ("127.0.0.1", "/bkt/%FF%FE", "Object"),  # not UTF-8
        ("127.0.0.1", "/bkt//abs", "Object"),  # key starting with '/'
        ("127.0.0.1", "/bkt/%5Cx", "Object"),  # key starting with '\'
        ("Bad_Bucket.oss.localhost", "/k", "Bucket"),
        (".oss-cn-hangzhou.aliyuncs.com", "/k", "Bucket"),
    ],
)
def test_bad_names(host: str, path: str, kind: str) -> None:
    with pytest.raises(InvalidName) as info:
        resolve(host, path, DOMAINS)
    assert info.value.kind == kind


def test_target() -> None:
    assert Address(None, None, "path").target == "service"
    assert Address("b", None, "path").target == "bucket"
    assert Address("b", "k", "path").target == "object"


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("a.b:80", "a.b"),
        ("A.B", "a.b"),
        ("[::1]:9000", "[::1]"),
        ("::1", "::1"),
        ("127.0.0.1:1", "127.0.0.1"),
    ],
)
def test_host_name(host: str, name: str) -> None:
    assert host_name(host) == name


#: keys as oss2 sends them (only "/" escaped), as other clients do, and anything else
_RAW_KEYS = st.one_of(
    st.text(alphabet="abcXYZ019-_.~/", min_size=1).map(lambda k: quote(k, safe="")),
    st.text(alphabet="ab/", min_size=1).map(lambda k: quote(k, safe="").replace("%2F", "%2f")),
    st.text(min_size=1).map(lambda k: quote(k, safe="/")),
    st.text(alphabet="ab%2Ff/üé+ ", min_size=1),
)


@given(_RAW_KEYS)
def test_a_key_is_decoded_as_unquote_would(raw_key: str) -> None:
    """The shortcuts for plain keys (nothing escaped, or only ``/`` as oss2 escapes it) give
    exactly what decoding every escape gives, and refuse what it refuses."""
    try:
        expected = check_object_key(unquote_to_bytes(raw_key).decode("utf-8"))
    except (UnicodeDecodeError, InvalidName):
        with pytest.raises(InvalidName):
            resolve("127.0.0.1", "/bkt/" + raw_key)
        return
    assert resolve("127.0.0.1", "/bkt/" + raw_key) == Address("bkt", expected, "path")
