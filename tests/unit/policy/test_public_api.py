"""The public surface of ``tessera.policy`` and the purity of the package."""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

import tessera.policy as policy

PACKAGE = Path(policy.__file__).parent


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(policy) if not name.startswith("_")}
    modules = {name for name, value in vars(policy).items() if inspect.ismodule(value)}
    assert set(policy.__all__) == public - modules - {"annotations"}


def test_the_names_the_rest_of_tessera_calls_are_exported() -> None:
    expected = {
        "parse_policy", "load_policy", "Policy", "NamedPolicy", "AuthzRequest", "PrincipalRef",
        "Decision", "Effect", "StatementRef",
        "evaluate", "evaluate_trust", "evaluate_resource_policy",
    }  # fmt: skip
    assert expected <= set(policy.__all__)


def test_signatures() -> None:
    assert str(inspect.signature(policy.parse_policy)) == (
        "(document: 'str | Mapping[str, Any]', *, strict: 'bool' = True, kind: 'str' = 'identity')"
        " -> 'Policy'"
    )
    assert str(inspect.signature(policy.load_policy)) == (
        "(text: 'str', kind: 'str' = 'identity') -> 'Policy'"
    )
    assert list(inspect.signature(policy.NamedPolicy).parameters) == [
        "name", "version", "policy", "policy_type",
    ]  # fmt: skip
    assert list(inspect.signature(policy.AuthzRequest).parameters) == [
        "principal", "action", "resource", "context",
    ]  # fmt: skip
    assert list(inspect.signature(policy.StatementRef).parameters) == [
        "policy_name", "version", "index", "effect", "sid",
    ]  # fmt: skip
    assert [e.name for e in policy.Effect] == ["ALLOW", "EXPLICIT_DENY", "IMPLICIT_DENY"]


def test_package_imports_only_the_standard_library_and_tessera_errors() -> None:
    allowed_local = {"tessera.errors"}
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                ok = top in sys.stdlib_module_names or top == "__future__" or name in allowed_local
                assert ok, f"{path.name} imports {name}"


def test_every_module_says_what_it_owns() -> None:
    for path in PACKAGE.glob("*.py"):
        docstring = ast.get_docstring(ast.parse(path.read_text()))
        assert docstring, f"{path.name} has no module docstring"
