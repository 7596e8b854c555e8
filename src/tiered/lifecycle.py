"""Model lifecycle checks for the configured tiers: retired, deprecated, unknown, or missing upstream.

A tier naming a retired model answers 404 on every call (the real API: "Requests to models past the
retirement date will fail", https://platform.claude.com/docs/en/about-claude/model-deprecations); nothing
said so until the breaker quietly sent everything to the final tier (issue #16, item 10). These checks say so
at start-up, in ``/readyz`` and as configuration alerts.

Pure: the capability table (:mod:`tiered.cascade.capabilities`) and the list of model ids the upstream serves are
passed in, and so is the date. The server side (when to check, the upstream call, alerts) is in
:mod:`tiered.server.model_checks`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from .cascade.capabilities import Capabilities, capabilities, known_models
from .config import Settings

__all__ = ["ConfiguredModel", "ModelProblem", "check_table", "check_upstream", "configured_models", "newer_model"]

ProblemKind = Literal["retired", "deprecated", "unknown", "not_listed", "not_found"]
Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class ConfiguredModel:
    """A model some route's tier names, on an Anthropic-kind provider."""

    model: str  # the id sent upstream
    provider: str
    routes: tuple[str, ...]  # "<route> tier <n>" for each place it is configured
    final: bool  # it is the final tier of some route: when it fails, requests fail


@dataclass(frozen=True, slots=True)
class ModelProblem:
    model: str
    kind: ProblemKind
    severity: Severity
    message: str
    final: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "final_tier": self.final,
        }


def configured_models(settings: Settings) -> list[ConfiguredModel]:
    """Every model the routes name on an Anthropic provider, once each (the capability table describes Claude
    models; an OpenAI-compatible tier's model is not in it)."""
    places: dict[tuple[str, str], list[str]] = {}
    finals: set[tuple[str, str]] = set()
    for name, route in settings.routes.items():
        for index, tier in enumerate(route.tiers):
            if settings.provider(tier.provider).kind != "anthropic":
                continue
            key = (tier.model_id, tier.provider)
            places.setdefault(key, []).append(f"{name} tier {index}")
            if index == len(route.tiers) - 1:
                finals.add(key)
    return [ConfiguredModel(m, p, tuple(where), (m, p) in finals) for (m, p), where in places.items()]


def _family(caps: Capabilities) -> str:
    words = caps.display_name.split()
    return words[1] if len(words) > 1 and words[0] == "Claude" else ""


def newer_model(model: str, today: date) -> str | None:
    """The newest model of the same family (Haiku, Sonnet, Opus, ...) that the capability table lists as
    neither deprecated nor retired on ``today``: a pointer for the operator, not a recommendation of the
    API's (the table keeps no replacement column)."""
    family = _family(capabilities(model))
    if not family:
        return None
    for entry in known_models():  # newest first
        live = (entry.retired is None or today < entry.retired) and (
            entry.deprecated is None or today < entry.deprecated
        )
        if live and _family(entry) == family and entry.model != capabilities(model).model:
            return entry.model
    return None


def _where(configured: ConfiguredModel) -> str:
    return ", ".join(configured.routes)


def check_table(models: Iterable[ConfiguredModel], today: date) -> list[ModelProblem]:
    """Retired models (an error: every call answers 404), deprecated ones with a retirement date (a warning),
    and models the table does not know (a warning: conservative capabilities are assumed)."""
    problems = []
    for configured in models:
        caps = capabilities(configured.model)
        instead = newer_model(configured.model, today)
        hint = f"; the newest {_family(caps)} model tiered knows is {instead}" if instead else ""
        if not caps.known:
            problems.append(
                ModelProblem(
                    configured.model,
                    "unknown",
                    "warning",
                    f"{configured.model} ({_where(configured)}) is not in tiered's capability table: it is sent "
                    "only requests any model takes (conservative defaults); check the name",
                    configured.final,
                )
            )
        elif caps.retired is not None and today >= caps.retired:
            problems.append(
                ModelProblem(
                    configured.model,
                    "retired",
                    "error",
                    f"{configured.model} ({_where(configured)}) was retired on {caps.retired.isoformat()}: every "
                    f"call to it fails with 404 not_found_error; configure another model{hint}",
                    configured.final,
                )
            )
        elif caps.retired is not None:
            problems.append(
                ModelProblem(
                    configured.model,
                    "deprecated",
                    "warning",
                    f"{configured.model} ({_where(configured)}) retires on {caps.retired.isoformat()}; move to "
                    f"another model before then{hint}",
                    configured.final,
                )
            )
    return problems


def check_upstream(models: Iterable[ConfiguredModel], listed: Iterable[str]) -> list[ModelProblem]:
    """Configured models the upstream's ``GET /v1/models`` does not list (an error: calls will 404). A model
    counts as listed under its canonical id or any alias the capability table knows for it."""
    ids = set(listed)
    problems = []
    for configured in models:
        names = {configured.model, *capabilities(configured.model).ids()}
        if not names & ids:
            problems.append(
                ModelProblem(
                    configured.model,
                    "not_listed",
                    "error",
                    f"{configured.model} ({_where(configured)}) is not among the models the upstream "
                    f"({configured.provider}) lists for this key; calls to it will fail",
                    configured.final,
                )
            )
    return problems
