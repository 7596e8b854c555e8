"""A request's slice within its route: the label that statistics, shadow projections and the controller's
evidence are grouped by (``RouteSettings.slice_from``).

* ``metadata``: the request's ``metadata.user_id`` (the one field the Messages API's ``metadata`` takes), cut
  to :data:`MAX_SLICE_CHARS`;
* ``header``: the request's ``x-tiered-slice`` header (:data:`SLICE_HEADER`), cut to :data:`MAX_SLICE_CHARS`:
  the application names its task or tenant itself, without touching the request;
* ``system``: ``sys:`` and the first 12 hex digits of a BLAKE2b digest of the system prompt's text, so requests
  sent with the same instructions (one task of an application) share a slice without storing the prompt;
* ``none``: no slice.

Pure and cheap (it runs on the request path, in the recorder); odd shapes give no slice, never an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from tiered.config import RouteSettings

__all__ = ["MAX_SLICE_CHARS", "SLICE_HEADER", "slice_key"]

MAX_SLICE_CHARS: Final = 64
SLICE_HEADER: Final = "x-tiered-slice"  # read by tiered only: never sent upstream (providers forward anthropic-*)


def _system_text(system: Any) -> str | None:
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        parts = [b["text"] for b in system if isinstance(b, dict) and isinstance(b.get("text"), str)]
        return "\n".join(parts) if parts else None
    return None


def slice_key(route: RouteSettings, request: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> str | None:
    """The slice of ``request`` (sent with ``headers``, lower-case names) on ``route``, or ``None``."""
    source = route.slice_from
    if source in ("metadata", "header"):
        if source == "header":
            label = headers.get(SLICE_HEADER) if headers is not None else None
        else:
            metadata = request.get("metadata")
            label = metadata.get("user_id") if isinstance(metadata, dict) else None
        label = label.strip() if isinstance(label, str) else None
        return label[:MAX_SLICE_CHARS] if label else None
    if source == "system":
        text = _system_text(request.get("system"))
        if not text:
            return None
        return "sys:" + hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
    return None
