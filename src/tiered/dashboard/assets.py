"""The page's files, shipped inside the package (``tiered/dashboard/static``): nothing is fetched from elsewhere.

The page itself holds no data; everything it shows comes from the JSON endpoints, with the key the operator
typed into its sign-in form. The content security policy below keeps it that way: scripts, styles and
connections only from the proxy itself, no inline script, no frames.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Final

__all__ = ["SECURITY_HEADERS", "Asset", "load_asset"]

_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(?:html|js|css|svg)$")

SECURITY_HEADERS: Final = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
}


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    media_type: str
    body: bytes


@functools.cache
def load_asset(name: str) -> Asset | None:
    """The file ``name`` of the page (``index.html``, ``app.js``...), or ``None`` when there is no such file."""
    if not _NAME.match(name):
        return None
    path = resources.files("tiered.dashboard").joinpath("static", name)
    if not path.is_file():
        return None
    suffix = name[name.rindex(".") :]
    return Asset(name=name, media_type=_TYPES[suffix], body=path.read_bytes())
