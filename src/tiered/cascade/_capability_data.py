"""The capability table's rows (see :mod:`tiered.cascade.capabilities`). Every fact cites the page it came from.

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
    "forced_tool_choice",
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
    forced_tool_choice: bool = True,
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
        forced_tool_choice=forced_tool_choice,
        sources=MappingProxyType(cited),
    )


def _overview_of(model: str) -> str:
    return _overview(model.removeprefix("claude-"))


def _adaptive_era(
    model: str,
    name: str,
    *,
    window: int = 1_000_000,
    max_output: int = 128_000,
    thinking_required: bool = False,
    forced_tool_choice: bool = True,
    migration: str,
    aliases: tuple[str, ...] = (),
    sources: dict[str, str] | None = None,
) -> Capabilities:
    """A model of the Opus 4.7 contract and after: no prefill, adaptive thinking only (``enabled`` with
    ``budget_tokens`` answers 400), non-default temperature/top_p/top_k answer 400, effort accepted. The
    ``migration`` page states these rules for this model."""
    cited = {
        "prefill": migration,
        "thinking": migration,
        "sampling": migration,
        "forced_tool_choice": migration,
        "effort": EFFORT,
        "structured_outputs": STRUCTURED_OUTPUTS,
        "citations": CITATIONS,
    }
    cited.update(sources or {})
    return _row(
        model,
        name,
        page=_overview_of(model),
        aliases=aliases,
        window=window,
        max_output=max_output,
        prefill=False,
        thinking=("adaptive",),
        effort=True,
        sampling="none",
        thinking_required=thinking_required,
        forced_tool_choice=forced_tool_choice,
        sources=cited,
    )


_FABLE_5_1 = f"{_DOCS}/models/fable-5-1/migration-guide"
_FABLE_5_2 = f"{_DOCS}/models/fable-5-2/whats-new-fable-5-2"
_OPUS_5_5 = f"{_DOCS}/models/opus-5-5/migration-guide"
_SONNET_5_5 = f"{_DOCS}/models/sonnet-5-5/migration-guide"
_HAIKU_5_5 = f"{_DOCS}/models/haiku-5-5/migration-guide"
_OPUS_5 = f"{_DOCS}/models/opus-5/migration-guide"
_SONNET_5 = f"{_DOCS}/models/sonnet-5/migration-guide"
_FABLE_5 = f"{_DOCS}/models/fable-5/migration-guide"
_OPUS_4_8 = f"{_DOCS}/about-claude/models/whats-new-claude-4-8"
_OPUS_4_7 = f"{MIGRATION}#migrating-to-claude-opus-4-7"
_CLAUDE_4_5 = f"{_DOCS}/about-claude/models/migrating-to-claude-4"
# the retirement of Claude Sonnet 4 and Claude Opus 4 on 2026-06-15 is in the release notes
RELEASE_NOTES = f"{_DOCS}/release-notes/overview"
# no Anthropic page found for these two retirements: dates from third-party change logs that quote Anthropic's
# deprecations table (checked: multidotdev/cli v0.0.135 for Opus 4.1; thevibeworks/claude-code-docs#417 for
# Claude Sonnet 3.7); a lifecycle check treats them like any other retirement date
_THIRD_PARTY_OPUS_4_1 = "https://github.com/multidotdev/cli/releases/tag/v0.0.135"
_THIRD_PARTY_SONNET_3_7 = "https://github.com/thevibeworks/claude-code-docs/pull/417"
# Opus 4.5's deprecation (2026-11-23) and tentative retirement (2027-01-22), as re-read from Anthropic's
# deprecations page by this change log (the overview page we found predates the deprecation)
_THIRD_PARTY_OPUS_4_5 = "https://github.com/samarthputhraya/Modelpin/releases/tag/v0.5.7"


def _extended_era(
    model: str,
    name: str,
    *,
    aliases: tuple[str, ...],
    window: int = 200_000,
    max_output: int,
    effort: bool = False,
    structured: bool = True,
    sampling: SamplingRule = "one_of",
    deprecated: date | None = None,
    retired: date | None = None,
    sources: dict[str, str] | None = None,
) -> Capabilities:
    """A model before Claude 4.6: prefill accepted, manual extended thinking (``enabled`` with
    ``budget_tokens``) and no adaptive thinking."""
    cited = {
        "prefill": MIGRATION,  # prefill was removed with the 4.6 models; earlier models take it
        "thinking": EXTENDED_THINKING,
        "effort": EFFORT,
        "structured_outputs": STRUCTURED_OUTPUTS,
        "citations": CITATIONS,
        "sampling": _CLAUDE_4_5,
        "lifecycle": DEPRECATIONS,
    }
    cited.update(sources or {})
    return _row(
        model,
        name,
        page=_overview_of(model),
        aliases=aliases,
        window=window,
        max_output=max_output,
        prefill=True,
        thinking=("enabled",),
        effort=effort,
        structured=structured,
        sampling=sampling,
        deprecated=deprecated,
        retired=retired,
        sources=cited,
    )


# newest first
ENTRIES: tuple[Capabilities, ...] = (
    # Fable 5.2 and Mythos 5.2 keep Fable 5.1's request rules: thinking cannot be disabled, forced tool choice
    # answers 400
    _adaptive_era(
        "claude-mythos-5-2",
        "Claude Mythos 5.2",
        thinking_required=True,
        forced_tool_choice=False,
        migration=_FABLE_5_2,
        sources={"forced_tool_choice": _FABLE_5_1, "thinking": _FABLE_5_1},
    ),
    _adaptive_era(
        "claude-fable-5-2",
        "Claude Fable 5.2",
        thinking_required=True,
        forced_tool_choice=False,
        migration=_FABLE_5_2,
        sources={"forced_tool_choice": _FABLE_5_1, "thinking": _FABLE_5_1},
    ),
    # Haiku 5.5: adaptive thinking on by default and can be turned off; prefill, sampling, budgets answer 400
    _adaptive_era("claude-haiku-5-5", "Claude Haiku 5.5", migration=_HAIKU_5_5),
    # Sonnet 5.5: "thinking budgets, sampling parameters, assistant prefill, forced tool choice and
    # thinking: disabled" answer 400
    _adaptive_era(
        "claude-sonnet-5-5",
        "Claude Sonnet 5.5",
        thinking_required=True,
        forced_tool_choice=False,
        migration=_SONNET_5_5,
    ),
    # Opus 5.5: "thinking cannot be disabled, forced tool use returns an error"
    _adaptive_era(
        "claude-opus-5-5",
        "Claude Opus 5.5",
        thinking_required=True,
        forced_tool_choice=False,
        migration=_OPUS_5_5,
    ),
    _adaptive_era(
        "claude-fable-5-1",
        "Claude Fable 5.1",
        thinking_required=True,
        forced_tool_choice=False,
        migration=_FABLE_5_1,
    ),
    # Opus 5: thinking on by default; disabled is still accepted (but not with effort xhigh/max)
    _adaptive_era("claude-opus-5", "Claude Opus 5", migration=_OPUS_5, sources={"prefill": MIGRATION}),
    # Sonnet 5: adaptive on by default, budgets and non-default sampling answer 400
    _adaptive_era("claude-sonnet-5", "Claude Sonnet 5", migration=_SONNET_5, sources={"prefill": MIGRATION}),
    # Fable 5: "thinking: disabled and manual extended thinking return a 400 error"
    _adaptive_era(
        "claude-fable-5",
        "Claude Fable 5",
        thinking_required=True,
        migration=_FABLE_5,
        sources={"prefill": MIGRATION, "sampling": _OPUS_4_7},
    ),
    _adaptive_era("claude-opus-4-8", "Claude Opus 4.8", migration=_OPUS_4_8, sources={"prefill": MIGRATION}),
    _adaptive_era(
        "claude-opus-4-7",
        "Claude Opus 4.7",
        migration=_OPUS_4_7,
        sources={"prefill": MIGRATION, "thinking": ADAPTIVE_THINKING},
    ),
    # the 4.6 models: no prefill; manual extended thinking deprecated but accepted, adaptive thinking added;
    # temperature with top_p: the 4.5 rule, which no 4.6 page we found lifts
    _row(
        "claude-sonnet-4-6",
        "Claude Sonnet 4.6",
        page=_overview("sonnet-4-6"),
        window=1_000_000,
        max_output=128_000,
        prefill=False,
        thinking=("enabled", "adaptive"),
        effort=True,
        sampling="one_of",
        sources={
            "prefill": MIGRATION,
            "thinking": EXTENDED_THINKING,
            "sampling": _CLAUDE_4_5,
            "effort": EFFORT,
            "structured_outputs": STRUCTURED_OUTPUTS,
            "citations": CITATIONS,
        },
    ),
    _row(
        "claude-opus-4-6",
        "Claude Opus 4.6",
        page=_overview("opus-4-6"),
        window=1_000_000,
        max_output=128_000,
        prefill=False,
        thinking=("enabled", "adaptive"),
        effort=True,
        sampling="one_of",
        sources={
            "prefill": MIGRATION,
            "thinking": EXTENDED_THINKING,
            "sampling": _CLAUDE_4_5,
            "effort": EFFORT,
            "structured_outputs": STRUCTURED_OUTPUTS,
            "citations": CITATIONS,
        },
    ),
    # Opus 4.5: the first model with effort; deprecated 2026-11-23, retiring 2027-01-22 (tentative)
    _extended_era(
        "claude-opus-4-5",
        "Claude Opus 4.5",
        aliases=("claude-opus-4-5-20251101",),
        max_output=64_000,
        effort=True,
        deprecated=date(2026, 11, 23),
        retired=date(2027, 1, 22),
        sources={"lifecycle": _THIRD_PARTY_OPUS_4_5},
    ),
    _extended_era(
        "claude-haiku-4-5",
        "Claude Haiku 4.5",
        aliases=("claude-haiku-4-5-20251001",),
        max_output=64_000,
        # "Setting both [temperature and top_p] returns a 400 error on Claude Haiku 4.5"
        sources={"sampling": f"{_DOCS}/models/haiku-4-5/migration-guide"},
    ),
    # Sonnet 4.5 "retires on November 30, 2026" (its overview page); the deprecation date is not given there
    _extended_era(
        "claude-sonnet-4-5",
        "Claude Sonnet 4.5",
        aliases=("claude-sonnet-4-5-20250929",),
        max_output=64_000,
        retired=date(2026, 11, 30),
        sources={"lifecycle": _overview("sonnet-4-5")},
    ),
    _extended_era(
        "claude-opus-4-1",
        "Claude Opus 4.1",
        aliases=("claude-opus-4-1-20250805",),
        max_output=32_000,
        retired=date(2026, 8, 5),
        sources={"lifecycle": _THIRD_PARTY_OPUS_4_1},
    ),
    # Claude Sonnet 4 and Claude Opus 4: retired 2026-06-15; structured outputs came after them
    _extended_era(
        "claude-sonnet-4-0",
        "Claude Sonnet 4",
        aliases=("claude-sonnet-4-20250514", "claude-sonnet-4"),
        max_output=64_000,
        structured=False,
        retired=date(2026, 6, 15),
        sources={"lifecycle": RELEASE_NOTES},
    ),
    _extended_era(
        "claude-opus-4-0",
        "Claude Opus 4",
        aliases=("claude-opus-4-20250514", "claude-opus-4"),
        max_output=32_000,
        structured=False,
        retired=date(2026, 6, 15),
        sources={"lifecycle": RELEASE_NOTES},
    ),
    # Claude Sonnet 3.7 took temperature and top_p together ("one_of" is the 4.5 models' breaking change)
    _extended_era(
        "claude-3-7-sonnet-20250219",
        "Claude Sonnet 3.7",
        aliases=("claude-3-7-sonnet-latest",),
        max_output=64_000,
        structured=False,
        sampling="any",
        retired=date(2026, 2, 19),
        sources={"lifecycle": _THIRD_PARTY_SONNET_3_7, "ids": EXTENDED_THINKING},
    ),
)
