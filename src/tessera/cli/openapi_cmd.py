"""``tessera sts|ram <Action> --<Param> …`` and ``tessera configure``, aliyun-CLI style.

Owns: turning ``--<Param> value`` pairs into an RPC call made by the official
``alibabacloud_tea_openapi`` client (``call_api``; V3 signatures by default, V1 on request),
checking the action name against what Tessera serves, printing the response as the aliyun CLI
does (spec/sts-ram.md §5.4), server errors as Code/Message/RequestId on stderr, and writing
and listing ``~/.aliyun/config.json`` profiles (``tessera configure``).
Must not: sign requests by hand, or print a secret other than a response that holds one.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tessera.cli.output import connection_problem, fail, print_json
from tessera.cli.profiles import (
    DEFAULT_ENDPOINT,
    DEFAULT_REGION,
    Credentials,
    Profile,
    ProfileError,
    add_profile_flags,
    canonical_mode,
    config_path,
    find_profile,
    load_config,
    mask,
    missing_fields,
    resolve_profile,
    save_profile,
)

STS_VERSION = "2015-04-01"  # same values as tessera.rpc.actions, kept import-light here
RAM_VERSION = "2015-05-01"
SERVICES = {"sts": ("STS", STS_VERSION), "ram": ("RAM", RAM_VERSION)}


class UsageError(Exception):
    """A mistake on the command line (exit 2)."""


@dataclass
class ApiError(Exception):
    """The server answered with an error (as the official client reports it)."""

    code: str
    message: str
    request_id: str
    status: int
    access_denied_detail: Any = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class Unreachable(Exception):
    """No HTTP answer from the endpoint (refused, timed out, TLS failure)."""


# ---- the API call -----------------------------------------------------------------------------


def call(
    profile: Profile,
    action: str,
    version: str,
    params: Mapping[str, str],
    *,
    credentials: Credentials | None = None,
    v1: bool = False,
) -> dict[str, Any]:
    """Call one RPC action through the official client; returns the response body.

    Raises ``ApiError`` for an error response, ``Unreachable`` when there was none and
    ``ProfileError`` when the profile's credentials cannot be had.
    """
    from alibabacloud_tea_openapi import utils_models  # type: ignore[import-untyped]
    from alibabacloud_tea_openapi.client import Client  # type: ignore[import-untyped]
    from darabonba.runtime import RuntimeOptions  # type: ignore[import-untyped]

    config = profile.tea_config(credentials)
    if v1:
        config.signature_algorithm = "v2"  # the tea name for the V1 (HMAC-SHA1) RPC signature
    api = utils_models.Params(
        action=action,
        version=version,
        protocol=profile.scheme.upper(),
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    request = utils_models.OpenApiRequest(query=dict(params))
    try:
        response = Client(config).call_api(api, request, RuntimeOptions(autoretry=False))
    except Exception as exc:
        code = getattr(exc, "code", None)
        data = getattr(exc, "data", None)
        if code is None or not isinstance(data, dict):
            raise Unreachable(connection_problem(exc)) from exc
        raise ApiError(
            code=str(code),
            message=str(data.get("Message", "")),
            request_id=str(data.get("RequestId", "")),
            status=int(data.get("statusCode") or getattr(exc, "status_code", 0) or 0),
            access_denied_detail=data.get("AccessDeniedDetail"),
        ) from exc
    body = response.get("body")
    return body if isinstance(body, dict) else {"Body": body}


def report_api_error(what: str, exc: ApiError) -> int:
    print(f"tessera: {what} failed (HTTP {exc.status})", file=sys.stderr)
    print(f"Code: {exc.code}", file=sys.stderr)
    print(f"Message: {exc.message}", file=sys.stderr)
    print(f"RequestId: {exc.request_id}", file=sys.stderr)
    if exc.access_denied_detail:
        detail = json.dumps(exc.access_denied_detail, sort_keys=True, ensure_ascii=False)
        print(f"AccessDeniedDetail: {detail}", file=sys.stderr)
    return 1


# ---- `tessera sts|ram <Action>` ---------------------------------------------------------------


def served_actions(version: str) -> list[str]:
    """The action names Tessera serves in API ``version`` (from the server's action table)."""
    from tessera.rpc import ram_handlers, sts_handlers
    from tessera.rpc.actions import ActionTable

    table = ActionTable()
    ram_handlers.register(table)
    sts_handlers.register(table)
    return sorted(action.name for action in table if action.version == version)


def check_action(action: str, service: str, served: Sequence[str]) -> str:
    """``action`` if served; else ``UsageError`` naming the closest served action."""
    if action in served:
        return action
    folded = {name.lower(): name for name in served}
    close = folded.get(action.lower())
    if close is None:
        matches = difflib.get_close_matches(action, served, n=1, cutoff=0.6)
        close = matches[0] if matches else None
    hint = f'; did you mean "{close}"?' if close else f" (`tessera {service}` lists them)"
    raise UsageError(f'unknown {SERVICES[service][0]} action "{action}"{hint}')


def api_params(extra: Sequence[str]) -> dict[str, str]:
    """``--Name value`` / ``--Name=value`` pairs → API parameters (names start upper-case)."""
    params: dict[str, str] = {}
    i = 0
    while i < len(extra):
        token = extra[i]
        if not token.startswith("--") or len(token) < 3:
            raise UsageError(f"unexpected argument {token!r}: API parameters are --Name value")
        name, eq, value = token[2:].partition("=")
        if not name[:1].isupper():
            raise UsageError(
                f"unrecognized option --{name} (API parameters start with a capital letter)"
            )
        if not eq:
            if i + 1 >= len(extra) or extra[i + 1].startswith("--"):
                raise UsageError(f"--{name} needs a value (use --{name}= for an empty one)")
            i += 1
            value = extra[i]
        if name in params:
            raise UsageError(f"--{name} given twice")
        params[name] = value
        i += 1
    return params


def _run_api(service: str, args: argparse.Namespace, extra: list[str]) -> int:
    label, version = SERVICES[service]
    served = served_actions(version)
    if args.action is None:
        print(f"{label} actions served by Tessera (API version {version}):")
        for name in served:
            print(f"  {name}")
        return 0
    try:
        params = api_params(extra)
        action = args.action if args.force else check_action(args.action, service, served)
    except UsageError as exc:
        return fail(str(exc), 2)
    try:
        profile = resolve_profile(args)
        body = call(profile, action, version, params, v1=args.signature == "V1")
    except ProfileError as exc:
        return fail(str(exc), 2)
    except ApiError as exc:
        return report_api_error(f"{service} {action}", exc)
    except Unreachable as exc:
        return fail(f"{service} {action}: no answer from {profile.url}: {exc}", 1)
    print_json(body)
    return 0


def _run_sts(args: argparse.Namespace, extra: list[str]) -> int:
    return _run_api("sts", args, extra)


def _run_ram(args: argparse.Namespace, extra: list[str]) -> int:
    return _run_api("ram", args, extra)


# ---- `tessera configure` ----------------------------------------------------------------------

_ENTRY_FLAGS = (  # config-file field ← flag attribute
    ("access_key_id", "access_key_id"),
    ("access_key_secret", "access_key_secret"),
    ("sts_token", "sts_token"),
    ("ram_role_arn", "ram_role_arn"),
    ("ram_session_name", "role_session_name"),
    ("external_id", "external_id"),
    ("expired_seconds", "expired_seconds"),
    ("sts_endpoint", "sts_endpoint"),
    ("region_id", "region"),
)


def _configure_set(args: argparse.Namespace) -> int:
    path = config_path(args)
    try:
        config = load_config(path)
    except ProfileError as exc:
        return fail(str(exc), 2)
    name = args.profile or config.get("current") or "default"
    existing = find_profile(config, name) or {}
    entry: dict[str, Any] = dict(existing)
    entry["name"] = name
    for field_name, attribute in _ENTRY_FLAGS:
        value = getattr(args, attribute, None)
        if value not in (None, ""):
            entry[field_name] = value
    if args.endpoint:
        endpoint = args.endpoint
        if args.insecure and "://" not in endpoint:
            endpoint = f"http://{endpoint}"
        entry["endpoint"] = endpoint
    try:
        entry["mode"] = canonical_mode(args.mode or existing.get("mode") or "AK", "--mode")
    except ProfileError as exc:
        return fail(str(exc), 2)
    entry.setdefault("region_id", DEFAULT_REGION)
    entry.setdefault("output_format", "json")
    entry.setdefault("language", "en")
    missing = missing_fields(entry["mode"], entry)
    if missing:
        flags = ", ".join("--" + _flag_of(field_name) for field_name in missing)
        return fail(f"profile {name!r} (mode {entry['mode']}) needs {flags}", 2)
    try:
        save_profile(path, entry)
    except OSError as exc:
        return fail(f"cannot write {path}: {exc.strerror}", 2)
    print(f"Saved profile {name!r} (mode {entry['mode']}) to {path}; it is now the current one.")
    return 0


def _flag_of(field_name: str) -> str:
    attribute = dict(_ENTRY_FLAGS).get(field_name, field_name)
    return attribute.replace("_", "-")


def _configure_list(args: argparse.Namespace) -> int:
    path = config_path(args)
    try:
        config = load_config(path)
    except ProfileError as exc:
        return fail(str(exc), 2)
    rows = [("Profile", "Mode", "Credential", "Valid", "Region", "Endpoint")]
    current = config.get("current")
    for entry in config.get("profiles", []):
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("name", ""))
        mode = str(entry.get("mode", ""))
        try:
            valid = not missing_fields(canonical_mode(mode, name), entry)
        except ProfileError:
            valid = False
        rows.append(
            (
                name + (" *" if name == current else ""),
                mode,
                f"{mode}:{mask(str(entry.get('access_key_id') or ''))}",
                "Valid" if valid else "Invalid",
                str(entry.get("region_id") or ""),
                str(entry.get("endpoint") or f"(default {DEFAULT_ENDPOINT})"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print(" | ".join("-" * width for width in widths))
    return 0


def _run_configure(args: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        return fail(f"configure: unrecognized arguments: {' '.join(extra)}", 2)
    if args.configure_command == "list":
        return _configure_list(args)
    return _configure_set(args)


# ---- registration -----------------------------------------------------------------------------


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this module's subcommands; each sets ``run(args, extra) -> exit code``."""
    for service, run in (("sts", _run_sts), ("ram", _run_ram)):
        label, version = SERVICES[service]
        parser = commands.add_parser(
            service,
            help=f"call an {label} API action (aliyun CLI style: --<Param> value)",
            description=f"Call an {label} {version} action on a Tessera server with the official "
            "client and print the response (keys sorted, tab indented). "
            f"Without an action, list the {label} actions Tessera serves.",
            epilog=f"example: tessera {service} "
            + (
                "AssumeRole --RoleArn acs:ram::<account>:role/<name> --RoleSessionName s"
                if service == "sts"
                else "CreateUser --UserName alice"
            ),
        )
        example = "AssumeRole" if service == "sts" else "ListUsers"
        parser.add_argument("action", nargs="?", help=f"API action name, e.g. {example}")
        parser.add_argument(
            "--signature",
            type=str.upper,
            choices=("V3", "V1"),
            default="V3",
            help="signature: V3 (ACS3-HMAC-SHA256, the default of the official client) or V1",
        )
        parser.add_argument(
            "--force", action="store_true", help="send an action name Tessera does not list"
        )
        add_profile_flags(parser)
        parser.set_defaults(run=run)

    configure = commands.add_parser(
        "configure",
        help="write or list profiles of the aliyun CLI config file",
        description="`configure [set]` adds or updates a profile (only the given fields change) "
        "and makes it current; `configure list` shows the profiles with secrets masked. "
        "The file is written atomically and owner-only (0600).",
    )
    configure.add_argument(
        "configure_command", nargs="?", choices=("set", "list"), default="set", metavar="set|list"
    )
    add_profile_flags(configure)
    configure.set_defaults(run=_run_configure)
