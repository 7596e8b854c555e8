"""Settings: one precedence order, flags > environment (``TIERED_*``) > config file > defaults.

The config file is TOML: ``--config FILE``, else ``$TIERED_CONFIG``, else ``$TIERED_HOME/config.toml``, else
``./tiered.toml`` (the first that is given or exists). Environment variables name a setting by its path with
``__`` between levels (``TIERED_ROUTES__DEFAULT__THRESHOLD=0.85``, ``TIERED_SERVER__PORT=9000``); a value that
parses as JSON is taken as JSON (numbers, booleans, lists), otherwise as a string. ``TIERED_DATABASE_URL`` and
``TIERED_HOME`` are top-level settings. The official SDKs' variables are read too, at the environment level:
``ANTHROPIC_BASE_URL`` / ``ANTHROPIC_API_KEY`` and ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` configure the
built-in ``anthropic`` and ``openai`` providers (a ``TIERED_PROVIDERS__...`` variable wins over them).

A route's tiers are model ids; ``openai:gpt-4o-mini`` or ``<provider>:<model>`` picks a provider from
``[providers.<name>]`` (kind ``anthropic`` or ``openai``; ``openai`` speaks chat completions, for OpenAI, vLLM,
Ollama...). Loading settings reads files and the environment, so it happens when a command starts, never at
import time.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError
from .quality.settings import AlertSettings, AuditStratum, JudgeSettings, QualitySettings

__all__ = [
    "ProviderSettings",
    "RouteSettings",
    "ServerSettings",
    "Settings",
    "TierSettings",
    "load_settings",
    "tiered_home",
]

DEFAULT_THRESHOLD = 0.8


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierSettings(_Model):
    """One tier of a route."""

    model: str = Field(min_length=1)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    """Ship a triage answer whose confidence is at least this; defaults to the route's threshold."""
    triage: Literal["structured", "tool"] = "structured"
    """How the triage output is constrained: structured outputs, or a forced tool call for models without them."""
    max_retries: int | None = Field(default=None, ge=0, le=10)
    """Retries of this tier's calls; defaults to 0 for triage calls (escalating is faster) and the provider's
    setting for a final call."""
    drop_params: tuple[str, ...] | None = None
    """Request fields this model rejects, removed when a request is replayed to it; ``None`` uses the
    built-in knowledge (see :mod:`tiered.cascade.rewrites`)."""
    calibration: Path | None = None
    """A recalibration map for this tier's confidence (see ``RouteSettings.calibration``)."""
    confidence: Literal["self_report", "learned"] | None = None
    """How this tier's triage is scored (see ``RouteSettings.confidence``); defaults to the route's for the first
    tier, ``self_report`` for the others."""
    confidence_model: Path | None = None
    """The ``learned`` model file for this tier (see ``RouteSettings.confidence_model``)."""
    confidence_version: int | None = Field(default=None, ge=1)
    """Refuse to start unless the model file holds this version (see ``RouteSettings.confidence_version``)."""

    @property
    def provider(self) -> str:
        """The provider name: the part before ``:``, or ``anthropic`` for a bare model id."""
        name, sep, _ = self.model.partition(":")
        return name if sep else "anthropic"

    @property
    def model_id(self) -> str:
        """The model id sent upstream (the tier's model without its provider prefix)."""
        _, sep, bare = self.model.partition(":")
        return bare if sep else self.model


