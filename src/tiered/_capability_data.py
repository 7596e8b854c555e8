"""The capability table's rows (see :mod:`tiered.capabilities`). Every fact cites the page it came from.

Facts were read from the Claude developer platform docs (platform.claude.com, as of late 2026). Where a fact
comes from a page other than the model's own overview, its ``sources`` entry names that page.
"""

from __future__ import annotations

from datetime import date
from types import MappingProxyType

from ._capability_model import Capabilities, SamplingRule, ThinkingMode

__all__ = ["ENTRIES"]

_DOCS = "https://platform.claude.com/docs/en"
# the pages most facts come from
MIGRATION = f"{_DOCS}/about-claude/models/migration-guide"
EXTENDED_THINKING = f"{_DOCS}/about-claude/models/extended-thinking-models"
ADAPTIVE_THINKING = f"{_DOCS}/build-with-claude/adaptive-thinking"
EFFORT = f"{_DOCS}/build-with-claude/effort"
STRUCTURED_OUTPUTS = f"{_DOCS}/build-with-claude/structured-outputs"
CITATIONS = f"{_DOCS}/build-with-claude/citations"
DEPRECATIONS = f"{_DOCS}/about-claude/model-deprecations"

_FACTS = (
    "context_window",
    "max_output",
    "prefill",
    "thinking",
    "effort",
    "structured_outputs",
    "citations",
    "sampling",
    "lifecycle",
    "ids",
)


def _overview(slug: str) -> str:
    return f"{_DOCS}/models/{slug}/overview"


def _row(
    model: str,
    name: str,
    *,
    page: str,
    aliases: tuple[str, ...] = (),
    window: int,
    max_output: int,
    prefill: bool,
    thinking: tuple[ThinkingMode, ...],
    effort: bool,
    structured: bool = True,
    citations: bool = True,
    sampling: SamplingRule,
    deprecated: date | None = None,
    retired: date | None = None,
    thinking_required: bool = False,
    sources: dict[str, str] | None = None,
) -> Capabilities:
    """One row; every fact is sourced from ``page`` unless ``sources`` names another page for it."""
    cited = dict.fromkeys(_FACTS, page)
    cited.update(sources or {})
    return Capabilities(
        model=model,
        display_name=name,
        aliases=aliases,
        context_window=window,
        max_output=max_output,
        prefill=prefill,
        thinking=frozenset(thinking),
        effort=effort,
        structured_outputs=structured,
        citations=citations,
        sampling=sampling,
        deprecated=deprecated,
        retired=retired,
        thinking_required=thinking_required,
        sources=MappingProxyType(cited),
    )


# newest first
ENTRIES: tuple[Capabilities, ...] = (
    _row(
        "claude-opus-4-7",
        "Claude Opus 4.7",
        page=_overview("opus-4-7"),
        window=1_000_000,
        max_output=128_000,
        # "Prefilling assistant messages returns a 400 error on Claude 4.6 models" and later
        prefill=False,
        # adaptive only: "enabled" with budget_tokens answers 400 on Opus 4.7
        thinking=("adaptive",),
        effort=True,
        # temperature, top_p and top_k answer 400 on Opus 4.7
        sampling="none",
        sources={
            "prefill": MIGRATION,
            "thinking": ADAPTIVE_THINKING,
            "sampling": f"{MIGRATION}#migrating-to-claude-opus-4-7",
            "effort": EFFORT,
            "structured_outputs": STRUCTURED_OUTPUTS,
            "citations": CITATIONS,
        },
    ),
    _row(
        "claude-sonnet-4-6",
        "Claude Sonnet 4.6",
        page=_overview("sonnet-4-6"),
        window=1_000_000,
        max_output=64_000,
        prefill=False,
        # manual extended thinking (deprecated, still accepted) and adaptive thinking
        thinking=("enabled", "adaptive"),
        effort=True,
        sampling="one_of",
        sources={
            "prefill": MIGRATION,
            "thinking": EXTENDED_THINKING,
            "sampling": MIGRATION,
            "effort": EFFORT,
            "structured_outputs": STRUCTURED_OUTPUTS,
            "citations": CITATIONS,
        },
    ),
    _row(
        "claude-haiku-4-5",
        "Claude Haiku 4.5",
        page=_overview("haiku-4-5"),
        aliases=("claude-haiku-4-5-20251001",),
        window=200_000,
        max_output=64_000,
        # prefill was removed with the 4.6 models; Haiku 4.5 still takes it
        prefill=True,
        thinking=("enabled",),
        # Haiku 5.5 is "the first Haiku with effort controls"
        effort=False,
        # "Setting both [temperature and top_p] returns a 400 error on Claude Haiku 4.5"
        sampling="one_of",
        sources={
            "prefill": MIGRATION,
            "thinking": EXTENDED_THINKING,
            "sampling": f"{_DOCS}/models/haiku-4-5/migration-guide",
            "effort": EFFORT,
            "structured_outputs": STRUCTURED_OUTPUTS,
            "citations": CITATIONS,
        },
    ),
)
