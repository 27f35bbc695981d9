"""Official clients pointed at a test server (spec §2.6), and the identities tests need.

``TeaApi`` drives a tea client (``alibabacloud-ram20150501`` / ``alibabacloud-sts20150401``)
by action name: ``ram("CreateUser", user_name="x")`` calls ``client.create_user(
models.CreateUserRequest(user_name="x"))`` and returns the response body as the SDK model
reads it (``to_map()``). ``ram.fails("CreateUser", ...)`` expects the SDK to raise and returns
the error's code, HTTP status and message as the SDK exposes them.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.models import Config

from tests.api.rawrpc import Credentials
from tests.server import ACCOUNT_ID, ROOT_ACCESS_KEY_ID, ROOT_ACCESS_KEY_SECRET, TesseraServer

ROOT = Credentials(ROOT_ACCESS_KEY_ID, ROOT_ACCESS_KEY_SECRET)

# the ``fresh_server`` fixture: ``fresh_server(tls=True, data_dir=..., server_class=...)``
FreshServer = Callable[..., TesseraServer]

# spec §1.2 / §1.5 / §1.6
EXPIRATION = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
REQUEST_ID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
NUMERIC_ID = re.compile(r"^\d{15,19}$")


def unique(prefix: str) -> str:
    """A name no other test uses on the shared server."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def snake(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


@dataclass(frozen=True)
class ApiError:
    """An error as an official SDK surfaced it."""

    code: str
    status: int
    message: str
    data: dict[str, Any]


class SdkCallSucceeded(AssertionError):
    pass


def tea_error(exc: Exception) -> ApiError:
    """``code``, HTTP status and server message of a tea ``ClientException``."""
    data: dict[str, Any] = dict(getattr(exc, "data", None) or {})
    status = getattr(exc, "statusCode", None) or data.get("statusCode")
    return ApiError(
        code=str(getattr(exc, "code", "")),
        status=int(status) if status is not None else 0,
        message=str(data.get("Message", "")),
        data=data,
    )


class TeaApi:
    """A tea client, called by action name."""

    def __init__(self, client: Any, models: Any) -> None:
        self.client = client
        self.models = models

    def _invoke(self, action: str, kwargs: dict[str, Any]) -> Any:
        method = getattr(self.client, snake(action))
        request_class = getattr(self.models, f"{action}Request", None)
        if request_class is None:
            assert not kwargs, f"{action} takes no parameters"
            return method()
        return method(request_class(**kwargs))

    def __call__(self, action: str, **kwargs: Any) -> dict[str, Any]:
        response = self._invoke(action, kwargs)
        assert response.status_code == 200, (action, response.status_code)
        body: dict[str, Any] = response.body.to_map()
        return body

    def fails(self, action: str, **kwargs: Any) -> ApiError:
        try:
            body = self(action, **kwargs)
        except Exception as exc:
            if not hasattr(exc, "code"):
                raise
            return tea_error(exc)
        raise SdkCallSucceeded(f"{action} succeeded unexpectedly: {body}")


def tea_config(
    server: TesseraServer,
    creds: Credentials,
    *,
    v2: bool = False,
    credential: Any = None,
) -> Config:
    config = Config(
        endpoint=server.endpoint,
        protocol=server.scheme,
        read_timeout=10_000,
        connect_timeout=5_000,
    )
    if credential is not None:
        config.credential = credential
    else:
        config.access_key_id = creds.access_key_id
        config.access_key_secret = creds.access_key_secret
        if creds.security_token is not None:
            config.security_token = creds.security_token
    if v2:
        config.signature_algorithm = "v2"
    return config


def ram_api(server: TesseraServer, creds: Credentials = ROOT, *, v2: bool = False) -> TeaApi:
    return TeaApi(RamClient(tea_config(server, creds, v2=v2)), ram_models)


def sts_api(
    server: TesseraServer, creds: Credentials = ROOT, *, v2: bool = False, credential: Any = None
) -> TeaApi:
    return TeaApi(StsClient(tea_config(server, creds, v2=v2, credential=credential)), sts_models)


# ---- policy documents ------------------------------------------------------------------------


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def trust(*principals: str, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Principal": {"RAM": list(principals)},
    }
    if condition is not None:
        statement["Condition"] = condition
    return policy(statement)


def account_root(account_id: str = ACCOUNT_ID) -> str:
    return f"acs:ram::{account_id}:root"


def role_arn(role_name: str, account_id: str = ACCOUNT_ID) -> str:
    return f"acs:ram::{account_id}:role/{role_name}"


# ---- identities ------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    name: str
    user_id: str
    creds: Credentials


@dataclass(frozen=True)
class Role:
    name: str
    role_id: str
    arn: str
    max_session_duration: int


class Identities:
    """Creates RAM users (with a key and attached policies) and roles through the RAM SDK."""

    def __init__(self, server: TesseraServer, root: Credentials = ROOT) -> None:
        self.server = server
        self.ram = ram_api(server, root)
        self.account_id = self._account_id(root)

    def _account_id(self, root: Credentials) -> str:
        return str(sts_api(self.server, root)("GetCallerIdentity")["AccountId"])

    def user(self, prefix: str = "user", *, system: tuple[str, ...] = (), custom: str = "") -> User:
        """A user with an AccessKey, the named System policies and (optionally) one custom
        policy document attached."""
        name = unique(prefix)
        created = self.ram("CreateUser", user_name=name)["User"]
        key = self.ram("CreateAccessKey", user_name=name)["AccessKey"]
        for policy_name in system:
            self.ram(
                "AttachPolicyToUser", policy_name=policy_name, policy_type="System", user_name=name
            )
        if custom:
            policy_name = unique("pol")
            self.ram("CreatePolicy", policy_name=policy_name, policy_document=custom)
            self.ram(
                "AttachPolicyToUser", policy_name=policy_name, policy_type="Custom", user_name=name
            )
        return User(
            name, created["UserId"], Credentials(key["AccessKeyId"], key["AccessKeySecret"])
        )

    def role(
        self,
        prefix: str = "role",
        *,
        trust_policy: str | None = None,
        system: tuple[str, ...] = (),
        max_session_duration: int | None = None,
    ) -> Role:
        name = unique(prefix)
        kwargs: dict[str, Any] = {
            "role_name": name,
            "assume_role_policy_document": trust_policy or trust(account_root(self.account_id)),
        }
        if max_session_duration is not None:
            kwargs["max_session_duration"] = max_session_duration
        created = self.ram("CreateRole", **kwargs)["Role"]
        for policy_name in system:
            self.ram(
                "AttachPolicyToRole", policy_name=policy_name, policy_type="System", role_name=name
            )
        return Role(name, created["RoleId"], created["Arn"], int(created["MaxSessionDuration"]))


def session_creds(assumed: dict[str, Any]) -> Credentials:
    """The temporary credentials of an AssumeRole response body."""
    c = assumed["Credentials"]
    return Credentials(c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"])
