"""The Prometheus rules and the Grafana dashboard are valid and use only metrics tiered exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from tests.quality._quality_helpers import escalated, shipped

from tiered.config import load_settings
from tiered.quality.loop import QualityLoop
from tiered.router import Router
from tiered.store.writer import WriterStats

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "tiered-dashboard.json"
SELECTOR = re.compile(r"(tiered_[a-z_]+)(\{[^}]*\})?")
MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")


def exported() -> dict[str, set[str]]:
    """Every sample name a populated tiered exposition has, with its label names."""
    settings = load_settings(environ={})
    stats = WriterStats(10, 9, 1, 0, 0, 0, 0, True, None)
    loop = QualityLoop(settings, Router(settings), writer_stats=lambda: stats)
    m = loop.metrics
    for decision in (shipped("a"), escalated("b"), escalated("c", error=True)):
        m.observe(decision)
    m.observe_grade("default", "correct", "judge")
    m.audit_samples.labels(route="default", sampler="uniform").inc()
    m.judge_calls.labels(result="graded").inc()
    m.alerts.labels(kind="escalation_storm", route="default").inc()
    m.quality_failures.labels(component="samples").inc()
    m.quality_dropped.inc()
    m.set_false_confident("default", 0.01, 0.04, 0.05, 100)
    text, _ = m.render()
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def check_expression(expr: str, names: dict[str, set[str]]) -> None:
    found = SELECTOR.findall(expr)
    assert found, expr
    for metric, braces in found:
        assert metric in names, f"{metric} is not exported by tiered"
        for label in MATCHER.findall(braces or ""):
            assert label in names[metric], f"{metric} has no label {label!r}"


def test_rules_file() -> None:
    promtool = shutil.which("promtool")
    if promtool is not None:
        result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
    doc = yaml.safe_load(RULES.read_text())
    (group,) = doc["groups"]
    names = exported()
    alerts = {rule["alert"]: rule for rule in group["rules"]}
    assert {"TieredEscalationStorm", "TieredFalseConfidentOverTarget", "TieredUpstreamErrorRate"} <= set(alerts)
    for rule in group["rules"]:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["expr"].count("(") == rule["expr"].count(")")
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"])
        check_expression(rule["expr"], names)
    storm = alerts["TieredEscalationStorm"]["expr"]
    assert "sum by (route)" in storm and "> 0.35" in storm  # across replicas, at the default escalation_rate


def test_grafana_dashboard() -> None:
    doc = json.loads(DASHBOARD.read_text())
    names = exported()
    panels = [p for p in doc["panels"] if p["type"] != "row"]
    assert doc["uid"] and doc["title"] and len(panels) >= 10
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert panel["targets"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        for target in panel["targets"]:
            check_expression(target["expr"], names)
    used = {m for p in panels for t in p["targets"] for m, _ in SELECTOR.findall(t["expr"])}
    for needed in ("tiered_false_confident_upper_bound", "tiered_threshold", "tiered_counterfactual_cost_usd_total"):
        assert needed in used


@pytest.mark.parametrize("bad", ["tiered_nope_total", 'tiered_decisions_total{colour="red"}'])
def test_the_checker_catches_unknown_metrics(bad: str) -> None:
    with pytest.raises(AssertionError):
        check_expression(f"sum(rate({bad}[5m]))", exported())
