"""``tessera policy check|simulate``: the policy engine from the command line.

Owns: reading policy files, pointing at the place of a validation error (``FILE:line:col``
from the JSON path the strict parser names, e.g. ``Statement[1].Condition``), and simulating
one request: identity policies from files and/or a principal's attached policies (fetched
from the server with the RAM API, a user's groups included), an optional session policy, the
decision by ``tessera.identity.authorize`` (the server's own rule) and what decided it.
Must not: hold policy semantics of its own (``tessera.policy`` and ``identity.authorize`` do)
or print credentials.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tessera.cli.output import fail, print_json
from tessera.cli.profiles import ProfileError, add_profile_flags, resolve_profile

KIND_LIMITS = {  # characters the API accepts per document (spec sts-ram.md §1.2, §3.5)
    "identity": 6144,
    "session": 2048,
}

POLICY_KINDS = ("identity", "session", "trust", "resource")  # tessera.policy.KINDS, import-free

# one step of a place such as Statement[1].Condition.IpAddress["acs:SourceIp"][0]
_STEP = re.compile(r'\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|\.?((?:[^.\[:]|:(?! ))+)')


class PolicyFileError(Exception):
    """A policy file that cannot be used; the message is ``FILE[:line:col]: reason``."""


# ---- locating an error ------------------------------------------------------------------------


def split_detail(detail: str) -> tuple[list[str | int], str] | None:
    """``Statement[1].Effect: must be …`` → (["Statement", 1, "Effect"], "must be …")."""
    steps: list[str | int] = []
    pos = 0
    while pos < len(detail) and not detail.startswith(": ", pos):
        match = _STEP.match(detail, pos)
        if match is None or match.end() == pos:
            return None
        quoted, index, name = match.groups()
        if quoted is not None:
            steps.append(json.loads(f'"{quoted}"'))
        elif index is not None:
            steps.append(int(index))
        else:
            steps.append(name)
        pos = match.end()
    if not detail.startswith(": ", pos):
        return None
    if steps[:1] == ["Policy"]:
        steps = steps[1:]
    return steps, detail[pos + 2 :]


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def locate(text: str, steps: Sequence[str | int]) -> int | None:
    """Offset of the JSON value at ``steps`` in ``text`` (the last of duplicate keys, as JSON
    reads them), or None when the text does not have that shape."""
    decoder = json.JSONDecoder()
    try:
        pos = _skip_space(text, 0)
        for step in steps:
            opening = "[" if isinstance(step, int) else "{"
            if text[pos] != opening:
                return None
            pos = _skip_space(text, pos + 1)
            found: int | None = None
            count = 0
            while text[pos] not in "]}":
                if isinstance(step, int):
                    if count == step:
                        found = pos
                        break
                else:
                    key, pos = decoder.raw_decode(text, pos)
                    pos = _skip_space(text, pos)
                    if text[pos] != ":":
                        return None
                    pos = _skip_space(text, pos + 1)
                    if key == step:
                        found = pos
                _, pos = decoder.raw_decode(text, pos)
                pos = _skip_space(text, pos)
                if text[pos] == ",":
                    pos = _skip_space(text, pos + 1)
                count += 1
            if found is None:
                return None
            pos = found
        return pos
    except (ValueError, IndexError):
        return None


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset``, as ``json`` reports them."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - text.rfind("\n", 0, offset)


# ---- check ------------------------------------------------------------------------------------


def read_policy_file(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyFileError(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def check_policy(name: str, text: str, kind: str = "identity") -> Any:
    """The compiled policy (strict parse), or ``PolicyFileError`` pointing at the problem."""
    from tessera.errors import MalformedPolicy
    from tessera.policy import parse_policy

    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyFileError(f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise PolicyFileError(f"{name}: invalid JSON: nested too deeply") from exc
    try:
        policy = parse_policy(text, strict=True, kind=kind)
    except MalformedPolicy as exc:
        split = split_detail(exc.detail)
        offset = locate(text, split[0]) if split is not None else None
        where = name if offset is None else "{}:{}:{}".format(name, *line_column(text, offset))
        raise PolicyFileError(f"{where}: {exc.detail}") from exc
    limit = KIND_LIMITS.get(kind)
    size = len(text.encode()) if kind == "session" else len(text)
    if limit is not None and size > limit:
        unit = "bytes" if kind == "session" else "characters"
        raise PolicyFileError(
            f"{name}: {size} {unit}; a {kind} policy may have at most {limit} {unit}"
        )
    return policy


def _run_check(args: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        return fail(f"policy check: unrecognized arguments: {' '.join(extra)}", 2)
    status = 0
    for path in args.files:
        try:
            policy = check_policy(path, read_policy_file(path), args.kind)
        except PolicyFileError as exc:
            print(f"{exc}")
            status = 1
            continue
        count = len(policy.statements)
        plural = "s" if count != 1 else ""
        print(f"{path}: valid {args.kind} policy ({count} statement{plural})")
    return status


# ---- simulate ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """``acs:ram::<account>:root|user/<name>|role/<name>[/<session>]|assumed-role/<r>/<s>``."""

    account_id: str
    kind: str  # "root" | "user" | "role"
    name: str
    session_name: str

    @property
    def arn(self) -> str:
        if self.kind == "root":
            return f"acs:ram::{self.account_id}:root"
        return f"acs:ram::{self.account_id}:{self.kind}/{self.name}"


_PRINCIPAL = re.compile(
    r"acs:ram::(?P<account>\d+):(?:(?P<root>root)|(?P<kind>user|role|assumed-role)/(?P<rest>.+))"
)


def parse_principal(arn: str) -> Principal:
    match = _PRINCIPAL.fullmatch(arn)
    if match is None:
        raise ValueError(
            f"--principal {arn!r}: expected acs:ram::<account>:user/<name>, "
            "acs:ram::<account>:role/<name> or acs:ram::<account>:root"
        )
    account = match["account"]
    if match["root"]:
        return Principal(account, "root", "", "")
    name, _, session = match["rest"].partition("/")
    if match["kind"] == "user":
        if session:
            raise ValueError(f"--principal {arn!r}: a user name has no '/'")
        return Principal(account, "user", name, "")
    return Principal(account, "role", name, session or "tessera-policy-simulate")


def parse_context(pairs: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``["acs:SourceIp=1.2.3.4", "k=a", "k=b"]`` → ``{"acs:SourceIp": ("1.2.3.4",), "k": …}``."""
    context: dict[str, tuple[str, ...]] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"--context {pair!r}: expected key=value")
        context[key.strip()] = (*context.get(key.strip(), ()), value)
    return context


