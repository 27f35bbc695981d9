from __future__ import annotations

import pytest

from tessera.errors import InvalidName
from tessera.oss.names import check_bucket_name, check_object_key


@pytest.mark.parametrize(
    "name", ["abc", "a-b", "0ab", "my-bucket-123", "a" * 63, "1-2", "testbucket"]
)
def test_valid_bucket_names(name: str) -> None:
    assert check_bucket_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "-", "ab", "a" * 64, "-ab", "ab-", "Abc", "a_b", "a.b", "a b", "ab/", "中文桶"],
)
def test_invalid_bucket_names(name: str) -> None:
    with pytest.raises(InvalidName) as info:
        check_bucket_name(name)
    assert info.value.kind == "Bucket"
    assert info.value.message == "The specified bucket is not valid."


@pytest.mark.parametrize(
    "key",
    ["a", "a+b", "dir/sub/", "hello wörld+1.txt", "%", "../x", "😀", "a" * 1023, "é" * 511],
)
def test_valid_keys(key: str) -> None:
    assert check_object_key(key) == key


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "The Object name can not be empty"),
        ("a" * 1024, "The Length of Object name must be less than 1024"),
        ("é" * 512, "The Length of Object name must be less than 1024"),  # 1024 bytes
        ("/abs", "The specified object is not valid."),
        ("\\invalid-object-name", "The specified object is not valid."),  # oss2's own test key
        ("\ud800", "The specified object is not valid."),
    ],
)
def test_invalid_keys(key: str, message: str) -> None:
    with pytest.raises(InvalidName) as info:
        check_object_key(key)
    assert info.value.kind == "Object"
    assert info.value.message == message
