"""``tiered grade``: a person's verdicts, one line per answer, with the dashboard's keys.

A line is a key and, optionally, a reason: ``c``, ``w misses the date``, ``u``; ``s`` skips, ``q`` quits. There
is no second prompt for a reason, so piped input (``c\\nw\\nq``) grades correct, then wrong, then quits. A line
that is no key is refused and asked again: it never counts as a verdict. A verdict that would make the threshold
controller move a route's threshold (for every replica) is shown as such; at a terminal it must be confirmed,
and ``tiered grade --undo DECISION_ID`` takes a grade back whenever it was given.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final, NoReturn

import typer

from tiered.errors import ConfigError, TieredError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tiered.config import Settings
    from tiered.store.grades import GradeRecord

__all__ = ["KEYS", "grade", "parse_verdict_line"]

# The dashboard's grading view uses the same keys (static/grading.js).
KEYS: Final = {"c": "correct", "w": "incorrect", "u": "unsure"}
_WORDS: Final = {"correct": "c", "wrong": "w", "incorrect": "w", "unsure": "u", "skip": "s", "quit": "q"}
PROMPT: Final = "verdict: c correct, w wrong, u unsure, s skip, q quit (a reason may follow: w misses the date)"

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file.")]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL of the decision store [default: from the settings]."),
]


def parse_verdict_line(line: str) -> tuple[str, str | None] | None:
    """``("correct" | "incorrect" | "unsure" | "skip" | "quit", reason)`` for a line, ``None`` when it is no key.

    An empty line skips (it records nothing)."""
    key, _, rest = line.strip().partition(" ")
    key = _WORDS.get(key.lower(), key.lower())
    reason = rest.strip() or None
    if key == "":
        return "skip", None
    if key in KEYS:
        return KEYS[key], reason
    if key in ("s", "q"):
        return ("skip" if key == "s" else "quit"), None
    return None


def _read_verdict() -> tuple[str, str | None] | None:
    """A verdict from standard input; ``None`` to skip; raises Exit on quit or at the end of the input."""
    while True:
        try:
            line = typer.prompt(PROMPT, default="", show_default=False)
        except typer.Abort:
            raise typer.Exit(0) from None
        parsed = parse_verdict_line(line)
        if parsed is None:
            typer.echo(f"{line.strip()!r} is not a verdict key: nothing recorded", err=True)
            continue
        verdict, reason = parsed
        if verdict == "quit":
            raise typer.Exit(0)
        return None if verdict == "skip" else (verdict, reason)


def _interactive() -> bool:
    return sys.stdin.isatty()


def _weight_note(record: GradeRecord) -> str:
    weight = record.weight
    if abs(weight - 1) < 1e-9:
        return ""
    how = f"{1 / weight:.3g}x as often" if weight < 1 else f"1/{weight:.3g} as often"
    return (
        f" (weight {weight:g}: answers like this are audited {how} as the route's base rate,"
        f" so this grade counts as {weight:g} of an answer in the false-confident rate)"
    )


def _move(settings: Settings, engine: Engine, route: str) -> tuple[str, float, float] | None:
    """What the threshold controller would do to ``route`` now, when that is a move."""
    from .controller import ThresholdController

    if route not in settings.routes:
        return None
    step = ThresholdController(settings, engine).preview(route)
    return None if step.action == "hold" else (step.action, step.old, step.new)


def _record(
    settings: Settings, engine: Engine, decision_id: str, route: str, chosen: tuple[str, str | None], who: str
) -> None:
    from tiered.store.grades import undo_grade
    from tiered.store.schema import GraderKind

    from .grading import grade_decision

    verdict, reason = chosen
    # only a move this grade brings about needs confirming: one the evidence already called for does not (the
    # dashboard's grading view follows the same rule)
    already = _move(settings, engine, route)
    record = grade_decision(engine, settings, decision_id, verdict, GraderKind.HUMAN, grader=who, reason=reason)
    typer.echo(f"graded {record.decision_id}: {record.verdict.value}{_weight_note(record)}")
    move = _move(settings, engine, route)
    if move is None or move == already:
        return
    action, old, new = move
    typer.echo(
        f"with this grade the controller will {action} route {route}'s threshold {old:g} -> {new:g}"
        " for every replica at its next run",
        err=True,
    )
    if _interactive() and not typer.confirm("keep this verdict?", default=False):
        undo_grade(engine, decision_id, grader=who)
        typer.echo(f"withdrawn: {decision_id} has no grade from {who} now")
        return
    typer.echo(f"to take it back: tiered grade --undo {decision_id}", err=True)


def _undo(engine: Engine, decision_id: str, who: str | None) -> None:
    from tiered.store.grades import undo_grade

    record, left = undo_grade(engine, decision_id, grader=who)
    by = f" by {record.grader}" if record.grader else ""
    reopened = left == 0 and _sample_pending(engine, decision_id)
    typer.echo(
        f"undid {record.verdict.value}{by} on {decision_id} (given {record.created_at:%Y-%m-%d %H:%M} UTC);"
        f" {left} grade{'s' if left != 1 else ''} left"
        + ("; its audit sample waits for a verdict again" if reopened else "")
    )


def _sample_pending(engine: Engine, decision_id: str) -> bool:
    """Whether ``decision_id`` is an audit sample waiting for a verdict (most decisions are no sample)."""
    import sqlalchemy as sa

    from tiered.store.schema import audit_samples

    with engine.connect() as conn:
        query = sa.select(audit_samples.c.decision_id).where(
            audit_samples.c.decision_id == decision_id, audit_samples.c.status == "pending"
        )
        return conn.execute(query).first() is not None


def _fail(exc: TieredError) -> NoReturn:
    typer.echo(f"error: {exc.message}", err=True)
    raise typer.Exit(2)


def grade(
    decision_id: Annotated[
        str | None, typer.Argument(help="Grade this decision; default: the pending audit samples.")
    ] = None,
    verdict: Annotated[
        str | None, typer.Option("--verdict", "-v", help="correct, wrong (incorrect) or unsure (default: ask).")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", "-r", help="Why (kept with the grade).")] = None,
    undo: Annotated[
        bool, typer.Option("--undo", help="Take back the newest person's grade on DECISION_ID (yours with --grader).")
    ] = False,
    route: Annotated[str | None, typer.Option("--route", help="Only audit samples of this route.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many audit samples.")] = 20,
    grader: Annotated[str | None, typer.Option(help="Your name on the grade (default: your login).")] = None,
    config: ConfigOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Grade shipped answers: shows each audit sample's request and answer and asks for a verdict.

    Answer each with one line: c (correct), w (wrong), u (unsure), s (skip) or q (quit), the keys of the
    dashboard's grading view; a reason may follow the key on the same line ("w misses the date"). With a
    DECISION_ID and --verdict, records that verdict at once (for scripts); --undo takes a grade back. Verdicts
    count in the false-confident rate that drives the threshold controller; unsure is recorded but not counted.
    A verdict that would move a route's threshold says so, and asks to be confirmed at a terminal.
    """
    from .commands import _login, _open, _show, _stored

    who = grader or _login()
    chosen: tuple[str, str | None] | None = None
    if verdict is not None:
        parsed = parse_verdict_line(verdict)
        if parsed is None or parsed[0] in ("skip", "quit"):
            _fail(ConfigError(f"--verdict must be correct, wrong (incorrect) or unsure, got {verdict!r}"))
        chosen = (parsed[0], reason)
    if undo and decision_id is None:
        _fail(ConfigError("--undo needs the DECISION_ID whose grade to take back"))
    try:
        settings, engine = _open(config, database_url)
        try:
            if undo and decision_id is not None:
                _undo(engine, decision_id, grader)
            elif decision_id is not None:
                found = _stored(engine, decision_id)
                if chosen is None:
                    _show(decision_id, found[0], found[1], found[2], "")
                    chosen = _read_verdict()
                if chosen is not None:
                    _record(settings, engine, decision_id, found[0], chosen, who)
            else:
                _grade_pending(settings, engine, route, limit, chosen, who)
        finally:
            engine.dispose()
    except TieredError as exc:
        _fail(exc)


def _grade_pending(
    settings: Settings, engine: Engine, route: str | None, limit: int, chosen: tuple[str, str | None] | None, who: str
) -> None:
    from tiered.store.grades import pending_audits

    from .commands import _show

    items = pending_audits(engine, route=route, limit=limit)
    if not items:
        typer.echo("no audit samples are waiting for a verdict")
        return
    for item in items:
        conf = f"confidence {item.confidence:.2f}" if item.confidence is not None else ""
        _show(item.decision_id, item.route, item.request_text, item.answer_text, f"{item.answered_by} {conf}")
        answer = chosen if chosen is not None else _read_verdict()
        if answer is not None:
            _record(settings, engine, item.decision_id, item.route, answer, who)