def _resource_account(resource: str) -> str | None:
    parts = resource.split(":", 4)
    return parts[3] if len(parts) == 5 and parts[0] == "acs" else None


@dataclass(frozen=True)
class Source:
    """Where an evaluated policy came from (for the report)."""

    name: str
    policy_type: str
    version: str
    origin: str  # "file F", "user u", "group g", "role r", "session file F"


class _Fetcher:
    """The attached policies of a principal, read through the RAM API with a profile."""

    def __init__(self, args: argparse.Namespace) -> None:
        from tessera.cli.openapi_cmd import RAM_VERSION, call

        self._profile = resolve_profile(args)
        self._call = call
        self._version = RAM_VERSION
        self._documents: dict[tuple[str, str], tuple[str, str]] = {}

    def ram(self, action: str, **params: str) -> dict[str, Any]:
        return self._call(self._profile, action, self._version, params)

    def attached(self, action: str, **params: str) -> list[dict[str, Any]]:
        body = self.ram(action, **params)
        return list((body.get("Policies") or {}).get("Policy") or [])

    def document(self, name: str, policy_type: str) -> tuple[str, str]:
        """(VersionId, PolicyDocument) of the default version."""
        key = (policy_type, name)
        if key not in self._documents:
            body = self.ram("GetPolicy", PolicyName=name, PolicyType=policy_type)
            default = body.get("DefaultPolicyVersion") or {}
            self._documents[key] = (
                str(default.get("VersionId") or body.get("Policy", {}).get("DefaultVersion")),
                str(default.get("PolicyDocument") or ""),
            )
        return self._documents[key]


