"""The quality loop: audit sampling, grading, the false-confident rate, the threshold controller and alerts.

Modules, one concern each (see ``docs/quality.md`` for the statistics and the operator's view):

* :mod:`.settings` the ``[quality]``, ``[judge]`` and ``[alerts]`` sections
* :mod:`.bounds` one-sided upper bounds (Clopper-Pearson, Wilson) in pure Python
* :mod:`.stats` the false-confident rate over a window (:func:`false_confident_summary`)
* :mod:`.sampler` which shipped answers are audited (deterministic from the decision id, stratified)
* :mod:`.transcript` the request text kept for an audit sample, and reading it back
* :mod:`.samples` audit-sample rows, written once their decision row exists; grade weights
* :mod:`.grading` recording a verdict from a person, an app or the judge
* :mod:`.judge` the LLM judge's request and verdict; :mod:`.judge_worker` the background worker
* :mod:`.thresholds` threshold changes in the database, shared by every replica
* :mod:`.controller` the threshold controller
* :mod:`.windows` sliding windows of recent decisions; :mod:`.alerts` alert rules, de-duplication, sinks
* :mod:`.loop` :class:`QualityLoop`, which runs all of the above beside the proxy
* :mod:`.commands` ``tiered grade``, ``tiered threshold show|set`` and ``tiered alerts``

Importing this package is cheap: names are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiered._lazy import lazy_exports

if TYPE_CHECKING:
    from tiered.quality.loop import QualityLoop
    from tiered.quality.sampler import AuditPick, AuditSampler
    from tiered.quality.stats import FalseConfidentSummary, GradeWindow, false_confident_summary, route_summary

__all__ = [
    "AuditPick",
    "AuditSampler",
    "FalseConfidentSummary",
    "GradeWindow",
    "QualityLoop",
    "false_confident_summary",
    "route_summary",
]

_WHERE = {
    "AuditPick": "sampler",
    "AuditSampler": "sampler",
    "FalseConfidentSummary": "stats",
    "GradeWindow": "stats",
    "false_confident_summary": "stats",
    "route_summary": "stats",
    "QualityLoop": "loop",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
