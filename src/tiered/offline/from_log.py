"""Outcomes from the decision log, for ``tiered backtest --from-log``.

A graded decision says whether the answer the caller got was right. A backtest needs more: the cheap tier's
confidence and correctness *and* the final tier's correctness and cost for every query. Production never
calls both tiers for one request, so part of each row is not in the log. What is read and what is filled in,
for a two-tier route:

=================  ==================================  ==================================================
                   shipped (tier 0 answered)           escalated (the final tier answered)
=================  ==================================  ==================================================
confidence         the triage attempt's                the triage attempt's (blank after invalid output,
                                                       an error, or a confident null answer: never ships)
cheap correct      the grade                           **unknown** (the triage answer is not kept):
                                                       counted wrong
deep correct       **unknown** (never called):         the grade
                   counted right
triage cost        the triage attempt's                the triage attempt's
deep cost          **estimated**: the decision's        the final attempt's
                   counterfactual cost
=================  ==================================  ==================================================

Each fill-in can only make the cascade look worse (a shipped answer is compared with a final tier assumed
right; an escalated query that would ship at a lower threshold is assumed to ship a wrong answer), so a
threshold certified on these rows is certified for the true outcomes as well, *provided the graded decisions
are a uniform sample*. The audit samples shipped answers only, so by default the grid starts at the lowest
threshold the route shipped at (:attr:`LogOutcomes.production_threshold`): at or above it, every query that
would ship did ship and could be audited, and the false-confident rate is valid under a uniform audit. Below
it, and for every rate taken over all queries (escalation rate, accuracy, quality loss, cost), the rows
describe the graded sample, which is the traffic only when escalated and shipped answers are graded at the
same rate. Grades of a stratified audit (weight other than 1) are not re-weighted. The cheap tier alone
(the all-cheap reference) is priced at the triage call.

Per decision, the latest ``correct`` or ``incorrect`` grade counts (``unsure`` ones are left out). Decisions
that failed, passthrough calls, requests the route sent straight to a tier without triage, and decisions
without a price are skipped and counted. Routes of three or more tiers are refused: a log holds too little of
them; evaluate them with ``tiered eval``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from tiered.errors import ConfigError
from tiered.offline.outcomes import BacktestInputError, OutcomeRecord, Outcomes, outcomes_from_records

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.engine import Connection, Engine

    from tiered.config import Settings
    from tiered.store.shadow import ShadowRow

__all__ = ["LogOutcomes", "LogQuery", "log_outcomes", "read_log", "shadow_log", "threshold_grid"]

_CHUNK: Final = 500


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Which graded decisions: the database (``None``: the configured one), a route and a window start."""

    database_url: str | None = None
    route: str | None = None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class LogOutcomes:
    """Records built from graded decisions, and how they were built."""

    route: str
    records: tuple[OutcomeRecord, ...]
    graded: int  # graded decisions of the route in the window
    shipped: int
    escalated: int
    weighted: int  # grades carrying a stratified-audit weight (not re-weighted here)
    production_threshold: float | None  # the lowest threshold a used decision shipped at
    skipped: Mapping[str, int] = field(default_factory=dict)
    shadow: bool = False  # built from shadow results (:func:`shadow_log`), nothing filled in

    def notes(self) -> list[str]:
        skipped = "; ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        if self.shadow:
            return [
                f"From shadow results: {len(self.records)} requests of route {self.route!r} triaged in background "
                "and judged against the final tier's answer" + (f"; skipped: {skipped}." if skipped else "."),
                "A uniform share of the route's traffic: rates hold for the traffic at every threshold.",
            ]
        notes = [
            f"From the decision log: {len(self.records)} graded decisions of route {self.route!r} "
            f"({self.shipped} shipped, {self.escalated} escalated)" + (f"; skipped: {skipped}." if skipped else "."),
        ]
        if self.shipped:
            notes.append(
                f"{self.shipped} shipped: the final tier was not called, so it is counted right and priced at the "
                "logged counterfactual estimate."
            )
        if self.escalated:
            notes.append(f"{self.escalated} escalated: the cheap tier's answer was not kept, so it is counted wrong.")
        notes.append(
            "These fill-ins only make the cascade look worse. Rates over all queries describe the graded sample, "
            "which is the traffic only if shipped and escalated answers are graded at the same rate."
        )
        if self.weighted:
            notes.append(f"{self.weighted} grades come from a stratified audit; they are not re-weighted.")
        return notes