def _fetch_principal(
    args: argparse.Namespace, principal: Principal
) -> tuple[Any, list[tuple[Any, Source]]]:
    """(Caller, [(NamedPolicy, Source)]) for ``principal`` as the server has it."""
    from tessera.identity.model import Caller, IdentityType
    from tessera.policy import NamedPolicy, load_policy

    fetch = _Fetcher(args)
    owners: list[tuple[str, dict[str, str], str]] = []
    if principal.kind == "root":
        return Caller(IdentityType.ACCOUNT, principal.account_id, ""), []
    if principal.kind == "user":
        user = fetch.ram("GetUser", UserName=principal.name).get("User") or {}
        caller = Caller(
            IdentityType.RAM_USER,
            principal.account_id,
            "",
            user_id=str(user.get("UserId") or ""),
            user_name=str(user.get("UserName") or principal.name),
        )
        owners.append(
            ("ListPoliciesForUser", {"UserName": principal.name}, f"user {caller.user_name}")
        )
        groups = fetch.ram("ListGroupsForUser", UserName=principal.name)
        for group in (groups.get("Groups") or {}).get("Group") or []:
            group_name = str(group.get("GroupName"))
            owners.append(
                ("ListPoliciesForGroup", {"GroupName": group_name}, f"group {group_name}")
            )
    else:
        role = fetch.ram("GetRole", RoleName=principal.name).get("Role") or {}
        role_name = str(role.get("RoleName") or principal.name)
        caller = Caller(
            IdentityType.ASSUMED_ROLE,
            principal.account_id,
            "",
            role_id=str(role.get("RoleId") or ""),
            role_name=role_name,
            session_name=principal.session_name,
        )
        owners.append(("ListPoliciesForRole", {"RoleName": role_name}, f"role {role_name}"))
    found: list[tuple[Any, Source]] = []
    for action, params, origin in owners:
        for attached in fetch.attached(action, **params):
            name, policy_type = str(attached.get("PolicyName")), str(attached.get("PolicyType"))
            version, document = fetch.document(name, policy_type)
            named = NamedPolicy(name, version, load_policy(document, "identity"), policy_type)
            found.append((named, Source(name, policy_type, version, origin)))
    return caller, found


def _file_policy(path: str, kind: str, policy_type: str) -> tuple[Any, Source]:
    from tessera.policy import NamedPolicy

    policy = check_policy(path, read_policy_file(path), kind)
    name = Path(path).name if path != "-" else "stdin"
    origin = f"{'session ' if kind == 'session' else ''}file {path}"
    return NamedPolicy(name, "file", policy, policy_type), Source(name, policy_type, "file", origin)


def simulate(args: argparse.Namespace) -> dict[str, Any]:
    """The decision for the request the arguments describe, as a JSON-ready report."""
    from tessera.clock import iso8601
    from tessera.identity.authorize import authorize
    from tessera.identity.model import Caller, IdentityType
    from tessera.policy import AuthzRequest, ContextKey, PrincipalRef

    context = parse_context(args.context or [])
    if not any(key.lower() == ContextKey.CURRENT_TIME.lower() for key in context):
        context[ContextKey.CURRENT_TIME] = (iso8601(datetime.now(UTC).timestamp()),)
    evaluated: list[tuple[Any, Source]] = []
    principal = parse_principal(args.principal) if args.principal else None
    if principal is not None:
        caller, evaluated = _fetch_principal(args, principal)
    else:
        caller = Caller(
            IdentityType.RAM_USER,
            _resource_account(args.resource) or "",
            "",
            user_id="",
            user_name="(policy files)",
        )
    evaluated += [_file_policy(path, "identity", "File") for path in args.policy_files or []]
    session = None
    if args.session_policy_file:
        session, source = _file_policy(args.session_policy_file, "session", "Session")
        evaluated.append((session, source))
    if caller.identity_type is IdentityType.RAM_USER:
        ref = PrincipalRef.ram_user(caller.account_id, caller.user_name or "", caller.user_id or "")
    elif caller.identity_type is IdentityType.ASSUMED_ROLE:
        ref = PrincipalRef.assumed_role(
            caller.account_id,
            caller.role_name or "",
            caller.role_id or "",
            caller.session_name or "",
        )
    else:
        ref = PrincipalRef.account(caller.account_id)
    request = AuthzRequest(ref, args.action, args.resource, context)
    identity = [named for named, _ in evaluated if named is not session]
    verdict = authorize(
        caller, request, identity, session, resource_account=_resource_account(args.resource)
    )
    types = {source.name: source for _, source in evaluated}
    if verdict.allowed:
        decision = "Allow"
    else:
        decision = "ExplicitDeny" if verdict.explicit else "ImplicitDeny"
    return {
        "Decision": decision,
        "DecidedBy": verdict.policy_kind,
        "Explanation": verdict.explanation,
        "Principal": principal.arn if principal is not None else None,
        "Action": args.action,
        "Resource": args.resource,
        "Context": {key: list(values) for key, values in context.items()},
        "MatchedStatements": [
            {
                "PolicyName": ref.policy_name,
                "PolicyType": types[ref.policy_name].policy_type
                if ref.policy_name in types
                else "",
                "VersionId": ref.version,
                "StatementIndex": ref.index,
                "Sid": ref.sid,
                "Effect": ref.effect,
            }
            for ref in verdict.matched
        ],
        "EvaluatedPolicies": [
            {
                "PolicyName": source.name,
                "PolicyType": source.policy_type,
                "VersionId": source.version,
                "From": source.origin,
            }
            for _, source in evaluated
        ],
    }


