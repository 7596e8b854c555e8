"""Read an outcomes file (CSV or JSONL, optionally gzip-compressed) into named columns."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from tiered.offline.outcomes import BacktestInputError, Outcomes, outcomes_from_columns

__all__ = ["read_columns", "read_outcomes"]


def read_outcomes(path: str | Path, *, rename: Mapping[str, str] | None = None) -> Outcomes:
    """Read a CSV or JSONL outcomes file; ``rename`` maps expected column names to the file's names."""
    return outcomes_from_columns(read_columns(path), rename=rename, source=str(path))


def read_columns(path: str | Path) -> dict[str, list[Any]]:
    """The file's columns by name: CSV cells as strings, JSONL values as parsed.

    The format follows the suffix (``.csv``, ``.jsonl``/``.ndjson``/``.json``, each optionally ``.gz``).
    """
    p = Path(path)
    suffixes = [s.lower() for s in p.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    kind = suffixes[-2] if compressed and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    if kind not in (".csv", ".jsonl", ".ndjson", ".json"):
        raise BacktestInputError(
            f"{p}: cannot tell the format from the name; use a .csv or .jsonl file (optionally .gz)."
        )
    try:
        with _open_text(p, compressed) as handle:
            return _read_csv(handle, str(p)) if kind == ".csv" else _read_jsonl(handle, str(p))
    except OSError as exc:
        raise BacktestInputError(f"Cannot read {p}: {exc.strerror or exc}. Check the path.") from exc
    except UnicodeDecodeError as exc:
        raise BacktestInputError(f"{p} is not UTF-8 text ({exc.reason}); save it as UTF-8.") from exc


def _open_text(path: Path, compressed: bool) -> IO[str]:
    if compressed:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _read_csv(handle: IO[str], source: str) -> dict[str, list[Any]]:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None:
        raise BacktestInputError(f"{source} is empty; it needs a header row and outcome rows.")
    names = [h.strip() for h in header]
    if len(set(names)) != len(names):
        raise BacktestInputError(f"{source}: the header repeats a column name.")
    rows = [row for row in reader if row]
    width = len(names)
    for index, row in enumerate(rows):
        if len(row) != width:
            raise BacktestInputError(
                f"{source}: row {index + 1} has {len(row)} cells but the header has {width} columns."
            )
    # One comprehension per column is several times faster than transposing with zip(*rows).
    return {name: [row[j] for row in rows] for j, name in enumerate(names)}


def _read_jsonl(handle: IO[str], source: str) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {}
    count = 0
    for lineno, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BacktestInputError(f"{source}, line {lineno}: not valid JSON ({exc.msg}).") from exc
        if not isinstance(obj, dict):
            raise BacktestInputError(f"{source}, line {lineno}: each line must be a JSON object.")
        for key in obj.keys() - columns.keys():
            columns[key] = [None] * count
        for key, values in columns.items():
            values.append(obj.get(key))
        count += 1
    return columns