def read_log(
    engine: Engine,
    *,
    route: str | None = None,
    since: datetime | None = None,
    route_tiers: Mapping[str, int] | None = None,
) -> LogOutcomes:
    """Build records from the graded decisions in ``engine`` (see the module docstring). ``route_tiers``
    gives the configured number of tiers per route: a decision shipped by tier 0 does not show how many
    tiers its route has."""
    latest: dict[str, Mapping[str, Any]] = {}
    with engine.connect() as conn:
        for row in conn.execute(_graded_query(route, since)).mappings():
            latest[row["id"]] = dict(row)  # ordered by grade time: the last one wins
        route_name = _the_route(latest.values(), route, since)
        if (route_tiers or {}).get(route_name, 2) > 2:
            raise _n_tier(route_name)
        by_decision = _attempts_of(conn, list(latest))
    return _build(route_name, latest.values(), by_decision)


def _graded_query(route: str | None, since: datetime | None) -> Select[Any]:
    """Decisions with a definite grade (correct or incorrect), oldest grade first."""
    import sqlalchemy as sa

    from tiered.store.schema import GradeVerdict, decisions, grades

    query = (
        sa.select(
            decisions.c.id,
            decisions.c.route,
            decisions.c.answer_tier,
            decisions.c.threshold,
            decisions.c.counterfactual_cost_usd,
            decisions.c.passthrough,
            decisions.c.error,
            grades.c.verdict,
            grades.c.weight,
        )
        .join(grades, grades.c.decision_id == decisions.c.id)
        .where(grades.c.verdict.in_([GradeVerdict.CORRECT.value, GradeVerdict.INCORRECT.value]))
        .order_by(grades.c.created_at, grades.c.id)
    )
    if route is not None:
        query = query.where(decisions.c.route == route)
    if since is not None:
        query = query.where(decisions.c.created_at >= since)
    return query


def _the_route(graded: Iterable[Mapping[str, Any]], route: str | None, since: datetime | None) -> str:
    """The one route the graded decisions come from; an error, with what to do, for none or several."""
    routes = Counter(row["route"] for row in graded)
    if not routes:
        where = f" of route {route!r}" if route is not None else ""
        raise BacktestInputError(
            f"the decision log holds no graded decisions{where}"
            + (" in the window" if since is not None else "")
            + ": grade some (`tiered grade`, the judge's audit, or POST /v1/tiered/decisions/{id}/grade), "
            "or evaluate a dataset with `tiered eval`."
        )
    if len(routes) > 1:
        listed = ", ".join(f"{name} ({n})" for name, n in routes.most_common())
        raise ConfigError(f"graded decisions come from several routes: {listed}. Pick one with --route.")
    (route_name,) = routes
    return str(route_name)


