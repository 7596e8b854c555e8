"""Routing a request as a stream: the public names of :mod:`tiered.runner.stream`.

``head = await routed.start()`` runs the cascade until the answer's source is known; ``async for chunk in
routed`` yields the SSE bytes; ``aclose()`` ends it early. See :class:`~tiered.runner.stream.RoutedStream`.
"""

from __future__ import annotations

from .runner.stream import FinalChunk, RoutedStream, StreamHead

__all__ = ["FinalChunk", "RoutedStream", "StreamHead"]
