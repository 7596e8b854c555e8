"""The command line: ask (answer + receipt, --json), config show (secrets masked), errors as one line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiered.cli import app
from tiered.fake_upstream import FakeUpstream, Scenario

runner = CliRunner()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream(Scenario()) as upstream:
        yield upstream


def test_ask_prints_answer_and_receipt(fake: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-0000")
    result = runner.invoke(app, ["ask", '[[fake confidence=0.91 answer="Forty-two."]] The answer?'])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "Forty-two."
    assert "answered by  claude-haiku-4-5 (tier 0)" in result.stderr
    assert "savings" in result.stderr and "counterfactual" in result.stderr


def test_ask_json_has_the_whole_decision(fake: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    result = runner.invoke(
        app, ["ask", "--json", "--route", "three-tier", "[[fake haiku:confidence=0.1 sonnet:confidence=0.1]] hard"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    decision = payload["decision"]
    assert payload["answer"] and decision["route"] == "three-tier"
    assert [a["model"] for a in decision["attempts"]] == ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"]
    assert decision["escalated"] is True and decision["reason"] == "low_confidence"
    assert decision["counterfactual_cost_usd"] == decision["attempts"][-1]["cost_usd"]


def test_config_show_masks_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-verysecretvalue-TAIL")
    cfg = tmp_path / "t.toml"
    cfg.write_text("[routes.default]\nthreshold = 0.85\n[server]\nport = 9000\n")
    result = runner.invoke(app, ["config", "show", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "verysecretvalue" not in result.stdout and "****TAIL" in result.stdout
    assert "threshold = 0.85" in result.stdout and "port = 9000" in result.stdout
    as_json = json.loads(runner.invoke(app, ["config", "show", "--json", "--config", str(cfg)]).stdout)
    assert as_json["settings"]["routes"]["default"]["threshold"] == 0.85
    assert as_json["config_file"] == str(cfg)


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[routes.default]\nthreshold = 7\n")
    proc = subprocess.run(
        [sys.executable, "-m", "tiered.cli", "config", "show", "--config", str(bad)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: invalid settings") and "routes.default.threshold" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "tiered.cli", "ask", "hi"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin",
            "TIERED_HOME": str(tmp_path),
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
            "HOME": str(tmp_path),
        },
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
