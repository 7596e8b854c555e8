"""The optional ``tiered[eval]`` extra: numpy, scipy and matplotlib, checked before any heavy import."""

from __future__ import annotations

import importlib.util
from typing import Final

from tiered.errors import ConfigError

__all__ = ["INSTALL_COMMAND", "MissingExtraError", "require_eval"]

INSTALL_COMMAND: Final = "pip install 'tiered[eval]'"
_MODULES: Final = ("numpy", "scipy", "matplotlib")


class MissingExtraError(ConfigError):
    """numpy, scipy or matplotlib is not installed; the message gives the install command."""


def require_eval() -> None:
    """Raise :class:`MissingExtraError` naming the install command if the eval extra is missing."""
    missing = [name for name in _MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtraError(
            f"Offline evaluation needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not "
            f"installed. Install the eval extra: {INSTALL_COMMAND} (in a clone: bash scripts/install eval)"
        )
