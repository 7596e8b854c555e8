from __future__ import annotations

from tiered.config import Settings, load_settings
from tiered.fake_upstream import FakeUpstream


def proxy_settings(upstream: FakeUpstream, **env: str) -> Settings:
    """Settings for a proxy in front of ``upstream``; ``env`` adds TIERED_* and SDK variables."""
    return load_settings(environ={"ANTHROPIC_BASE_URL": upstream.url, **env})
