"""The settings as ``tiered config show`` prints them: plain data, every secret masked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:
    from .config import Settings

__all__ = ["masked_settings"]


def masked_settings(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with every secret masked, for ``tiered config show``."""

    def mask(value: Any) -> Any:
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            return "****" + secret[-4:] if len(secret) >= 12 else "****"
        if isinstance(value, dict):
            return {k: mask(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [mask(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    raw = settings.model_dump()
    result: dict[str, Any] = mask(raw)
    return result
