"""The RPC API as data: which actions exist, in which API version, and how each is authorized.

Owns: the ``Action`` record, the ``RpcContext`` handed to handlers and the registry
(``ActionTable``) keyed by (Version, Action). Handler modules (``ram_handlers``,
``sts_handlers``) register into a table; ``rpc.app`` looks actions up here — there are no
``if action == …`` chains anywhere.
Must not: parse HTTP or render responses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tessera.accesslog import AccessRecord
from tessera.errors import UnknownAction, UnsupportedVersion
from tessera.identity.model import Caller
from tessera.rpc.params import Params

RAM_VERSION = "2015-05-01"
STS_VERSION = "2015-04-01"


@dataclass(slots=True)  # built per request; not frozen: frozen __init__ costs ~3x
class RequestFacts:
    """Facts about the HTTP request that policies may condition on (no secrets)."""

    source_ip: str
    secure_transport: bool
    user_agent: str = ""
    referer: str = ""


@dataclass(slots=True)  # built per request (see RequestFacts)
class RpcContext:
    """Everything a handler may use: the verified caller, its parameters and the time."""

    request_id: str
    caller: Caller
    params: Params
    now: float
    facts: RequestFacts
    record: AccessRecord
    services: Any  # tessera.rpc.app.Services; typed as Any to keep this module import-light


Handler = Callable[[RpcContext], Mapping[str, Any]]
ResourceOf = Callable[[RpcContext], str]


@dataclass(frozen=True, slots=True)
class Action:
    """One RPC action.

    ``policy_action`` (e.g. ``ram:CreateUser``) and ``resource`` drive the generic authorization
    done before the handler runs; ``None`` means the handler authorizes itself (AssumeRole) or
    needs no authorization (GetCallerIdentity). ``blocking`` handlers run in a worker thread.
    """

    name: str
    version: str
    handler: Handler
    policy_action: str | None
    resource: ResourceOf | None = None
    blocking: bool = True

    @property
    def service(self) -> str:
        """``sts`` or ``ram``: the prefix of this action's name in logs and policies."""
        return "sts" if self.version == STS_VERSION else "ram"


@dataclass
class ActionTable:
    actions: dict[tuple[str, str], Action] = field(default_factory=dict)
    _versions: set[str] = field(default_factory=set)

    def register(self, action: Action) -> None:
        key = (action.version, action.name)
        if key in self.actions:
            raise ValueError(f"action registered twice: {key}")
        self.actions[key] = action
        self._versions.add(action.version)

    def lookup(self, version: str | None, name: str | None) -> Action:
        """The action, or ``UnsupportedVersion``/``UnknownAction`` as Alibaba answers them."""
        if not version or version not in self._versions:
            raise UnsupportedVersion(version or "")
        action = self.actions.get((version, name or ""))
        if action is None:
            raise UnknownAction(name or "")
        return action

    def versions(self) -> frozenset[str]:
        return frozenset(self._versions)

    def __iter__(self) -> Iterator[Action]:
        return iter(self.actions.values())
