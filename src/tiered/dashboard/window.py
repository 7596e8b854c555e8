"""The dashboard's time windows: how far back a view looks, and how it is cut into chart buckets.

A window is written as a number and a unit, ``15m``, ``6h`` or ``7d``. Its buckets are aligned to multiples of
their width (from the Unix epoch), so the bars of a chart do not slide at every refresh: the last bucket is the
one still filling, and the chart spans up to one bucket more than the window itself.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from tiered.errors import InvalidRequestError

__all__ = ["PRESETS", "Window", "parse_window"]

PRESETS: Final = ("15m", "1h", "6h", "24h", "7d", "30d")
"""The windows the page offers; any other ``<n><unit>`` from one minute to 400 days is accepted too."""

_UNITS: Final = {"m": 60, "h": 3600, "d": 86400}
_WIDTHS_S: Final = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400)
_MAX_BUCKETS: Final = 48
_PATTERN: Final = re.compile(r"^\s*(\d{1,6})\s*([mhd])\s*$")


@dataclass(frozen=True, slots=True)
class Window:
    """``span`` back from now, charted in buckets of ``bucket`` each."""

    name: str
    span: timedelta
    bucket: timedelta

    def since(self, now: datetime) -> datetime:
        return now - self.span

    def edges(self, now: datetime) -> list[datetime]:
        """Bucket edges, oldest first: ``len(edges) - 1`` buckets, the first containing ``now - span`` and the
        last containing ``now``, so the chart covers the whole window."""
        width = self.bucket.total_seconds()
        first = math.floor((now.timestamp() - self.span.total_seconds()) / width)
        last = math.floor(now.timestamp() / width)
        return [datetime.fromtimestamp((first + i) * width, tz=UTC) for i in range(last - first + 2)]


def parse_window(text: str) -> Window:
    """Read ``15m``, ``1h``, ``7d``...; raises InvalidRequestError naming the accepted forms."""
    match = _PATTERN.match(text)
    seconds = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
    if not match or not 60 <= seconds <= 400 * 86400:
        raise InvalidRequestError(
            f"window: {text!r} is not a window; write a number and a unit (m, h or d) from 1m to 400d, "
            f"e.g. {', '.join(PRESETS)}"
        )
    # past the listed widths, whole days: a year is charted in 46 buckets of 8 days
    days = math.ceil(seconds / _MAX_BUCKETS / 86400) * 86400
    width = next((w for w in _WIDTHS_S if seconds / w <= _MAX_BUCKETS), days)
    name = f"{match.group(1)}{match.group(2)}"
    return Window(name=name, span=timedelta(seconds=seconds), bucket=timedelta(seconds=width))
