"""Per-decision cost of ``tessera.policy.evaluate`` next to cedarpy on an equivalent policy set.

Run: ``python bench/policy_decision.py [--quick]``. The set is five policies with fifteen
statements between them (wildcard actions and resources, an IP guard, a transport guard, a date
window and a prefix condition); the ten requests cover allow, explicit deny and implicit deny.
Both engines are handed pre-parsed policies. Before timing, the script checks that both engines
reach the same decision with the same matched statements on every request. A last row times
cedarpy on one trivial policy with an empty context: the least any cedarpy decision costs.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from collections.abc import Callable
from typing import Any

import cedarpy

from tessera.policy import AuthzRequest, NamedPolicy, PrincipalRef, evaluate, parse_policy

ACCOUNT = "1234567890123456"

POLICIES: dict[str, dict[str, Any]] = {
    "AliyunOSSReadOnlyAccess": {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": ["oss:Get*", "oss:List*"], "Resource": "*"}],
    },
    "app-writer": {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "oss:PutObject",
                "Resource": "acs:oss:*:*:app-bucket/uploads/*",
            },
            {
                "Effect": "Allow",
                "Action": "oss:DeleteObject",
                "Resource": "acs:oss:*:*:app-bucket/tmp/*",
            },
            {
                "Effect": "Deny",
                "Action": "oss:DeleteObject",
                "Resource": "acs:oss:*:*:app-bucket/keep/*",
            },
            {
                "Effect": "Allow",
                "Action": ["oss:AbortMultipartUpload", "oss:ListParts"],
                "Resource": "acs:oss:*:*:app-bucket/*",
            },
        ],
    },
    "network-guard": {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"NotIpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
            },
            {
                "Effect": "Deny",
                "Action": "oss:Put*",
                "Resource": "*",
                "Condition": {"Bool": {"acs:SecureTransport": "false"}},
            },
        ],
    },
    "ram-operator": {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": ["ram:Get*", "ram:List*"], "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "ram:CreateUser",
                "Resource": f"acs:ram:*:{ACCOUNT}:user/*",
            },
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"acs:ram:*:{ACCOUNT}:role/app-*",
            },
            {"Effect": "Deny", "Action": "ram:DeleteUser", "Resource": "*"},
        ],
    },
    "reports-window": {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "oss:GetObject",
                "Resource": "acs:oss:*:*:reports/*",
                "Condition": {"DateLessThan": {"acs:CurrentTime": "2030-01-01T00:00:00Z"}},
            },
            {
                "Effect": "Allow",
                "Action": "oss:ListObjects",
                "Resource": "acs:oss:*:*:reports",
                "Condition": {"StringLike": {"oss:Prefix": ["2024/*", "2025/*"]}},
            },
            {"Effect": "Allow", "Action": ["ecs:Describe*", "vpc:Describe*"], "Resource": "*"},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": f"acs:kms:*:{ACCOUNT}:key/*"},
        ],
    },
}

# The same fifteen statements in Cedar, one policy each, @id = "<policy>#<index>".
# Actions and resources travel in the context because Cedar has no wildcard over entity ids.
_OSS_PUT, _OSS_DEL = 'context.action == "oss:putobject"', 'context.action == "oss:deleteobject"'
_IN_RANGE = "context.ip.isInRange"
CEDAR_STATEMENTS = [
    (
        "AliyunOSSReadOnlyAccess#0",
        "permit",
        'context.action like "oss:get*" || context.action like "oss:list*"',
    ),
    (
        "app-writer#0",
        "permit",
        f'{_OSS_PUT} && context.resource like "acs:oss:*:*:app-bucket/uploads/*"',
    ),
    (
        "app-writer#1",
        "permit",
        f'{_OSS_DEL} && context.resource like "acs:oss:*:*:app-bucket/tmp/*"',
    ),
    (
        "app-writer#2",
        "forbid",
        f'{_OSS_DEL} && context.resource like "acs:oss:*:*:app-bucket/keep/*"',
    ),
    (
        "app-writer#3",
        "permit",
        '(context.action == "oss:abortmultipartupload" || '
        'context.action == "oss:listparts") && context.resource like "acs:oss:*:*:app-bucket/*"',
    ),
    (
        "network-guard#0",
        "forbid",
        f'!({_IN_RANGE}(ip("10.0.0.0/8")) || {_IN_RANGE}(ip("192.168.0.0/16")))',
    ),
    ("network-guard#1", "forbid", 'context.action like "oss:put*" && context.secure == false'),
    (
        "ram-operator#0",
        "permit",
        'context.action like "ram:get*" || context.action like "ram:list*"',
    ),
    (
        "ram-operator#1",
        "permit",
        f'context.action == "ram:createuser" && context.resource like "acs:ram:*:{ACCOUNT}:user/*"',
    ),
    (
        "ram-operator#2",
        "permit",
        'context.action == "sts:assumerole" && '
        f'context.resource like "acs:ram:*:{ACCOUNT}:role/app-*"',
    ),
    ("ram-operator#3", "forbid", 'context.action == "ram:deleteuser"'),
    (
        "reports-window#0",
        "permit",
        'context.action == "oss:getobject" && '
        'context.resource like "acs:oss:*:*:reports/*" && '
        'context.now < datetime("2030-01-01T00:00:00Z")',
    ),
    (
        "reports-window#1",
        "permit",
        'context.action == "oss:listobjects" && '
        'context.resource like "acs:oss:*:*:reports" && context has prefix && '
        '(context.prefix like "2024/*" || context.prefix like "2025/*")',
    ),
    (
        "reports-window#2",
        "permit",
        'context.action like "ecs:describe*" || context.action like "vpc:describe*"',
    ),
    (
        "reports-window#3",
        "permit",
        f'context.action == "kms:decrypt" && context.resource like "acs:kms:*:{ACCOUNT}:key/*"',
    ),
]
CEDAR = "\n".join(
    f'@id("{ident}")\n{effect}(principal, action, resource) when {{ {condition} }};'
    for ident, effect, condition in CEDAR_STATEMENTS
)

NOW = "2025-06-01T12:00:00Z"
OSS = f"acs:oss:*:{ACCOUNT}"
# (action, resource, source ip, https?, oss:Prefix or None)
REQUESTS: list[tuple[str, str, str, bool, str | None]] = [
    ("oss:GetObject", f"{OSS}:app-bucket/uploads/a.txt", "10.1.2.3", True, None),
    ("oss:PutObject", f"{OSS}:app-bucket/uploads/a.txt", "10.1.2.3", True, None),
    ("oss:PutObject", f"{OSS}:app-bucket/uploads/a.txt", "10.1.2.3", False, None),
    ("oss:DeleteObject", f"{OSS}:app-bucket/keep/b.txt", "192.168.7.1", True, None),
    ("oss:GetObject", f"{OSS}:reports/2025/q1.csv", "8.8.8.8", True, None),
    ("ram:DeleteUser", f"acs:ram:*:{ACCOUNT}:user/bob", "10.0.0.9", True, None),
    ("oss:ListObjects", f"{OSS}:reports", "10.0.0.9", True, "2025/01/"),
    ("ecs:RunInstances", f"acs:ecs:cn-hangzhou:{ACCOUNT}:instance/i-1", "10.0.0.9", True, None),
    ("sts:AssumeRole", f"acs:ram:*:{ACCOUNT}:role/app-reader", "10.0.0.9", True, None),
    ("kms:Encrypt", f"acs:kms:cn-hangzhou:{ACCOUNT}:key/k-1", "10.0.0.9", True, None),
]

PRINCIPAL = PrincipalRef.ram_user(ACCOUNT, "alice", "2073290024939201")


def tessera_policies() -> list[NamedPolicy]:
    return [
        NamedPolicy(
            name, "v1", parse_policy(doc), "System" if name.startswith("Aliyun") else "Custom"
        )
        for name, doc in POLICIES.items()
    ]


def tessera_request(
    action: str, resource: str, ip: str, https: bool, prefix: str | None
) -> AuthzRequest:
    context = {
        "acs:SourceIp": (ip,),
        "acs:SecureTransport": ("true" if https else "false",),
        "acs:CurrentTime": (NOW,),
    }
    if prefix is not None:
        context["oss:Prefix"] = (prefix,)
    return AuthzRequest(PRINCIPAL, action, resource, context)


def cedar_request(
    action: str, resource: str, ip: str, https: bool, prefix: str | None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "action": action.lower(),
        "resource": resource,
        "ip": {"__extn": {"fn": "ip", "arg": ip}},
        "secure": https,
        "now": {"__extn": {"fn": "datetime", "arg": NOW}},
    }
    if prefix is not None:
        context["prefix"] = prefix
    return {
        "principal": 'User::"alice"',
        "action": f'Action::"{action.lower()}"',
        "resource": 'Resource::"r"',
        "context": context,
    }


def check_agreement(policies: list[NamedPolicy], cedar_set: Any, entities: Any) -> None:
    for spec in REQUESTS:
        ours = evaluate(policies, tessera_request(*spec))
        theirs = cedarpy.is_authorized(cedar_request(*spec), cedar_set, entities)
        our_ids = sorted(f"{ref.policy_name}#{ref.index}" for ref in ours.matched)
        annotations = theirs.diagnostics.id_annotations_by_reason
        their_ids = sorted(annotations[r] for r in theirs.diagnostics.reasons)
        if ours.allowed != theirs.allowed or our_ids != their_ids or theirs.diagnostics.errors:
            sys.exit(f"engines disagree on {spec}: {ours} vs {theirs.decision} {their_ids}")


def per_decision_us(run: Callable[[], object], decisions_per_run: int, number: int) -> float:
    best = min(timeit.repeat(run, number=number, repeat=7))
    return best / (number * decisions_per_run) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke test)")
    args = parser.parse_args()
    scale = 1 if args.quick else 10

    policies = tessera_policies()
    cedar_set = cedarpy.PolicySet.from_str(CEDAR)
    entities = cedarpy.Entities.from_json_str(json.dumps([]))
    check_agreement(policies, cedar_set, entities)

    prebuilt = [tessera_request(*spec) for spec in REQUESTS]
    cedar_requests = [cedar_request(*spec) for spec in REQUESTS]
    n = len(REQUESTS)

    def tessera_prebuilt() -> None:
        for request in prebuilt:
            evaluate(policies, request)

    def tessera_with_request() -> None:
        for spec in REQUESTS:
            evaluate(policies, tessera_request(*spec))

    def cedar_single() -> None:
        for request in cedar_requests:
            cedarpy.is_authorized(request, cedar_set, entities)

    def cedar_batch() -> None:
        cedarpy.is_authorized_batch(cedar_requests, cedar_set, entities)

    # Cedar's floor: one trivial policy, empty context; what any decision costs through cedarpy.
    floor_set = cedarpy.PolicySet.from_str('permit(principal, action == Action::"read", resource);')
    floor_request = {
        "principal": 'User::"alice"',
        "action": 'Action::"read"',
        "resource": 'Resource::"r"',
        "context": {},
    }

    def cedar_floor() -> None:
        cedarpy.is_authorized(floor_request, floor_set, entities)

    rows = [
        (
            "tessera evaluate (AuthzRequest prebuilt)",
            per_decision_us(tessera_prebuilt, n, 500 * scale),
        ),
        ("tessera AuthzRequest + evaluate", per_decision_us(tessera_with_request, n, 200 * scale)),
        ("cedarpy is_authorized (pre-parsed)", per_decision_us(cedar_single, n, 20 * scale)),
        ("cedarpy is_authorized_batch (pre-parsed)", per_decision_us(cedar_batch, n, 20 * scale)),
        (
            "cedarpy is_authorized, 1 trivial policy (floor)",
            per_decision_us(cedar_floor, 1, 200 * scale),
        ),
    ]
    statements = sum(len(named.policy.statements) for named in policies)
    print(f"{len(policies)} policies, {statements} statements, {n} requests; best of 7 runs\n")
    print(f"{'engine':<48} {'µs/decision':>12}")
    print("-" * 61)
    for label, micros in rows:
        print(f"{label:<48} {micros:>12.2f}")
    cedar = rows[2][1]
    print("-" * 61)
    print(f"cedarpy is_authorized / tessera evaluate:           {cedar / rows[0][1]:6.1f}x")
    print(f"cedarpy is_authorized / tessera request + evaluate: {cedar / rows[1][1]:6.1f}x")
    print(f"cedarpy batch / tessera evaluate:                   {rows[3][1] / rows[0][1]:6.1f}x")
    print(f"cedarpy floor / tessera evaluate:                   {rows[4][1] / rows[0][1]:6.1f}x")


if __name__ == "__main__":
    main()
