"""Lazy exports for a package's ``__init__``: names load from their submodule on first use.

Each package keeps its own map of exported name -> submodule (a plain dict, relative to the package) and hands
it here for its module-level ``__getattr__`` and ``__dir__`` (PEP 562)::

    __getattr__, __dir__ = lazy_exports(__name__, {"Router": "router", "Settings": "config"})

``__dir__`` lists the package's own names and every lazy one, loaded or not.

Importing the package imports nothing else: a submodule is imported when one of its names is first read, and
the value is then kept in the package's namespace, so later reads are plain attribute lookups.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, homes: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, exporting each name of ``homes`` from the submodule
    it maps to (``"config"`` for ``package.config``)."""

    def module_getattr(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def module_dir() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(homes))

    return module_getattr, module_dir
