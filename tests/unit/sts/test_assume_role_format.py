"""AssumeRole's format checks (spec sts-ram.md AssumeRole parameters) match whole values.

A pattern ending in ``$`` also matches just before a final line break, so "role/x\\n" or a
session name "alice\\n" would pass a ``re.match``; every check is a full match.
"""

from __future__ import annotations

import pytest

from tessera.errors import InvalidArgument
from tessera.sts.assume_role import AssumeRoleInput, _check_format

ARN = "acs:ram::1234567890123456:role/reader"


def test_well_formed_input_names_account_and_role() -> None:
    checked = _check_format(AssumeRoleInput(ARN, "alice", external_id="ext-1"))
    assert checked == ("1234567890123456", "reader")


@pytest.mark.parametrize(
    ("request_input", "field"),
    [
        (AssumeRoleInput(ARN + "\n", "alice"), "RoleArn"),
        (AssumeRoleInput(ARN, "alice\n"), "RoleSessionName"),
        (AssumeRoleInput(ARN, "\nalice"), "RoleSessionName"),
        (AssumeRoleInput(ARN, "alice", external_id="ext-1\n"), "ExternalId"),
    ],
)
def test_a_trailing_line_break_is_refused(request_input: AssumeRoleInput, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        _check_format(request_input)
    assert caught.value.param == field
