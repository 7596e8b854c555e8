"""A misspelt config key or route gets the nearest valid name (issue #20, item 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiered.config import load_settings
from tiered.errors import ConfigError


@pytest.mark.parametrize(
    ("toml", "hint"),
    [
        (
            "[routes.default]\ntreshold = 0.9\n",
            "routes.default.treshold: unknown key; did you mean 'routes.default.threshold'?",
        ),
        ("[server]\nprot = 9000\n", "server.prot: unknown key; did you mean 'server.port'?"),
        ("[quality]\nmin_grade = 3\n", "did you mean 'quality.min_grades'?"),
        (
            "[[routes.fast.tiers]]\nmodle = 'a'\n[[routes.fast.tiers]]\nmodel = 'b'\n",
            "did you mean 'routes.fast.tiers.0.model'?",
        ),
        ("store_contnet = true\n", "store_contnet: unknown key; did you mean 'store_content'?"),
    ],
)
def test_a_typo_in_the_file_gets_a_suggestion(tmp_path: Path, toml: str, hint: str) -> None:
    path = tmp_path / "tiered.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert hint in caught.value.message


def test_a_typo_in_the_environment_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"server\.prot: unknown key; did you mean 'server\.port'\?"):
        load_settings(environ={"TIERED_SERVER__PROT": "9000"})


def test_nothing_close_gets_no_guess(tmp_path: Path) -> None:
    path = tmp_path / "tiered.toml"
    path.write_text("[zebra]\nx = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "zebra: unknown key" in caught.value.message and "did you mean" not in caught.value.message


def test_a_misspelt_route() -> None:
    with pytest.raises(ConfigError, match=r"unknown route 'defualt'; did you mean 'default'\?"):
        load_settings(environ={}).route("defualt")
