"""``tessera.cli.oss_paths``: oss:// URLs, key <-> local path mapping (and the refusal of keys
that would escape the download directory), filters and sizes."""

from __future__ import annotations

from pathlib import Path, PurePath, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.cli.oss_paths import (
    OssPathError,
    OssUrl,
    UnsafeKeyError,
    directory_prefix,
    is_directory_marker,
    is_oss_url,
    key_for_file_destination,
    key_for_upload,
    parse_oss_url,
    parse_size,
    relative_key,
    safe_relative_path,
    selected,
)

# ---- oss:// URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bucket", "key"),
    [
        ("oss://", "", ""),
        ("oss://b", "b", ""),
        ("oss://b/", "b", ""),
        ("oss://b/k", "b", "k"),
        ("oss://b/dir/", "b", "dir/"),
        ("oss://b/a b/ü+%/x?y#z", "b", "a b/ü+%/x?y#z"),
        ("oss://b//double", "b", "/double"),
        ("OSS://b/k", "b", "k"),
    ],
)
def test_parse_oss_url(text: str, bucket: str, key: str) -> None:
    assert parse_oss_url(text) == OssUrl(bucket, key)


@pytest.mark.parametrize("text", ["s3://b/k", "b/k", "/tmp/x", "oss:/b", "oss:///k", ""])
def test_parse_oss_url_refuses_other_text(text: str) -> None:
    with pytest.raises(OssPathError):
        parse_oss_url(text)


def test_is_oss_url_and_str_round_trip() -> None:
    assert is_oss_url("oss://b") and is_oss_url("OSS://b")
    assert not is_oss_url("./oss://b")
    assert str(OssUrl("")) == "oss://"
    assert str(OssUrl("b")) == "oss://b"
    assert str(OssUrl("b", "d/k")) == "oss://b/d/k"
    assert OssUrl("b", "d/").child("k") == OssUrl("b", "d/k")


@given(st.text(alphabet=st.characters(blacklist_characters="/"), min_size=1), st.text())
def test_str_and_parse_are_inverse(bucket: str, key: str) -> None:
    url = OssUrl(bucket, key)
    assert parse_oss_url(str(url)) == url


# ---- upload keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "relative", "key"),
    [
        ("", "a.txt", "a.txt"),
        ("dir", "a.txt", "dir/a.txt"),
        ("dir/", "sub/a b.txt", "dir/sub/a b.txt"),
        ("x/y", PurePath("ü/+%.bin"), "x/y/ü/+%.bin"),
    ],
)
def test_key_for_upload(prefix: str, relative: str | PurePath, key: str) -> None:
    assert key_for_upload(prefix, relative) == key


@pytest.mark.parametrize("relative", ["", ".", "../x", "a/../b"])
def test_key_for_upload_refuses_non_relative_paths(relative: str) -> None:
    with pytest.raises(OssPathError):
        key_for_upload("p", relative)


def test_key_for_file_destination() -> None:
    assert key_for_file_destination("", "f.txt") == "f.txt"
    assert key_for_file_destination("dir/", "f.txt") == "dir/f.txt"
    assert key_for_file_destination("name", "f.txt") == "name"


def test_directory_prefix_and_relative_key() -> None:
    assert directory_prefix("") == ""
    assert directory_prefix("logs") == "logs/"
    assert directory_prefix("logs/") == "logs/"
    assert relative_key("logs/2024/a", "logs") == "2024/a"
    assert relative_key("a", "") == "a"
    with pytest.raises(ValueError, match="not below"):
        relative_key("logs-archive/a", "logs")


# ---- download paths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "path"),
    [
        ("a.txt", "a.txt"),
        ("with space/ünï+%.txt", "with space/ünï+%.txt"),
        ("dir/", "dir"),
        ("..a/b..", "..a/b.."),
        ("...", "..."),
    ],
)
def test_safe_relative_path_keeps_ordinary_names(relative: str, path: str) -> None:
    assert safe_relative_path(relative) == PurePosixPath(path)


@pytest.mark.parametrize(
    "relative",
    [
        "",
        "/",
        "..",
        "../x",
        "a/../../x",
        "a/..",
        "/etc/passwd",
        "//x",
        "a//b",
        "./a",
        "a/./b",
        "a\\..\\..\\x",
        "..\\x",
        "a\x00b",
    ],
)
def test_safe_relative_path_refuses_escaping_keys(relative: str) -> None:
    with pytest.raises(UnsafeKeyError):
        safe_relative_path(relative)


_segment = st.one_of(st.sampled_from(["..", ".", "", "\\", "..\\x", "/"]), st.text(max_size=8))


@given(st.lists(_segment, min_size=1, max_size=6).map("/".join))
def test_any_accepted_key_stays_inside_the_destination(key: str) -> None:
    """Whatever a bucket holds, an accepted key names a path strictly below ``dest``."""
    dest = Path("/srv/dest")
    try:
        relative = safe_relative_path(key)
    except UnsafeKeyError:
        return
    target = dest / relative
    assert not relative.is_absolute()
    assert ".." not in relative.parts
    assert target != dest
    assert dest in target.parents
    assert "\\" not in str(relative)


def test_is_directory_marker() -> None:
    assert is_directory_marker("dir/")
    assert not is_directory_marker("dir")


# ---- filters and sizes -----------------------------------------------------------------------


def test_selected_matches_the_file_name() -> None:
    assert selected("dir/a.txt", [], [])
    assert selected("dir/a.txt", ["*.txt"], [])
    assert not selected("dir/a.jpg", ["*.txt"], [])
    assert not selected("dir/a.txt", [], ["a.*"])
    assert not selected("dir/a.txt", ["*.txt"], ["a*"])
    assert not selected("x.txt/a.jpg", ["*.txt"], []), "only the last segment counts"


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("100", 100),
        ("100K", 100 * 1024),
        ("8M", 8 << 20),
        ("8mib", 8 << 20),
        ("1GiB", 1 << 30),
        ("2 MB", 2 << 20),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "M", "1.5M", "-1", "10X", "1KK"])
def test_parse_size_refuses_garbage(text: str) -> None:
    with pytest.raises(OssPathError):
        parse_size(text)