def print_report(report: dict[str, Any]) -> None:
    print(f"Decision: {report['Decision']}")
    print(report["Explanation"])
    if report["MatchedStatements"]:
        print("Deciding statements:")
        for item in report["MatchedStatements"]:
            sid = f" Sid={item['Sid']}" if item["Sid"] else ""
            print(
                f"  {item['PolicyName']} ({item['PolicyType']}, {item['VersionId']}) "
                f"Statement[{item['StatementIndex']}]{sid} Effect={item['Effect']}"
            )
    print("Evaluated policies:" if report["EvaluatedPolicies"] else "Evaluated policies: none")
    for item in report["EvaluatedPolicies"]:
        policy = f"{item['PolicyName']} ({item['PolicyType']}, {item['VersionId']})"
        print(f"  {policy} from {item['From']}")


def _run_simulate(args: argparse.Namespace, extra: list[str]) -> int:
    from tessera.cli.openapi_cmd import ApiError, Unreachable, report_api_error

    if extra:
        return fail(f"policy simulate: unrecognized arguments: {' '.join(extra)}", 2)
    if not args.principal and not args.policy_files:
        return fail("policy simulate: give --principal and/or --policy-file", 2)
    try:
        report = simulate(args)
    except ValueError as exc:
        return fail(str(exc), 2)
    except PolicyFileError as exc:
        return fail(str(exc), 1)
    except ProfileError as exc:
        return fail(str(exc), 2)
    except ApiError as exc:
        return report_api_error(f"reading the policies of {args.principal}", exc)
    except Unreachable as exc:
        return fail(f"reading the policies of {args.principal}: no answer: {exc}", 1)
    if args.output == "json":
        print_json(report)
    else:
        print_report(report)
    return 0


# ---- registration -----------------------------------------------------------------------------


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands; each sets ``run(args, extra) -> exit code``."""
    policy = commands.add_parser("policy", help="check policy documents, simulate requests")
    sub = policy.add_subparsers(dest="policy_command", required=True)

    check = sub.add_parser(
        "check",
        help="validate policy documents (exit 0 valid, 1 invalid)",
        description="Validate with the strict parser the RAM API uses; errors are printed as "
        "FILE:LINE:COLUMN: <JSON path>: <reason>.",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="policy JSON file, - for stdin")
    check.add_argument("--kind", choices=POLICY_KINDS, default="identity", help="default identity")
    check.set_defaults(run=_run_check)

    sim = sub.add_parser(
        "simulate",
        help="decide one request against policies and show what decided it",
        description="Decide a request the way the server does: identity policies (from files "
        "and/or the principal's attached policies, its groups' included, read from the server) "
        "AND an optional session policy; an explicit Deny anywhere wins. acs:CurrentTime "
        "defaults to now; other condition keys come from --context.",
    )
    sim.add_argument("--action", required=True, help="e.g. oss:GetObject")
    sim.add_argument("--resource", required=True, help="e.g. acs:oss:*:<account>:bucket/key")
    sim.add_argument(
        "--context",
        action="append",
        metavar="KEY=VALUE",
        help="condition key value, e.g. acs:SourceIp=10.0.0.1 (repeat a key for several values)",
    )
    sim.add_argument(
        "--principal",
        metavar="ARN",
        help="acs:ram::<account>:user/<name>, …:role/<name> or …:root; its policies are read "
        "from the server with the credentials below",
    )
    sim.add_argument(
        "--policy-file",
        dest="policy_files",
        action="append",
        metavar="FILE",
        help="an identity policy (repeatable)",
    )
    sim.add_argument("--session-policy-file", metavar="FILE", help="a session policy")
    sim.add_argument("--output", choices=("text", "json"), default="text")
    add_profile_flags(sim)
    sim.set_defaults(run=_run_simulate)
