"""Settings of the quality loop: the ``[quality]``, ``[judge]`` and ``[alerts]`` sections, and audit strata.

Per-route settings (``audit_rate``, ``audit_strata``, ``max_false_confident``, ``threshold_ceiling``,
``threshold_step``, ``threshold_lower``, ``quality_window``, ``quality_window_hours``, ``confidence_level``)
live on :class:`tiered.config.RouteSettings`; these models are the sections shared by every route::

    [routes.default]
    audit_rate = 0.01
    audit_strata = [{ margin = 0.05, rate = 0.2 }]   # oversample answers that barely cleared the threshold
    max_false_confident = 0.05
    threshold_ceiling = 0.9

    [judge]
    concurrency = 2
    spend_cap_usd = 5.0          # per spend_window_hours, across replicas (read from the grades table)

    [alerts]
    escalation_rate = 0.35
    webhook_url = "https://hooks.example/..."
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["AlertSettings", "AuditStratum", "JudgeSettings", "QualitySettings"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuditStratum(_Model):
    """Shipped answers whose confidence is at most ``margin`` above the threshold they cleared are audited at
    ``rate`` instead of the route's ``audit_rate`` (the first matching stratum, smallest margin first)."""

    margin: float = Field(gt=0.0, le=1.0)
    rate: float = Field(ge=0.0, le=1.0)


class QualitySettings(_Model):
    """How the quality loop runs (shared by every route)."""

    enabled: bool = True
    bound: Literal["clopper-pearson", "wilson"] = "clopper-pearson"
    min_grades: int = Field(default=30, ge=1)
    """The controller acts on a route only with at least this many graded answers in its window."""
    controller_interval_s: float = Field(default=60.0, gt=0)
    """How often each replica evaluates the controller (changes are recorded once, whichever replica wins)."""
    poll_interval_s: float = Field(default=5.0, gt=0)
    """How often each replica reads the newest threshold of every route from the database."""
    controller_rule: Literal["two-sided", "upper-bound"] = "two-sided"
    """``two-sided``: raise on evidence that the false-confident rate is over target, lower on evidence that a
    lower threshold meets it (shadow grades), both sequential probability ratio tests at ``1 - confidence_level``;
    ``upper-bound``:
    the first rule (raise while the upper bound is over target; lower only with ``threshold_lower``). See
    docs/quality.md."""
    evidence_ratio: float = Field(default=2.0, gt=1.0, le=10.0)
    """Two-sided rule: the sequential tests weigh a rate of ``target * evidence_ratio`` (raise) or of
    ``target * lower_hysteresis / evidence_ratio`` (lower) against the target; smaller reacts to smaller
    excesses, after more grades."""
    lower_hysteresis: float = Field(default=0.8, gt=0, le=1)
    """Two-sided rule: lower only on evidence that the lower threshold's rate is under ``target *
    lower_hysteresis`` (a raise needs evidence it is over ``target``: the band between is a dead zone)."""
    lower_margin: float = Field(default=0.5, gt=0, lt=1)
    """Upper-bound rule, with ``threshold_lower`` on: lower only while the bound is under
    ``target * lower_margin``."""
    lower_interval_s: float = Field(default=86_400.0, gt=0)
    """With ``threshold_lower`` on, at most one lowering per route per this many seconds."""
    queue_size: int = Field(default=10_000, ge=1)
    """Decisions waiting for the quality loop's thread; beyond it they are counted and skipped (never block)."""


class JudgeSettings(_Model):
    """The LLM judge that grades audit samples in the background."""

    enabled: Literal["auto", "on", "off"] = "auto"
    """``auto``: on when the judge's provider has an API key configured (a pass-through proxy holds none)."""
    model: str | None = None
    """The judge model (``<provider>:<model>`` allowed); default: the final tier of the sample's route."""
    concurrency: int = Field(default=2, ge=1, le=64)
    spend_cap_usd: float = Field(default=5.0, ge=0)
    """The most the judge may spend per ``spend_window_hours``, summed over every replica's judge grades."""
    spend_window_hours: float = Field(default=24.0, gt=0)
    max_tokens: int = Field(default=512, ge=16)
    poll_interval_s: float = Field(default=2.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    """A sample the judge failed on this many times is left for people (``tiered grade``)."""


class AlertSettings(_Model):
    """Alert conditions, sinks, de-duplication and cool-down."""

    enabled: bool = True
    escalation_rate: float = Field(default=0.35, gt=0, le=1)
    """An escalation storm: the escalation rate over the window is above this."""
    window_s: float = Field(default=300.0, gt=0)
    window_decisions: int = Field(default=500, ge=1)
    """The sliding window: the last ``window_s`` seconds or ``window_decisions`` decisions, whichever is fewer."""
    min_decisions: int = Field(default=20, ge=1)
    """No rate alert on fewer decisions than this in the window."""
    error_rate: float = Field(default=0.2, gt=0, le=1)
    """Upstream error rate (failed upstream calls over calls) in the window above which to alert."""
    false_confident: bool = True
    """Alert when a route's false-confident upper bound is over its target (checked with the controller)."""
    webhook_url: SecretStr | None = None
    """A JSON POST with a Slack-compatible ``text``; a secret (it often embeds a token): never logged whole."""
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    cooldown_s: float = Field(default=900.0, ge=0)
    """After an alert of a kind and route fires, the same alert fires again no sooner than this."""
    check_interval_s: float = Field(default=5.0, gt=0)
