"""The pure parts of ``tessera sts|ram``: API parameters from the command line, action-name
checks with suggestions, and the aliyun CLI's JSON layout."""

from __future__ import annotations

import pytest

from tessera.cli.main import main
from tessera.cli.openapi_cmd import (
    RAM_VERSION,
    STS_VERSION,
    UsageError,
    api_params,
    check_action,
    served_actions,
)
from tessera.cli.output import connection_problem, format_json
from tessera.rpc.actions import RAM_VERSION as SERVED_RAM_VERSION
from tessera.rpc.actions import STS_VERSION as SERVED_STS_VERSION


def test_versions_match_the_server() -> None:
    assert (RAM_VERSION, STS_VERSION) == (SERVED_RAM_VERSION, SERVED_STS_VERSION)


def test_served_actions() -> None:
    assert {"AssumeRole", "GetCallerIdentity"} <= set(served_actions(STS_VERSION))
    ram = served_actions(RAM_VERSION)
    assert {"CreateUser", "ListUsers", "AttachPolicyToRole", "ListEntitiesForPolicy"} <= set(ram)
    assert "AssumeRole" not in ram


def test_api_params() -> None:
    argv = ["--UserName", "alice", "--Comments=a=b", "--DisplayName", "", "--Email="]
    assert api_params(argv) == {
        "UserName": "alice",
        "Comments": "a=b",
        "DisplayName": "",
        "Email": "",
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["alice"], "unexpected argument 'alice'"),
        (["--UserName"], "--UserName needs a value"),
        (["--UserName", "--Comments", "x"], "--UserName needs a value"),
        (["--username", "x"], "unrecognized option --username"),
        (["--UserName", "a", "--UserName", "b"], "--UserName given twice"),
        (["--", "x"], "unexpected argument '--'"),
    ],
)
def test_api_params_refuses(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        api_params(argv)


SERVED = ["CreateUser", "GetUser", "ListUsers", "ListRoles"]


def test_check_action_accepts_served_names() -> None:
    assert check_action("ListUsers", "ram", SERVED) == "ListUsers"


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("ListUser", "ListUsers"), ("listusers", "ListUsers"), ("CreatUser", "CreateUser")],
)
def test_check_action_suggests_a_close_name(name: str, suggestion: str) -> None:
    with pytest.raises(
        UsageError, match=f'unknown RAM action "{name}"; did you mean "{suggestion}"'
    ):
        check_action(name, "ram", SERVED)


def test_check_action_without_a_close_name_points_at_the_list() -> None:
    with pytest.raises(UsageError, match=r"unknown STS action \"Frobnicate\" \(`tessera sts`"):
        check_action("Frobnicate", "sts", ["AssumeRole", "GetCallerIdentity"])


def test_format_json_is_the_aliyun_cli_layout() -> None:
    text = format_json({"b": {"z": 1, "a": [True, None]}, "A": "Zoë <&> 测试", "e": {}})
    assert text == (
        "{\n"
        '\t"A": "Zoë <&> 测试",\n'
        '\t"b": {\n'
        '\t\t"a": [\n'
        "\t\t\ttrue,\n"
        "\t\t\tnull\n"
        "\t\t],\n"
        '\t\t"z": 1\n'
        "\t},\n"
        '\t"e": {}\n'
        "}"
    )


def test_usage_errors_exit_2_before_any_request(capsys: pytest.CaptureFixture[str]) -> None:
    # port 9 (discard) is never asked: the name is checked first
    argv = ["ram", "ListUser", "--endpoint", "127.0.0.1:9", "--insecure"]
    assert main(argv) == 2
    assert 'did you mean "ListUsers"' in capsys.readouterr().err
    assert main(["ram", "ListUsers", "--endpoint", "127.0.0.1:9", "--MaxItems"]) == 2
    assert "--MaxItems needs a value" in capsys.readouterr().err


def test_listing_actions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sts"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "STS actions served by Tessera (API version 2015-04-01):"
    assert "  AssumeRole" in out and "  GetCallerIdentity" in out


def test_connection_problem_keeps_the_os_or_tls_reason() -> None:
    refused = Exception(
        "{'message': 'HTTPConnectionPool(host=\\'127.0.0.1\\', port=1): Max retries exceeded "
        '(Caused by NewConnectionError("...: [Errno 111] Connection refused"))\'}'
    )
    assert connection_problem(refused) == "[Errno 111] Connection refused"
    tls = Exception(
        "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] "
        "certificate verify failed: unable to get local issuer certificate (_ssl.c:1006)'))"
    )
    assert connection_problem(tls) == (
        "certificate verify failed: unable to get local issuer certificate "
        "(trust a private CA with SSL_CERT_FILE=<ca.pem>)"
    )
    assert connection_problem(Exception("first line\nsecond")) == "first line"
