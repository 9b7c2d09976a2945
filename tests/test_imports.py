"""Every module of the package and of the benchmarks imports: a moved name fails here, not in a long run."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
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


def test_importing_every_module_leaves_tensorflow_unstarted():
    """Importing must not run a TensorFlow op: the first op fixes the threads per op (braidrec/runtime.py)."""
    script = (
        "import importlib, sys\n"
        "sys.path.insert(0, 'tests')\n"
        "from test_imports import _modules\n"
        "from tensorflow.python.eager import context\n"
        "for name in _modules():\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError:\n"
        "        continue\n"
        "    if context.context()._context_handle is not None:\n"
        "        print(name)\n"
        "        break\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    assert not out.strip(), f"importing {out.strip()} started TensorFlow's runtime (a tensor made at import?)"
