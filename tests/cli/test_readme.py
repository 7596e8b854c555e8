"""The README against reality (issue #20, item 8): its headers, its offline try-out (a real answer, and a
directive that escalates), its SDK install step, and every ``tiered`` command it names."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import httpx2
import pytest
import typer
from typer.testing import CliRunner

from tiered.cli import app
from tiered.config import load_settings
from tiered.fake_upstream import FakeUpstream
from tiered.server.thread import ProxyThread

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _readme_request() -> tuple[dict[str, Any], dict[str, str]]:
    """The try-out's curl request, as the README writes it."""
    body = re.search(r"-d '(\{.*?\})' \\\n", README)
    assert body, "the try-out's curl request"
    import json

    headers = dict(re.findall(r"-H '([a-z-]+): ([^']+)'", README))
    return json.loads(body.group(1)), headers


@pytest.fixture
def proxy(upstream: FakeUpstream) -> Any:
    settings = load_settings(environ={"ANTHROPIC_BASE_URL": upstream.url})
    with ProxyThread(settings) as running:
        yield running


def test_the_headers_the_readme_shows_are_the_ones_sent(proxy: Any) -> None:
    body, headers = _readme_request()
    response = httpx2.post(f"{proxy.url}/v1/messages", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["content"][0]["text"] == "The capital of France is Paris."
    shown = set(re.findall(r"^(x-tiered-[a-z-]+):", README, re.MULTILINE))
    sent = {name for name in response.headers if name.startswith("x-tiered-")}
    assert shown == sent


def test_the_readme_directive_escalates(proxy: Any) -> None:
    directive = re.search(r"`(\[\[fake confidence=[0-9.]+\]\])` before the question", README)
    assert directive, "the try-out names a directive that escalates"
    body, headers = _readme_request()
    body["messages"][0]["content"] = f"{directive.group(1)} {body['messages'][0]['content']}"
    response = httpx2.post(f"{proxy.url}/v1/messages", json=body, headers=headers)
    assert response.headers["x-tiered-escalated"] == "true"
    assert response.headers["x-tiered-model"] == "claude-opus-4-7"
    assert response.headers["x-tiered-reason"] == "low_confidence"
    assert response.json()["content"][0]["text"] == "The capital of France is Paris."


def test_the_sdk_section_says_how_to_install_the_sdks() -> None:
    section = README.split("### Use it from the official SDKs")[1].split("###")[0]
    assert "bash scripts/install sdk" in section
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {re.split(r"[<>=\[]", dep)[0] for dep in extras["sdk"]} >= {"anthropic", "openai"}


def test_every_command_the_readme_names_exists() -> None:
    root = typer.main.get_command(app)
    # in code: `tiered report ...` or .venv/bin/tiered demo
    named = set(re.findall(r"(?:`|/bin/)tiered ([a-z][a-z-]+)(?: ([a-z][a-z-]+))?", README))
    assert len(named) > 10
    for command, sub in named:
        assert command in root.commands, f"README names `tiered {command}`"
        group = root.commands[command]
        if sub and hasattr(group, "commands"):
            assert sub in group.commands, f"README names `tiered {command} {sub}`"


def test_demo_needs_no_data_folder_a_new_user_lacks() -> None:
    text = CliRunner().invoke(app, ["demo", "--help"], terminal_width=120).output
    assert "../shared" not in text and "built-in questions" in text


def test_demo_data_that_is_not_there_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--data", str(tmp_path), "--seconds", "1"])
    assert result.exit_code == 2 and "no merged_confidence_correctness_new.csv in" in result.output
