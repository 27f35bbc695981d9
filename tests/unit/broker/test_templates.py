"""Policy templates: filled only with safe values, inside JSON strings, into valid policies."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.broker.errors import InvalidParameter, MissingParameter
from tessera.broker.templates import (
    SAFE_VALUE,
    PolicyTemplate,
    TemplateSyntaxError,
    check_value,
    role_session_name,
)
from tessera.policy import parse_policy

PER_USER = {
    "Version": "1",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["oss:GetObject", "oss:PutObject"],
            "Resource": ["acs:oss:*:*:${bucket}/users/${user_id}/*"],
        },
        {
            "Effect": "Allow",
            "Action": "oss:ListObjects",
            "Resource": "acs:oss:*:*:${bucket}",
            "Condition": {"StringLike": {"oss:Prefix": "users/${user_id}/*"}},
        },
    ],
}


def resources(rendered: str) -> list[str]:
    doc = json.loads(rendered)
    return [
        r
        for s in doc["Statement"]
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    ]


def test_render_fills_every_string_and_yields_a_valid_session_policy() -> None:
    template = PolicyTemplate.compile(PER_USER)
    assert template.placeholders == {"bucket", "user_id"}
    rendered = template.render({"bucket": "photos", "user_id": "alice@example.com"})
    assert resources(rendered) == [
        "acs:oss:*:*:photos/users/alice@example.com/*",
        "acs:oss:*:*:photos",
    ]
    condition = json.loads(rendered)["Statement"][1]["Condition"]["StringLike"]["oss:Prefix"]
    assert condition == "users/alice@example.com/*"
    parse_policy(rendered, strict=True, kind="session")  # does not raise


def test_template_text_form_equals_table_form() -> None:
    assert PolicyTemplate.compile(json.dumps(PER_USER)) == PolicyTemplate.compile(PER_USER)


@pytest.mark.parametrize(
    "value",
    [
        "*",
        "a*",
        "?",
        "alice/..",
        "..",
        "a..b",
        "../bob",
        "bob/",
        "a/b",
        '"',
        'a"],"Resource":["*',
        "a'b",
        "a\\b",
        "${user_id}",
        "${acs:CurrentTime}",
        "a:b",
        "a b",
        "a\nb",
        "a\x00b",
        "ålice",
        "a\u202eb",
        "",
        "x" * 129,
    ],
)
def test_injection_attempts_are_refused(value: str) -> None:
    template = PolicyTemplate.compile(PER_USER)
    with pytest.raises(InvalidParameter) as caught:
        template.render({"bucket": "photos", "user_id": value})
    assert caught.value.name == "user_id"
    assert caught.value.code == "InvalidParameter"


@pytest.mark.parametrize("value", ["alice\n", "0\n", "\nalice", "alice\r\n"])
def test_a_line_break_is_refused_even_at_the_end(value: str) -> None:
    # ``$`` in a regex also matches before a final newline: the check is a full match
    with pytest.raises(InvalidParameter):
        check_value("user_id", value)


@pytest.mark.parametrize(
    "value", ["alice", "user-42", "a.b", "a_b", "a+b@x.com", "auth0|123", "x" * 128]
)
def test_ordinary_values_pass(value: str) -> None:
    assert check_value("user_id", value) == value


@given(st.text(max_size=40))
def test_any_value_is_refused_or_lands_verbatim_in_one_path_segment(value: str) -> None:
    template = PolicyTemplate.compile(PER_USER)
    try:
        rendered = template.render({"bucket": "photos", "user_id": value})
    except InvalidParameter:
        assert not SAFE_VALUE.fullmatch(value) or ".." in value
        return
    # accepted: the value is exactly one segment, nothing else of the document changed
    assert re.fullmatch(r"[A-Za-z0-9_.@+=|\-]+", value) and ".." not in value
    assert resources(rendered)[0] == f"acs:oss:*:*:photos/users/{value}/*"
    assert json.loads(rendered)["Statement"][0]["Action"] == ["oss:GetObject", "oss:PutObject"]


def test_values_are_not_expanded_twice() -> None:
    template = PolicyTemplate.compile(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "oss:GetObject",
                    "Resource": "acs:oss:*:*:b/${a}/${b}",
                }
            ],
        }
    )
    with pytest.raises(InvalidParameter):
        template.render({"a": "${b}", "b": "x"})


def test_missing_value_is_named() -> None:
    template = PolicyTemplate.compile(PER_USER)
    with pytest.raises(MissingParameter) as caught:
        template.render({"user_id": "alice"})
    assert caught.value.name == "bucket"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "not JSON"),
        ("[1]", "JSON object"),
        (
            {
                "Version": "1",
                "Statement": [
                    {"Effect": "Allow", "Action": "oss:*", "Resource": "acs:oss:*:*:${bucket"}
                ],
            },
            "unterminated",
        ),
        (
            {
                "Version": "1",
                "Statement": [
                    {"Effect": "Allow", "Action": "oss:*", "Resource": "acs:oss:*:*:${Bad-Name}"}
                ],
            },
            "bad variable",
        ),
        (
            {
                "Version": "1",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "oss:*",
                        "Resource": "x",
                        "Condition": {"StringEquals": {"${k}": "v"}},
                    }
                ],
            },
            "not allowed in keys",
        ),
        (
            {
                "Version": "1",
                "Statement": [{"Effect": "Maybe", "Action": "oss:*", "Resource": "*"}],
            },
            "Effect",
        ),
        (
            {
                "Version": "1",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "oss:GetObject",
                        "Resource": [f"acs:oss:*:*:b/${{v{i}}}/*" for i in range(16)],
                    }
                ],
            },
            "STS accepts at most",
        ),
    ],
)
def test_bad_templates_fail_at_load(document: object, message: str) -> None:
    with pytest.raises(TemplateSyntaxError, match=message):
        PolicyTemplate.compile(document)  # type: ignore[arg-type]


def test_claim_placeholders() -> None:
    template = PolicyTemplate.compile(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "oss:GetObject",
                    "Resource": "acs:oss:*:*:b/${claims.tenant}/*",
                }
            ],
        }
    )
    assert template.placeholders == {"claims.tenant"}
    assert resources(template.render({"claims.tenant": "acme"})) == ["acs:oss:*:*:b/acme/*"]
    with pytest.raises(InvalidParameter):
        template.render({"claims.tenant": "*"})


@pytest.mark.parametrize(
    ("user_id", "prefix", "expected"),
    [
        ("alice", "", "alice"),
        ("alice@example.com", "app-", "app-alice@example.com"),
        ("user-42", "", "user-42"),
    ],
)
def test_session_name_kept_when_valid(user_id: str, prefix: str, expected: str) -> None:
    assert role_session_name(user_id, prefix) == expected


@pytest.mark.parametrize("user_id", ["a", "auth0|123", "a b", "ålice", "x" * 80, "a/b", "a:b"])
def test_session_name_made_valid_and_distinct(user_id: str) -> None:
    name = role_session_name(user_id)
    assert re.fullmatch(r"[\w.@\-]{2,64}", name, re.ASCII)
    assert name != role_session_name(user_id + "x")


def test_session_names_of_users_differing_in_replaced_characters_differ() -> None:
    assert role_session_name("a b") != role_session_name("a|b")