class RouteSettings(_Model):
    """An ordered list of tiers, cheapest first, and how requests walk down it."""

    tiers: tuple[TierSettings, ...]
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    tool_requests: Literal["triage", "final", "first"] = "triage"
    """Requests that offer tools with ``tool_choice`` auto: ``triage`` them (a text answer is valid for such a
    caller; a reply that should be a tool call is answered null and escalates), send them to the ``final``
    tier, or to the ``first`` tier directly (no triage, the cheap model answers as it likes)."""
    protocol_requests: Literal["final", "first"] = "final"
    """Requests whose right answer must not be a triage text (forced ``tool_choice``, ``thinking``): the
    ``final`` tier answers, or the ``first`` tier answers directly. Never triaged."""
    capability_requests: Literal["lowest", "final"] = "lowest"
    """Where a protocol request goes whose target tier cannot take it as it is (an assistant prefill meant for
    a model that rejects prefill, a thinking mode, a forced tool a model refuses): ``lowest``, the cheapest
    tier whose model takes it answers it directly (a prefill on the default route goes to Claude Haiku 4.5);
    ``final``, the highest tier that takes it. The decision's reason is ``capability`` with a detail naming the
    feature and the model; if no tier takes it, the final tier gets it unchanged and its upstream's 400
    reaches the caller. (A plain request the first tier cannot take is triaged from the cheapest later tier
    that takes it; one no triage may carry follows ``protocol_requests``. See docs/routing.md.)"""
    stream_triage: bool = True
    """Read the triage of a JSON request as a stream too, so that a low confidence ends the call after a few
    tokens instead of after a whole unwanted answer (the escalation penalty drops from the cheap model's full
    answer time to its time to first token plus a few tokens). Costs a little more proxy CPU per triage."""
    hedge_after_ms: float | None = Field(default=None, gt=0)
    """Hedged escalation: if the last triage before the final tier has not decided after this many
    milliseconds, start the final tier in parallel; whichever decides the answer first wins (the triage by
    shipping or escalating, the final tier by starting its answer) and the other call is cancelled. Both costs
    are recorded. Off by default: it trades extra final-tier spend for latency."""
    degrade_to_cheap: bool = False
    """When the final tier fails (after its retries), ship the best answer a cheaper tier gave instead of the
    error, flagged ``x-tiered-degraded: true``. Only a triage answer that was read whole can ship this way: JSON
    requests on such a route read their triage to the end (no early abort), streamed ones keep cutting it."""
    calibration: Path | None = None
    """A recalibration map (made by ``tiered backtest``) for the first tier: its threshold is compared with
    the calibrated probability instead of the raw confidence. A tier's own ``calibration`` wins."""
    # Economics (see tiered.economics and docs/economics.md).
    triage_when: Literal["worth_it", "always"] = "worth_it"
    """``worth_it``: before a triage, compare its expected cost (the cheap call, plus the final call times the
    observed escalation rate of similar requests, each tier's prompt-cache state included) with going straight
    to the tier cheapest in expectation, and triage only when that saves money; a request that skips its triage
    is recorded with reason ``not_worth_triage`` and the numbers. ``always``: triage every request that may be
    triaged (the first version's rule)."""
    stay_up_s: float | None = Field(default=None, gt=0)
    """After a conversation escalated to the final tier, send its next turns straight to the final tier for this
    many seconds (renewed by each escalation; a conversation only moves up): its prompt cache there stays warm.
    ``None``: off. A conversation is the ``x-tiered-session`` header, else ``metadata.user_id`` with the prompt's
    start (tools, system, first message)."""
    # Confidence strategies (see tiered.confidence.strategy and docs/quality.md), for the first tier.
    confidence: Literal["self_report", "learned"] = "self_report"
    """``self_report``: the triage's stated confidence (through ``calibration``) is compared with the threshold;
    ``learned``: P(right) from the logistic model in ``confidence_model`` (made by ``tiered confidence train``)
    over the stated confidence and features of the answer and request that cost no extra call. A tier's own
    ``confidence`` wins."""
    confidence_model: Path | None = None
    """The model file ``learned`` scores with (JSON, written by ``tiered confidence train --out``)."""
    confidence_version: int | None = Field(default=None, ge=1)
    """Pin the ``learned`` model: the file must hold this version (from ``tiered confidence versions``)."""
    # The quality loop (see tiered.quality and docs/quality.md).
    audit_rate: float = Field(default=0.01, ge=0.0, le=1.0)
    """Share of shipped answers picked for grading, reproducibly from the decision id."""
    audit_strata: tuple[AuditStratum, ...] = ()
    """Oversample answers that barely cleared the threshold; grades are re-weighted so estimates stay unbiased."""
    max_false_confident: float = Field(default=0.05, gt=0.0, lt=1.0)
    """Target: the false-confident rate's upper bound above which the controller raises the threshold."""
    threshold_ceiling: float = Field(default=0.9, ge=0.0, le=1.0)
    threshold_step: float = Field(default=0.05, gt=0.0, le=1.0)
    threshold_lower: bool = False
    """``quality.controller_rule = "upper-bound"`` only: also lower the threshold, slowly, while the bound stays
    well under target (never below ``threshold``). The two-sided rule lowers on evidence alone."""
    threshold_floor: float | None = Field(default=None, ge=0.0, le=1.0)
    """The controller never lowers the threshold below this (default: the configured ``threshold``)."""
    quality_window: int | None = Field(default=500, ge=1)
    """The false-confident rate is over the last this-many graded answers ..."""
    quality_window_hours: float | None = Field(default=None, gt=0)
    """... and/or those graded in the last this-many hours."""
    confidence_level: float = Field(default=0.95, gt=0.5, lt=1.0)
    """Level of the one-sided upper bound on the false-confident rate."""
    # Shadow mode and slices (see tiered.quality.shadow and docs/quality.md).
    mode: Literal["live", "shadow"] = "live"
    """``shadow``: every request is answered by the final tier as without tiered (no triage, no escalation);
    a ``shadow_share`` of them is also triaged on the first tier in the background and judged against the
    final tier's answer, to project what ``live`` would ship, save and get wrong (``tiered report``)."""
    shadow_share: float = Field(default=0.1, ge=0.0, le=1.0)
    """Share of a shadow route's answered requests triaged in the background (reproducibly from the id)."""
    shadow_spend_cap_usd: float = Field(default=5.0, ge=0.0)
    """The most the shadow triage and its judge may spend per ``judge.spend_window_hours``, for this route,
    summed over every replica's recorded shadow results."""
    explore_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Live mode: the probability (reproducible from the decision id) that an escalated request's first-tier
    triage is read to its end in the background instead of cut, and its answer judged against the final tier's;
    the grades carry the weight ``1 / explore_rate`` (see :mod:`tiered.quality.explore`). 0: off."""
    explore_spend_cap_usd: float = Field(default=5.0, ge=0.0)
    """The most exploration (the triage read to its end and its judge) may spend per
    ``judge.spend_window_hours``, for this route, summed over every replica's recorded results."""
    slice_thresholds: bool = False
    """With a ``slice_from``: the threshold controller keeps a threshold per slice, each on its own evidence,
    starting from the route's, and the proxy judges a slice's requests against it (see docs/quality.md)."""
    slice_from: Literal["none", "metadata", "header", "system"] = "none"
    """Where a request's slice comes from: its ``metadata.user_id``, its ``x-tiered-slice`` header, or a digest
    of its system prompt;
    statistics and shadow projections are kept per (route, slice) (see docs/quality.md)."""

    @field_validator("tiers", mode="before")
    @classmethod
    def _tiers(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple({"model": v} if isinstance(v, str) else v for v in value)
        return value

    @model_validator(mode="after")
    def _enough_tiers(self) -> RouteSettings:
        if not self.tiers:
            raise ValueError("a route needs at least one tier")
        for tier in range(len(self.tiers) - 1):
            kind, model, _ = self.confidence_for(tier)
            if kind == "learned" and model is None:
                raise ValueError(f"tier {tier}: confidence 'learned' needs a confidence_model file")
        return self

    def threshold_for(self, tier: int) -> float:
        value = self.tiers[tier].threshold
        return self.threshold if value is None else value

    def calibration_for(self, tier: int) -> Path | None:
        own = self.tiers[tier].calibration
        return own if own is not None or tier != 0 else self.calibration

    def confidence_for(self, tier: int) -> tuple[Literal["self_report", "learned"], Path | None, int | None]:
        """``tier``'s confidence strategy, its model file and pinned version: the tier's own, else the route's
        for the first tier, else ``self_report``."""
        spec = self.tiers[tier]
        if spec.confidence is not None:
            return spec.confidence, spec.confidence_model, spec.confidence_version
        if tier == 0:
            return self.confidence, spec.confidence_model or self.confidence_model, self.confidence_version
        return "self_report", None, None


class ProviderSettings(_Model):
    kind: Literal["anthropic", "openai"] = "anthropic"
    base_url: str
    api_key: SecretStr | None = None
    timeout_s: float = Field(default=600.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    max_inflight: int | None = Field(default=1000, ge=1)
    """Calls open at once to this provider; past it a call is refused at once (529, retry-after) instead of
    queueing. ``None``: no cap."""


class BreakerSettings(_Model):
    """The circuit breaker on triage tiers (see :mod:`tiered.health`)."""

    failures: int = Field(default=5, ge=1)
    """Failed triage calls in a row that open a tier's circuit (its triage is then skipped)."""
    open_s: float = Field(default=30.0, gt=0)
    """How long a circuit stays open before one request probes the tier again."""


class ServerSettings(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    auth: Literal["auto", "passthrough", "keys"] = "auto"
    """``auto``: keys mode when the Anthropic provider has a key configured, else pass-through."""
    admin_key: SecretStr | None = None
    """A static admin key (for the decision API and dashboard), accepted in both auth modes."""
    key_pepper: SecretStr | None = None
    """The secret mixed into stored key hashes; replicas sharing a database must share it. Default: a random
    pepper in ``<home>/key-pepper``, made on first use."""
    recent_decisions: int = Field(default=10_000, ge=0)
    """Decisions kept in memory for ``GET /v1/tiered/decisions/{id}`` (older ones come from the store)."""
    max_inflight: int = Field(default=4096, ge=1)
    """Requests open at once; past it a request is refused at once (529 with retry-after)."""
    max_inflight_per_key: int = Field(default=512, ge=1)
    """Requests open at once for one key; past it: 429 with retry-after."""
    graceful_shutdown_s: float = Field(default=30.0, ge=0)
    """On SIGTERM/SIGINT, how long in-flight requests may take to finish."""
    keep_alive_s: float = Field(default=75.0, gt=0)
    """How long an idle client connection is kept open. Longer than clients keep theirs (the SDKs' pools: 5 s),
    so a client never sends a request on a connection the proxy is closing at that moment (it would see a
    connection error, and the request would be lost)."""


def _default_routes() -> dict[str, RouteSettings]:
    return {
        "default": RouteSettings.model_validate({"tiers": ["claude-haiku-4-5", "claude-opus-4-7"]}),
        "three-tier": RouteSettings.model_validate(
            {"tiers": ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"]}
        ),
    }


def _default_providers() -> dict[str, ProviderSettings]:
    return {
        "anthropic": ProviderSettings(kind="anthropic", base_url="https://api.anthropic.com"),
        "openai": ProviderSettings(kind="openai", base_url="https://api.openai.com/v1"),
    }


class Settings(_Model):
    home: Path | None = None
    database_url: str | None = None
    redis_url: SecretStr | None = None
    """``TIERED_REDIS_URL``: share the prompt-cache and conversation state of :mod:`tiered.economics` between
    replicas through this Redis server (``redis://host:6379/0``); unset, each process keeps its own."""
    routes: dict[str, RouteSettings] = Field(default_factory=_default_routes)
    providers: dict[str, ProviderSettings] = Field(default_factory=_default_providers)
    server: ServerSettings = Field(default_factory=ServerSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    store_content: bool = False
    """Keep the (redacted) text of every request and answer, not only of audit samples."""
    content_retention_days: float = Field(default=30.0, gt=0)
    """Stored text is cleared this long after its decision."""
    decision_log_fsync: bool = False
    """fsync each decision's write-ahead line before its response ends: it then survives power loss too (without,
    a ``kill -9`` loses none; an operating-system crash may lose the last), at the price of a disk flush per
    request."""
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)

    def route(self, name: str) -> RouteSettings:
        try:
            return self.routes[name]
        except KeyError:
            known = ", ".join(sorted(self.routes))
            close = difflib.get_close_matches(name, list(self.routes), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"unknown route {name!r}; {hint}configured routes: {known}") from None

    def provider(self, name: str) -> ProviderSettings:
        """A provider's settings by name (the part of a tier's model before ``:``)."""
        try:
            return self.providers[name]
        except KeyError:
            raise ConfigError(
                f"provider {name!r} is not configured; add [providers.{name}] with kind and base_url to the config file"
            ) from None


def tiered_home(settings_home: Path | None = None) -> Path:
    """The data directory: ``settings.home``, ``$TIERED_HOME``, else the per-user data dir."""
    if settings_home is not None:
        return settings_home
    env = os.environ.get("TIERED_HOME")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("tiered", appauthor=False))


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _set_path(target: dict[str, Any], path: list[str], value: Any) -> None:
    node = target
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def _env_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    sdk_vars = {
        "ANTHROPIC_BASE_URL": ["providers", "anthropic", "base_url"],
        "ANTHROPIC_API_KEY": ["providers", "anthropic", "api_key"],
        "OPENAI_BASE_URL": ["providers", "openai", "base_url"],
        "OPENAI_API_KEY": ["providers", "openai", "api_key"],
    }
    for var, path in sdk_vars.items():
        if environ.get(var):
            _set_path(layer, path, environ[var])
    for var, raw in environ.items():
        if not var.startswith("TIERED_") or var == "TIERED_CONFIG":
            continue
        path = [p.lower() for p in var[len("TIERED_") :].split("__") if p]
        # other TIERED_* variables (test settings, tools) are not settings
        if path and path[0] in Settings.model_fields:
            # keys are strings: a route or provider named in an env var is taken as it is spelled
            value = raw if path[-1] in {"api_key", "base_url", "database_url", "redis_url", "home"} else _env_value(raw)
            _set_path(layer, path, value)
    return layer


def config_file_path(explicit: Path | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if environ is None else environ
    if explicit is not None:
        return explicit
    if env.get("TIERED_CONFIG"):
        return Path(env["TIERED_CONFIG"])
    home = env.get("TIERED_HOME")
    candidates = [Path(home) / "config.toml"] if home else []
    candidates.append(Path("tiered.toml"))
    return next((c for c in candidates if c.is_file()), None)


def load_settings(
    config_file: Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the effective settings. ``overrides`` are flag values keyed by dotted path
    (``{"server.port": 9000}``); ``None`` values are ignored (a flag that was not given)."""
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {
        "routes": {k: v.model_dump(exclude_none=True) for k, v in _default_routes().items()},
        "providers": {k: v.model_dump(exclude_none=True) for k, v in _default_providers().items()},
    }
    path = config_file_path(config_file, env)
    if path is not None:
        try:
            with path.open("rb") as fh:
                file_data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist; create it or drop --config") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        data = _deep_merge(data, file_data)
    data = _deep_merge(data, _env_layer(env))
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_path(data, dotted.split("."), value)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors(include_url=False))
        where = f" (config file {path})" if path else ""
        raise ConfigError(f"invalid settings{where}: {problems}") from exc


def _problem(err: Any) -> str:
    """One validation error as ``path: message``; a misspelt key gets the nearest valid one."""
    loc = tuple(err["loc"])
    where = ".".join(str(p) for p in loc)
    if err["type"] != "extra_forbidden" or not loc:
        return f"{where}: {err['msg']}"
    known = _keys_at(Settings, loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    hint = f"; did you mean {'.'.join([*map(str, loc[:-1]), close[0]])!r}?" if close else ""
    return f"{where}: unknown key{hint}"


def _keys_at(model: Any, path: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at ``path`` below ``model`` (dict keys and list indexes skipped)."""
    current: Any = model
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:  # a dict's key or a list's index: go to the value type
            args = [a for a in typing.get_args(current) if a not in (type(None), Ellipsis)]
            current = args[-1] if args else None
        current = _unwrap(current)
    return list(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``; other annotations as they are."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation
