from __future__ import annotations

from pathlib import Path

import pytest

from tiered.config import load_settings
from tiered.config_show import masked_settings
from tiered.errors import ConfigError


def test_defaults() -> None:
    s = load_settings(environ={})
    assert [t.model for t in s.route("default").tiers] == ["claude-haiku-4-5", "claude-opus-4-7"]
    assert [t.model for t in s.route("three-tier").tiers] == [
        "claude-haiku-4-5",
        "claude-sonnet-4-6",
        "claude-opus-4-7",
    ]
    assert s.route("default").threshold == 0.8
    assert s.provider("anthropic").base_url == "https://api.anthropic.com"


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text(
        '[routes.default]\ntiers = ["claude-haiku-4-5", "claude-sonnet-4-6"]\nthreshold = 0.7\n'
        '[server]\nport = 7000\nhost = "0.0.0.0"\n'
    )
    env = {"TIERED_SERVER__PORT": "7100", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9/", "TIERED_UNRELATED_THING": "x"}
    s = load_settings(cfg, environ=env)
    assert s.server.port == 7100 and s.server.host == "0.0.0.0"
    assert s.route("default").threshold == 0.7
    assert s.route("default").tiers[1].model == "claude-sonnet-4-6"
    assert s.provider("anthropic").base_url == "http://127.0.0.1:9/"
    s = load_settings(cfg, environ=env, overrides={"server.port": 7200, "server.host": None})
    assert s.server.port == 7200 and s.server.host == "0.0.0.0"
    env2 = {**env, "TIERED_PROVIDERS__ANTHROPIC__BASE_URL": "http://127.0.0.1:10"}
    assert load_settings(cfg, environ=env2).provider("anthropic").base_url == "http://127.0.0.1:10"


def test_config_file_from_env_and_home(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[routes.default]\nthreshold = 0.9\n")
    assert load_settings(environ={"TIERED_HOME": str(tmp_path)}).route("default").threshold == 0.9
    other = tmp_path / "other.toml"
    other.write_text("[routes.default]\nthreshold = 0.85\n")
    env = {"TIERED_HOME": str(tmp_path), "TIERED_CONFIG": str(other)}
    assert load_settings(environ=env).route("default").threshold == 0.85


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[routes.default]\nthreshold = 2\n", "routes.default.threshold"),
        ("[routes.x]\ntiers = []\n", "at least one tier"),
        ("[server]\nbogus = 1\n", "server.bogus"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_config_says_where(tmp_path: Path, text: str, needle: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, environ={})
    assert needle in str(err.value)


def test_unknown_route_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown route 'nope'"):
        load_settings(environ={}).route("nope")
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_secrets_are_masked() -> None:
    s = load_settings(environ={"ANTHROPIC_API_KEY": "sk-ant-api03-abcdefghijklmnop-WXYZ"})
    shown = masked_settings(s)
    assert shown["providers"]["anthropic"]["api_key"] == "****WXYZ"
    assert "abcdefghijklmnop" not in repr(shown) and "abcdefghijklmnop" not in repr(s)


def test_openai_tiers_and_custom_providers(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text(
        '[providers.ollama]\nkind = "openai"\nbase_url = "http://127.0.0.1:11434/v1"\n'
        '[routes.local]\ntiers = ["ollama:llama3:8b", "openai:gpt-4o"]\n'
    )
    s = load_settings(cfg, environ={})
    tiers = s.route("local").tiers
    assert (tiers[0].provider, tiers[0].model_id) == ("ollama", "llama3:8b")
    assert (tiers[1].provider, tiers[1].model_id) == ("openai", "gpt-4o")
    assert s.provider("ollama").kind == "openai"
    with pytest.raises(ConfigError, match="provider 'nope' is not configured"):
        s.provider("nope")
