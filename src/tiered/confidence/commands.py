"""``tiered confidence train|versions``: the ``learned`` confidence, trained from the decision log.

``tiered.cli`` registers them::

    app.add_typer(commands.confidence_app, name="confidence")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tiered.cli_style import PlainCommand, plain_typer
from tiered.errors import ConfigError, TieredError

if TYPE_CHECKING:
    from tiered.config import RouteSettings
    from tiered.store.confidence_versions import VersionRecord

    from .strategy import ConfidenceStrategy
    from .training import SignalReport

__all__ = ["confidence_app", "train", "versions"]

confidence_app = plain_typer(help="The learned confidence signal: train it from graded decisions, list its versions.")

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file.")]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL of the decision store [default: from the settings]."),
]


@confidence_app.command("train", cls=PlainCommand)
def train(
    route: Annotated[
        str, typer.Option("--route", help="The route whose graded decisions train the model.")
    ] = "default",
    tier: Annotated[int, typer.Option("--tier", min=0, help="The triage tier the model scores.")] = 0,
    target: Annotated[
        float | None,
        typer.Option("--target", help="False-confident target [default: the route's max_false_confident]."),
    ] = None,
    test_share: Annotated[float, typer.Option("--test-share", help="Share of grades held out.")] = 0.3,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the held-out split.")] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the model file here when the version is promoted.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Fit a learned confidence on graded decisions, compare it with the signal in force on held-out grades,
    record the version, and promote it only if it ships more at the same false-confident target."""
    from tiered.quality.commands import _fail, _open

    try:
        settings, engine = _open(config, database_url)
        try:
            spec = settings.route(route)
            if tier >= len(spec.tiers) - 1:
                raise ConfigError(f"route {route!r} has no triage tier {tier} (its last tier answers directly)")
            out_doc = _train(engine, route, spec, tier, target, test_share, seed, out)
        finally:
            engine.dispose()
    except TieredError as exc:
        _fail(exc)
    if json_output:
        typer.echo(json.dumps(out_doc, indent=2))
        return
    _print_training(out_doc)


def _train(
    engine: Any,
    route: str,
    spec: RouteSettings,
    tier: int,
    target: float | None,
    test_share: float,
    seed: int,
    out: Path | None,
) -> dict[str, Any]:
    from tiered.offline._extra import require_eval

    require_eval()
    from tiered.store.confidence_versions import graded_examples, record_version

    from .model_file import ModelFile, write_model_file
    from .training import examples_from_log
    from .training import train as fit

    goal = spec.max_false_confident if target is None else target
    if not 0.0 < goal < 1.0:
        raise ConfigError(f"--target must be between 0 and 1, got {goal}")
    examples = examples_from_log(graded_examples(engine, route, tier))
    try:
        result = fit(
            examples, _in_force(spec, tier), target=goal, level=spec.confidence_level, test_share=test_share, seed=seed
        )
    except ValueError as exc:
        raise ConfigError(f"route {route!r} tier {tier}: {exc}") from exc
    record = record_version(
        engine,
        route=route,
        tier=tier,
        kind="logistic",
        promoted=result.promoted,
        reason=result.reason,
        model=result.model.to_dict(),
        metrics=result.metrics(),
    )
    written = None
    if result.promoted and out is not None:
        write_model_file(out, ModelFile(record.version, result.model, route, tier, result.metrics()))
        written = str(out)
    return {"version": record.version, "route": route, "tier": tier, "promoted": result.promoted,
            "reason": result.reason, "model_file": written, **result.metrics()}  # fmt: skip


def _in_force(spec: RouteSettings, tier: int) -> ConfidenceStrategy:
    """The route's current strategy for ``tier`` (its learned model file, else the bare self-report)."""
    from .model_file import load_learned
    from .strategy import SelfReport

    kind, path, version = spec.confidence_for(tier)
    if kind == "learned" and path is not None:
        try:
            return load_learned(path, version)
        except ValueError as exc:
            raise ConfigError(f"cannot load the learned confidence model in force: {exc}") from exc
    return SelfReport()


def _row(report: SignalReport) -> str:
    auroc = "n/a" if report.auroc is None else f"{report.auroc:.3f} [{report.auroc_low:.3f}, {report.auroc_high:.3f}]"
    threshold = "none" if report.threshold is None else f"{report.threshold:.3f}"
    shipped = f"ships {report.shipped:.1%}"
    return f"  {report.name:<22} AUROC {auroc:<22} ECE {report.ece:.3f}  threshold {threshold:<6} {shipped}"


def _print_training(doc: dict[str, Any]) -> None:
    from .training import SignalReport

    typer.echo(
        f"route {doc['route']} tier {doc['tier']}: {doc['train_size']} grades to train, {doc['test_size']} held out; "
        f"target: false-confident bound <= {doc['target']:.1%} at {doc['level']:.0%}"
    )
    for key in ("candidate", "incumbent"):
        typer.echo(_row(SignalReport(**doc[key])))
    typer.echo(f"version {doc['version']} recorded, {doc['reason']}")
    if doc["model_file"] is not None:
        typer.echo(
            f'wrote {doc["model_file"]}: set confidence = "learned", confidence_model = "{doc["model_file"]}" and '
            f"the route's threshold to {doc['candidate']['threshold']:.3f} to run it"
        )
    elif doc["promoted"]:
        typer.echo("pass --out FILE to write the promoted model file the proxy loads")


@confidence_app.command("versions", cls=PlainCommand)
def versions(
    route: Annotated[str | None, typer.Option("--route", help="Only this route.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Every learned confidence version trained, newest first, with its held-out report."""
    from tiered.quality.commands import _fail, _open
    from tiered.store.confidence_versions import list_versions

    try:
        _, engine = _open(config, database_url)
        try:
            rows = list_versions(engine, route)
        finally:
            engine.dispose()
    except TieredError as exc:
        _fail(exc)
    if json_output:
        docs = [_version_doc(r) for r in rows]
        typer.echo(json.dumps(docs, indent=2))
        return
    if not rows:
        typer.echo("no learned confidence version yet: run tiered confidence train")
        return
    for r in rows:
        candidate, incumbent = r.metrics.get("candidate", {}), r.metrics.get("incumbent", {})
        typer.echo(
            f"v{r.version}  {r.created_at:%Y-%m-%d %H:%M}  {r.route} tier {r.tier}  "
            f"{'PROMOTED' if r.promoted else 'kept    '}  AUROC {_num(candidate.get('auroc'))} "
            f"vs {_num(incumbent.get('auroc'))}  ships {_pct(candidate.get('shipped'))} vs "
            f"{_pct(incumbent.get('shipped'))}  ({r.metrics.get('test_size')} held out)"
        )


def _version_doc(r: VersionRecord) -> dict[str, Any]:
    head = {"version": r.version, "route": r.route, "tier": r.tier, "promoted": r.promoted, "reason": r.reason}
    return {**head, "created_at": r.created_at.isoformat(), "metrics": r.metrics, "model": r.model}


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value:.1%}"
