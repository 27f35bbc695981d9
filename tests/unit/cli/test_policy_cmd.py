"""``tessera policy check|simulate`` with policy files (no server): error positions, decisions
and the statements that produced them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tessera.cli.main import main
from tessera.cli.policy_cmd import (
    POLICY_KINDS,
    PolicyFileError,
    check_policy,
    line_column,
    locate,
    parse_context,
    parse_principal,
    split_detail,
)
from tessera.policy import KINDS

ACCOUNT = "1234567890123456"
OBJECT = f"acs:oss:*:{ACCOUNT}:photos/cat.jpg"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)}, indent=2)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


ALLOW_READ = {"Sid": "Read", "Effect": "Allow", "Action": "oss:Get*", "Resource": "*"}
DENY_CAT = {"Sid": "NoCats", "Effect": "Deny", "Action": "oss:*", "Resource": OBJECT}


def test_kinds_match_the_policy_package() -> None:
    assert POLICY_KINDS == KINDS


# ---- places and positions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detail", "steps", "reason"),
    [
        ("Policy: the document must be a JSON object", [], "the document must be a JSON object"),
        ('Version: must be "1"', ["Version"], 'must be "1"'),
        (
            'Statement[1].Condition.IpAddress["acs:SourceIp"][0]: "x" is not an IP address',
            ["Statement", 1, "Condition", "IpAddress", "acs:SourceIp", 0],
            '"x" is not an IP address',
        ),
        (
            'Statement[0].Condition.ForAnyValue:StringEquals["a\\"b"]: bad',
            ["Statement", 0, "Condition", "ForAnyValue:StringEquals", 'a"b'],
            "bad",
        ),
    ],
)
def test_split_detail(detail: str, steps: list[str | int], reason: str) -> None:
    assert split_detail(detail) == (steps, reason)


def test_split_detail_gives_up_on_text_without_a_place() -> None:
    assert split_detail("something went wrong") is None


def test_locate_points_at_the_value() -> None:
    text = "\n".join(
        [
            "{",
            '  "Version": "1",',
            '  "Statement": [',
            '    {"Effect": "Allow"},',
            '    {"Effect": 7}',
            "  ]",
            "}",
        ]
    )
    offset = locate(text, ["Statement", 1, "Effect"])
    assert offset is not None
    assert text[offset] == "7"
    assert line_column(text, offset) == (5, 16)
    assert line_column(text, locate(text, []) or 0) == (1, 1)


def test_locate_follows_json_in_taking_the_last_duplicate_key() -> None:
    text = '{"a": 1, "a": 22}'
    assert locate(text, ["a"]) == text.index("22")


@pytest.mark.parametrize(
    "steps", [["Nope"], ["Statement", 5], ["Version", "x"], ["Statement", "Effect"]]
)
def test_locate_returns_none_for_a_missing_place(steps: list[str | int]) -> None:
    assert locate('{"Version": "1", "Statement": [{"Effect": "Allow"}]}', steps) is None


# ---- check ----------------------------------------------------------------------------------


def test_a_valid_policy_compiles() -> None:
    policy = check_policy("p.json", doc(ALLOW_READ, DENY_CAT))
    assert [s.sid for s in policy.statements] == ["Read", "NoCats"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"Version": "1",\n  "Statement": [}', r"^p\.json:2:17: invalid JSON: "),
        (
            doc(ALLOW_READ, {**ALLOW_READ, "Effect": "Permit"}),
            r'^p\.json:12:17: Statement\[1\]\.Effect: must be "Allow" or "Deny"$',
        ),
        (
            doc({**ALLOW_READ, "Condition": {"IpAddress": {"acs:SourceIp": ["10.0.0.300"]}}}),
            r'^p\.json:12:\d+: Statement\[0\]\.Condition\.IpAddress\["acs:SourceIp"\]\[0\]: ',
        ),
        (
            '{"Version": "1", "Statement": [], "Extra": 1}',
            r'^p\.json:1:1: Policy: unknown element "Extra"',
        ),
        ('{"Version": "2", "Statement": []}', r'^p\.json:1:13: Version: must be "1"'),
    ],
)
def test_errors_point_at_their_place(text: str, message: str) -> None:
    with pytest.raises(PolicyFileError, match=message):
        check_policy("p.json", text)


def test_the_position_is_the_failing_value() -> None:
    text = doc(ALLOW_READ, {**ALLOW_READ, "Effect": "Permit"})
    with pytest.raises(PolicyFileError) as caught:
        check_policy("p.json", text)
    line, column = (int(n) for n in str(caught.value).split(":")[1:3])
    assert text.splitlines()[line - 1][column - 1 :].startswith('"Permit"')


def test_trust_policies_need_a_principal() -> None:
    with pytest.raises(PolicyFileError, match="Principal is required"):
        check_policy("t.json", doc({"Effect": "Allow", "Action": "sts:AssumeRole"}), "trust")


def test_a_session_policy_over_2048_bytes_is_refused() -> None:
    big = doc(*[{**ALLOW_READ, "Sid": f"S{i}"} for i in range(40)])
    assert check_policy("s.json", big, "identity")
    with pytest.raises(PolicyFileError, match="at most 2048 bytes"):
        check_policy("s.json", big, "session")


def test_check_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.json", doc(ALLOW_READ))
    bad = write(tmp_path, "bad.json", doc({**ALLOW_READ, "Action": "GetObject"}))
    assert main(["policy", "check", good]) == 0
    assert capsys.readouterr().out == f"{good}: valid identity policy (1 statement)\n"
    assert main(["policy", "check", good, bad, str(tmp_path / "missing.json")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{good}: valid")
    assert lines[1].startswith(f"{bad}:7:17: ")
    assert 'Statement[0].Action: "GetObject" is not an action' in lines[1]
    assert lines[2] == f"{tmp_path / 'missing.json'}: cannot read: No such file or directory"


# ---- simulate -------------------------------------------------------------------------------


def simulate(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code = main(["policy", "simulate", *argv, "--output", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    report: dict[str, Any] = json.loads(out)
    return report


def test_an_allow_names_its_statement(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write(tmp_path, "read.json", doc(ALLOW_READ))
    report = simulate(
        tmp_path, capsys, "--policy-file", policy, "--action", "oss:GetObject", "--resource", OBJECT
    )
    assert report["Decision"] == "Allow"
    assert report["MatchedStatements"] == [
        {
            "PolicyName": "read.json",
            "PolicyType": "File",
            "VersionId": "file",
            "StatementIndex": 0,
            "Sid": "Read",
            "Effect": "Allow",
        }
    ]


def test_an_explicit_deny_in_any_policy_wins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    read = write(tmp_path, "read.json", doc(ALLOW_READ))
    deny = write(tmp_path, "deny.json", doc(ALLOW_READ, DENY_CAT))
    argv = ["--policy-file", read, "--policy-file", deny, "--action", "oss:GetObject"]
    report = simulate(tmp_path, capsys, *argv, "--resource", OBJECT)
    assert report["Decision"] == "ExplicitDeny"
    assert [
        (m["PolicyName"], m["StatementIndex"], m["Sid"]) for m in report["MatchedStatements"]
    ] == [("deny.json", 1, "NoCats")]
    other = simulate(tmp_path, capsys, *argv, "--resource", f"acs:oss:*:{ACCOUNT}:photos/dog.jpg")
    assert other["Decision"] == "Allow"


def test_nothing_allowing_is_an_implicit_deny(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    read = write(tmp_path, "read.json", doc(ALLOW_READ))
    report = simulate(
        tmp_path, capsys, "--policy-file", read, "--action", "oss:PutObject", "--resource", OBJECT
    )
    assert report["Decision"] == "ImplicitDeny"
    assert report["MatchedStatements"] == []


def test_a_session_policy_narrows_the_identity_policies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    everything = write(
        tmp_path, "all.json", doc({"Effect": "Allow", "Action": "oss:*", "Resource": "*"})
    )
    session = write(tmp_path, "session.json", doc(ALLOW_READ))
    base = ["--policy-file", everything, "--session-policy-file", session, "--resource", OBJECT]
    read = simulate(tmp_path, capsys, *base, "--action", "oss:GetObject")
    assert read["Decision"] == "Allow"
    write_ = simulate(tmp_path, capsys, *base, "--action", "oss:PutObject")
    assert (write_["Decision"], write_["DecidedBy"]) == ("ImplicitDeny", "SessionPolicy")
    assert {p["PolicyType"] for p in write_["EvaluatedPolicies"]} == {"File", "Session"}


def test_context_values_feed_conditions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write(
        tmp_path,
        "ip.json",
        doc({**ALLOW_READ, "Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}}),
    )
    base = ["--policy-file", policy, "--action", "oss:GetObject", "--resource", OBJECT]
    inside = simulate(tmp_path, capsys, *base, "--context", "acs:SourceIp=10.1.2.3")
    outside = simulate(tmp_path, capsys, *base, "--context", "acs:SourceIp=192.168.0.1")
    missing = simulate(tmp_path, capsys, *base)
    assert [inside["Decision"], outside["Decision"], missing["Decision"]] == [
        "Allow",
        "ImplicitDeny",
        "ImplicitDeny",
    ]
    assert inside["Context"]["acs:SourceIp"] == ["10.1.2.3"]
    assert "acs:CurrentTime" in inside["Context"]


def test_text_output_names_decision_and_statement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deny = write(tmp_path, "deny.json", doc(DENY_CAT))
    code = main(
        [
            "policy",
            "simulate",
            "--policy-file",
            deny,
            "--action",
            "oss:GetObject",
            "--resource",
            OBJECT,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == "Decision: ExplicitDeny"
    assert "deny.json (File, file) Statement[0] Sid=NoCats Effect=Deny" in out


REQUEST = ["--action", "oss:GetObject", "--resource", OBJECT]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (REQUEST, 2, "--principal and/or --policy-file"),
        (["--policy-file", "GOOD", "--context", "novalue", *REQUEST], 2, "expected key=value"),
        (["--principal", "acs:ram::1:group/devs", *REQUEST], 2, "expected acs:ram::<account>:"),
        (["--policy-file", "BAD", *REQUEST], 1, r"bad\.json:1:\d+: Statement\[0\]\.Effect"),
        (["--policy-file", "GOOD", "--session-policy-file", "BAD", *REQUEST], 1, r"bad\.json:1:"),
    ],
)
def test_simulate_input_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    files = {
        "BAD": write(tmp_path, "bad.json", '{"Version": "1", "Statement": [{"Effect": "Maybe"}]}'),
        "GOOD": write(tmp_path, "good.json", doc(ALLOW_READ)),
    }
    assert main(["policy", "simulate", *(files.get(a, a) for a in argv)]) == code
    captured = capsys.readouterr()
    assert re.search(message, captured.err), captured.err
    assert captured.out == ""


@pytest.mark.parametrize(
    ("arn", "kind", "name", "session"),
    [
        (f"acs:ram::{ACCOUNT}:user/alice", "user", "alice", ""),
        (f"acs:ram::{ACCOUNT}:role/reader", "role", "reader", "tessera-policy-simulate"),
        (f"acs:ram::{ACCOUNT}:assumed-role/reader/s1", "role", "reader", "s1"),
        (f"acs:ram::{ACCOUNT}:root", "root", "", ""),
    ],
)
def test_parse_principal(arn: str, kind: str, name: str, session: str) -> None:
    principal = parse_principal(arn)
    assert (principal.account_id, principal.kind, principal.name, principal.session_name) == (
        ACCOUNT,
        kind,
        name,
        session,
    )


def test_parse_context_collects_repeated_keys() -> None:
    assert parse_context(["k=a", "k=b", "acs:SourceIp=1.2.3.4", "e="]) == {
        "k": ("a", "b"),
        "acs:SourceIp": ("1.2.3.4",),
        "e": ("",),
    }
