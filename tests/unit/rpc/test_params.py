from __future__ import annotations

import re

import pytest

from tessera.errors import InvalidArgument, MissingArgument
from tessera.rpc.params import Params

NAME = re.compile(r"[A-Za-z0-9._-]+")


def test_require_and_empty_values() -> None:
    params = Params({"UserName": "alice", "Empty": ""})
    assert params.require("UserName") == "alice"
    with pytest.raises(MissingArgument) as missing:
        params.require("Empty")
    assert missing.value.param == "Empty"
    assert params.get("Empty") is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [("", None), ("x" * 65, "Length"), ("bad name", "InvalidChars"), ("ok-name", None)],
)
def test_string_rules(value: str, reason: str | None) -> None:
    params = Params({"UserName": value})
    if value == "" or reason is None:
        assert params.string("UserName", max_len=64, pattern=NAME) == (value or None)
        return
    with pytest.raises(InvalidArgument) as err:
        params.string("UserName", max_len=64, pattern=NAME)
    assert (err.value.param, err.value.reason) == ("UserName", reason)


@pytest.mark.parametrize(
    ("text", "expected"), [("True", True), ("true", True), ("False", False), ("0", False)]
)
def test_booleans_as_python_sdks_send_them(text: str, expected: bool) -> None:
    assert Params({"SetAsDefault": text}).boolean("SetAsDefault") is expected


def test_bad_boolean_and_integer() -> None:
    with pytest.raises(InvalidArgument):
        Params({"SetAsDefault": "maybe"}).boolean("SetAsDefault")
    with pytest.raises(InvalidArgument):
        Params({"MaxItems": "ten"}).integer("MaxItems")
    with pytest.raises(InvalidArgument):
        Params({"MaxItems": "1001"}).integer("MaxItems", minimum=1, maximum=1000)
    assert Params({}).integer("MaxItems", default=100) == 100


def test_lists_as_json_or_flattened() -> None:
    as_json = Params({"Tag": '[{"Key":"team","Value":"dev"}]'})
    flat = Params(
        {"Tag.1.Key": "team", "Tag.1.Value": "dev", "Tag.2.Key": "env", "Tag.2.Value": "prod"}
    )
    assert as_json.objects("Tag") == [{"Key": "team", "Value": "dev"}]
    assert flat.objects("Tag") == [{"Key": "team", "Value": "dev"}, {"Key": "env", "Value": "prod"}]
    with pytest.raises(InvalidArgument):
        Params({"Tag": "{not json"}).objects("Tag")
    with pytest.raises(InvalidArgument):
        Params({"Tag": '{"Key":"x"}'}).objects("Tag")


def test_choice_is_case_insensitive_and_canonical() -> None:
    assert Params({"PolicyType": "system"}).choice("PolicyType", ("System", "Custom")) == "System"
    with pytest.raises(InvalidArgument):
        Params({"PolicyType": "Other"}).choice("PolicyType", ("System", "Custom"))
