"""The mobile direct-transfer walkthrough (examples/mobile-direct-transfer) against a real server.

``walkthrough.py`` runs every step of the README with the real ``tessera`` CLI and the official
SDKs and raises at the first result that differs from what the README says; here it runs on
a fresh server in a temporary work directory with a temporary HOME (the profiles it writes
stay there). The README and the script are then compared: the shell commands of the README,
in order, must be exactly the commands the script ran (as it recorded them, with the
README's placeholders); its Python snippets must be the script's own code; its broker.toml
and policy JSON the script's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from tests.api.clients import FreshServer
from tests.server import ROOT_ACCESS_KEY_ID, ROOT_ACCESS_KEY_SECRET, free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mobile-direct-transfer"
README = EXAMPLE / "README.md"
SCRIPT = EXAMPLE / "walkthrough.py"

FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
TYPE_IGNORE = re.compile(r"  # type: ignore\[[^\]]*\]")


def load_walkthrough() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mobile_direct_transfer_walkthrough", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def fenced_blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def shell_commands(text: str) -> list[str]:
    """The commands of the ```sh blocks, in order: continuation lines joined, whitespace
    collapsed, a trailing ``&`` (run in the background) dropped, comment lines skipped."""
    commands: list[str] = []
    for block in fenced_blocks(text, "sh"):
        for line in block.replace("\\\n", " ").splitlines():
            line = " ".join(line.split())
            if not line or line.startswith("#"):
                continue
            commands.append(line.removesuffix(" &"))
    return commands


@pytest.fixture(scope="module")
def walkthrough() -> ModuleType:
    return load_walkthrough()


def test_shell_commands_parses_continuations_comments_and_background() -> None:
    text = "x\n```sh\n# a comment\ntessera a \\\n  --b  c &\n\ntessera d\n```\n```text\nno\n```\n"
    assert shell_commands(text) == ["tessera a --b c", "tessera d"]


def test_walkthrough_runs_against_a_fresh_server_as_the_readme_says(
    fresh_server: FreshServer,
    walkthrough: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))  # the in-process SDKs, too, see only this HOME
    for name in [n for n in os.environ if n.startswith("ALIBABA_CLOUD_")]:
        monkeypatch.delenv(name)
    server = fresh_server()
    workdir = tmp_path / "work"

    walkthrough.main(
        server.endpoint,
        workdir,
        root_access_key_id=ROOT_ACCESS_KEY_ID,
        root_access_key_secret=ROOT_ACCESS_KEY_SECRET,
        home=home,
        broker_port=free_port(),
    )

    steps = [line for line in capsys.readouterr().out.splitlines() if line.startswith("✓ ")]
    assert steps[-1] == "✓ walkthrough complete"
    assert len(steps) >= 15, steps
    assert (home / ".aliyun" / "config.json").is_file()  # the profiles went to the tmp HOME
    profiles = json.loads((home / ".aliyun" / "config.json").read_text())["profiles"]
    assert [p["name"] for p in profiles] == ["root", "appserver", "client-002"]

    ran = (workdir / "commands.txt").read_text().splitlines()
    shown = [c for c in shell_commands(README.read_text()) if c not in walkthrough.NOT_RUN]
    assert ran == shown, "README.md's commands and the script's differ (see the diff)"
    # no secret of this run leaked into what is compared with (and printed by) the README
    assert ROOT_ACCESS_KEY_SECRET not in "\n".join(ran)
    assert not any(re.search(r"STS\.[A-Za-z0-9]{8}", c) for c in ran)


def test_readme_lists_every_command_the_script_leaves_out(walkthrough: ModuleType) -> None:
    commands = shell_commands(README.read_text())
    for command in walkthrough.NOT_RUN:
        assert command in commands, f"NOT_RUN names a command README.md does not show: {command}"
    run = [c for c in commands if c not in walkthrough.NOT_RUN]
    assert run and all(c.startswith(("tessera ", "TESSERA_BROKER_")) for c in run), run


def test_readme_python_snippets_are_the_scripts_code() -> None:
    source = TYPE_IGNORE.sub("", SCRIPT.read_text())
    source_lines = set(source.splitlines())
    snippets = fenced_blocks(README.read_text(), "python")
    assert len(snippets) == 3
    for snippet in snippets:
        lines = [line for line in snippet.splitlines() if line]
        if all(line.startswith(("import ", "from ")) for line in lines):
            missing = [line for line in lines if line not in source_lines]
            assert not missing, f"imports README.md shows but the script lacks: {missing}"
        else:
            assert textwrap.dedent(snippet) in source, f"not the script's code:\n{snippet}"


def test_readme_broker_toml_and_policies_are_the_scripts(walkthrough: ModuleType) -> None:
    text = README.read_text()
    assert fenced_blocks(text, "toml") == [walkthrough.BROKER_TOML]
    documents = [json.loads(block) for block in fenced_blocks(text, "json") if "Statement" in block]
    assert documents == [
        json.loads(walkthrough.TRUST_POLICY),
        json.loads(walkthrough.SESSION_POLICY),
    ]