def _attempts_of(conn: Connection, ids: Sequence[str]) -> dict[str, list[Mapping[str, Any]]]:
    """The attempts of each decision in ``ids``, in order, read in chunks."""
    import sqlalchemy as sa

    from tiered.store.schema import attempts

    by_decision: dict[str, list[Mapping[str, Any]]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = conn.execute(
            sa.select(attempts).where(attempts.c.decision_id.in_(chunk)).order_by(attempts.c.idx)
        ).mappings()
        for attempt in rows:
            by_decision.setdefault(attempt["decision_id"], []).append(dict(attempt))
    return by_decision


def _build(
    route: str, graded: Iterable[Mapping[str, Any]], by_decision: Mapping[str, Sequence[Mapping[str, Any]]]
) -> LogOutcomes:
    records: list[OutcomeRecord] = []
    skipped: Counter[str] = Counter()
    shipped = escalated = weighted = total = 0
    thresholds: list[float] = []
    for row in graded:
        total += 1
        tried = by_decision.get(row["id"], ())
        if row["passthrough"] or row["error"] is not None or row["answer_tier"] is None:
            skipped["failed or passthrough"] += 1
            continue
        if any(a["tier"] >= 2 for a in tried):
            raise _n_tier(route)
        triage = next((a for a in tried if a["tier"] == 0 and a["role"] == "triage"), None)
        if triage is None:
            skipped["not triaged"] += 1
            continue
        triage_cost = _cost(triage)
        correct = row["verdict"] == "correct"
        if row["answer_tier"] == 0 and triage["outcome"] == "shipped":
            deep_cost, cheap_ok, deep_ok = row["counterfactual_cost_usd"], correct, True
            if row["threshold"] is not None:
                thresholds.append(float(row["threshold"]))
        elif row["answer_tier"] == 1:
            final = next((a for a in reversed(tried) if a["tier"] == 1 and a["outcome"] == "answered"), None)
            deep_cost, cheap_ok, deep_ok = (_cost(final) if final else None), False, correct
        else:
            skipped["answered otherwise"] += 1
            continue
        if triage_cost is None or deep_cost is None:
            skipped["without a price"] += 1
            continue
        usable = triage["outcome"] in ("shipped", "escalated") and triage["reason"] != "no_answer"
        records.append(
            OutcomeRecord(
                id=str(row["id"]),
                confidence=(triage["confidence"] if usable else None,),
                correct=(cheap_ok, deep_ok),
                cost_usd=(triage_cost, float(deep_cost)),
            )
        )
        shipped += row["answer_tier"] == 0
        escalated += row["answer_tier"] == 1
        weighted += row["weight"] != 1
    return LogOutcomes(
        route=route,
        records=tuple(records),
        graded=total,
        shipped=shipped,
        escalated=escalated,
        weighted=weighted,
        production_threshold=min(thresholds) if thresholds else None,
        skipped=dict(skipped),
    )


def shadow_log(rows: Iterable[ShadowRow]) -> LogOutcomes:
    """Records from shadow results (:mod:`tiered.quality.shadow`): unlike graded decisions, nothing is filled
    in. The first tier's confidence and the judge's verdict on its answer (against the final tier's) were
    measured on a uniform share of the route's traffic, the final tier's answer is the reference (counted
    right) and both costs were paid. Rows without a decisive verdict on a shippable answer are skipped and
    counted; a triage that could never ship is kept without a confidence (it escalates at every threshold)."""
    records: list[OutcomeRecord] = []
    skipped: Counter[str] = Counter()
    routes: set[str] = set()
    for row in rows:
        routes.add(row.route)
        if row.triage_cost_usd is None or row.final_cost_usd is None:
            skipped["without a price"] += 1
            continue
        usable = row.problem is None and row.confidence is not None
        if usable and row.verdict not in ("correct", "incorrect"):
            skipped["without a decisive verdict"] += 1
            continue
        records.append(
            OutcomeRecord(
                id=row.decision_id,
                confidence=(row.confidence if usable else None,),
                correct=(usable and row.verdict == "correct", True),
                cost_usd=(row.triage_cost_usd, row.final_cost_usd),
                group=row.slice,
            )
        )
    if len(routes) > 1:
        raise ConfigError(f"shadow results come from several routes: {', '.join(sorted(routes))}. Pick one.")
    return LogOutcomes(
        route=next(iter(routes), ""),
        records=tuple(records),
        graded=len(records),
        shipped=0,
        escalated=0,
        weighted=0,
        production_threshold=None,
        skipped=dict(skipped),
        shadow=True,
    )


def _n_tier(route: str) -> ConfigError:
    return ConfigError(
        f"route {route!r} has three or more tiers; a decision log holds too little of such a cascade to "
        "backtest it. Evaluate a labelled dataset with `tiered eval` instead."
    )


def _cost(attempt: Mapping[str, Any]) -> float | None:
    cost = attempt["cost_usd"]
    if cost is not None:
        return float(cost)
    used = attempt["input_tokens"] or attempt["output_tokens"]
    return None if used else 0.0  # a call that failed before using tokens cost nothing, priced or not


def threshold_grid(production_threshold: float | None, steps: int) -> list[float] | None:
    """The default grid for a log: ``steps`` points over [0, 1] from the production threshold up (and the
    production threshold itself); ``None`` (the usual grid) when nothing shipped."""
    if production_threshold is None:
        return None
    grid = {round(i / (steps - 1), 12) for i in range(steps)}
    return sorted({t for t in grid if t >= production_threshold} | {production_threshold})


def log_outcomes(query: LogQuery, settings: Settings | None = None) -> tuple[Outcomes, LogOutcomes]:
    """Open the database (as ``tiered report`` does), read the graded decisions and build the outcomes.
    ``settings`` (default: the effective settings) give the database URL and the routes' tiers."""
    from tiered.config import load_settings
    from tiered.store.engine import make_engine
    from tiered.store.migrate import ensure_current
    from tiered.store.paths import default_database_url

    settings = settings or load_settings()
    tiers = {name: len(route.tiers) for name, route in settings.routes.items()}
    try:
        engine = make_engine(query.database_url or default_database_url(settings))
    except Exception as exc:  # a malformed URL or a missing driver
        raise ConfigError(f"invalid database URL: {exc}. Use sqlite:///path or postgresql://user@host/db") from exc
    try:
        ensure_current(engine)
        spec = settings.routes.get(query.route) if query.route is not None else None
        if spec is not None and spec.mode == "shadow":  # a shadow route: its shadow results, not its grades
            from tiered.store.shadow import read_shadow_rows

            log = shadow_log(read_shadow_rows(engine, route=query.route, since=query.since))
        else:
            log = read_log(engine, route=query.route, since=query.since, route_tiers=tiers)
    finally:
        engine.dispose()
    if not log.records:
        raise BacktestInputError(
            f"none of the {log.graded} graded decisions of route {log.route!r} can be backtested "
            f"({', '.join(f'{n} {why}' for why, n in log.skipped.items())})."
        )
    return outcomes_from_records(log.records, source=f"decision log (route {log.route})"), log
