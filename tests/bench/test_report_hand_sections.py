"""A regenerated BENCHMARKS.md keeps the sections that are run by hand, below the marker."""

from __future__ import annotations

from pathlib import Path

from bench.harness.report import HAND_RUN_MARKER, write_report


def test_regeneration_keeps_the_hand_run_sections(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(f"# Benchmarks\n\nold generated\n\n{HAND_RUN_MARKER}\n\n## Recommender\n\nby hand\n")
    write_report(path, "# Benchmarks\n\nnew generated\n")
    text = path.read_text()
    assert "old generated" not in text
    assert text.startswith("# Benchmarks\n\nnew generated\n")
    assert text.endswith(f"{HAND_RUN_MARKER}\n\n## Recommender\n\nby hand\n")


def test_a_report_without_the_marker_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\nold generated\n")
    write_report(path, "# Benchmarks\n\nnew\n")
    assert path.read_text() == "# Benchmarks\n\nnew\n"
    write_report(tmp_path / "fresh.md", "x\n")
    assert (tmp_path / "fresh.md").read_text() == "x\n"
