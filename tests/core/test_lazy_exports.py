"""The lazy exports of tiered's packages (:mod:`tiered._lazy`): every public name importable, ``dir()`` right,
and nothing imported with the package."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

PACKAGES = ["tiered", "tiered.store", "tiered.quality", "tiered.providers"]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_name_is_importable_and_listed(name: str) -> None:
    package = importlib.import_module(name)
    lazy: dict[str, str] = package._WHERE
    assert set(lazy) <= set(package.__all__), "a lazy name missing from __all__"
    for export in package.__all__:
        assert getattr(package, export) is not None
        assert export in dir(package)
    assert "__name__" in dir(package)  # the package's own names too
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        _ = package.not_a_name


def test_a_name_is_imported_once_then_kept() -> None:
    package = importlib.import_module("tiered.quality")
    first = package.QualityLoop
    assert vars(package)["QualityLoop"] is first  # later reads are plain lookups


def test_importing_the_packages_imports_none_of_their_modules() -> None:
    code = (
        "import sys\n"
        f"for name in {PACKAGES!r}: __import__(name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('tiered')))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    expected = sorted([*PACKAGES, "tiered._lazy", "tiered.providers.base", "tiered.fastjson"])
    assert loaded.strip() == repr(expected)


def test_the_helper_names_its_package_in_errors() -> None:
    from tiered._lazy import lazy_exports

    module = types.ModuleType("tiered_lazy_probe")
    sys.modules[module.__name__] = module
    try:
        getter, lister = lazy_exports(module.__name__, {"dumps": "missing_submodule"})
        with pytest.raises(AttributeError, match="module 'tiered_lazy_probe' has no attribute 'loads'"):
            getter("loads")
        assert "dumps" in lister()
    finally:
        del sys.modules[module.__name__]
