"""The pure cores import nothing from I/O layers (STYLE.md item 14)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tessera"

PURE = {
    "policy": {"tessera.policy", "tessera.errors"},
    "signing": {"tessera.signing", "tessera.errors"},
}
FORBIDDEN_STDLIB = {
    "socket",
    "sqlite3",
    "subprocess",
    "asyncio",
    "http",
    "urllib.request",
    "requests",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(PURE))
def test_pure_packages_import_only_themselves_and_errors(package: str) -> None:
    files = sorted((SRC / package).rglob("*.py"))
    assert files, f"no modules found in {package}"
    for path in files:
        for name in _imports(path):
            if name.startswith("tessera"):
                assert any(name == ok or name.startswith(ok + ".") for ok in PURE[package]), (
                    f"{path.relative_to(SRC)} imports {name}"
                )
            assert name.split(".")[0] not in FORBIDDEN_STDLIB and name not in FORBIDDEN_STDLIB, (
                f"{path.relative_to(SRC)} does I/O through {name}"
            )


def test_sts_tokens_and_crypto_do_not_reach_the_store_or_http() -> None:
    for path in (SRC / "sts" / "tokens.py", SRC / "crypto.py", SRC / "identity" / "authorize.py"):
        for name in _imports(path):
            assert not name.startswith(
                ("tessera.store", "tessera.web", "tessera.rpc", "starlette")
            ), f"{path.relative_to(SRC)} imports {name}"


#: Pure modules outside the pure packages: what each may import from Tessera.
PURE_MODULES = {
    "broker/templates.py": {"tessera.broker.errors", "tessera.errors", "tessera.policy"},
    "broker/ratelimit.py": {"tessera.clock"},
    "cli/oss_paths.py": set(),
}


@pytest.mark.parametrize("module", sorted(PURE_MODULES))
def test_pure_modules_do_no_io(module: str) -> None:
    path = SRC / module
    allowed = PURE_MODULES[module]
    for name in _imports(path):
        if name.startswith("tessera"):
            assert any(name == ok or name.startswith(ok + ".") for ok in allowed), (
                f"{module} imports {name}"
            )
        top = name.split(".")[0]
        assert top not in FORBIDDEN_STDLIB and name not in FORBIDDEN_STDLIB | {"os", "io"}, (
            f"{module} does I/O through {name}"
        )
