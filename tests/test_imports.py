"""Every module of the package and of the benchmarks imports: a moved name fails here, not in a long run."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import braidrec

ROOT = Path(__file__).resolve().parent.parent


# Every top-level package folder but these is a braidrec subpackage (setup.py's package_dir): a new
# folder that setup.py does not install fails here instead of being skipped.
NOT_SUBPACKAGES = {"braidrec", "bench", "tests"}
SUBPACKAGES = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name not in NOT_SUBPACKAGES)


def _modules() -> list[str]:
    # The subpackages live beside braidrec/ in the source tree (setup.py's package_dir), so each is walked itself.
    names = [m.name for m in pkgutil.iter_modules(braidrec.__path__, "braidrec.")]
    for sub in SUBPACKAGES:
        names += [f"braidrec.{sub}"] + [m.name for m in pkgutil.walk_packages([str(ROOT / sub)], f"braidrec.{sub}.")]
    return sorted(names) + sorted(m.name for m in pkgutil.walk_packages([str(ROOT / "bench")], "bench."))


@pytest.mark.parametrize("name", _modules())
def test_module_imports(name):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        # Optional extras (the bench's lightfm / implicit) may be absent; our own modules may not.
        if err.name and err.name.split(".")[0] in ("braidrec", "bench"):
            raise
        pytest.skip(f"{name} needs {err.name}, an optional extra that is not installed")
