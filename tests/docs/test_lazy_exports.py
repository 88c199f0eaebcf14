"""``trajectories`` re-exports lazily (a module ``__getattr__``): every public name is still there.

``import trajectories`` loads none of the implementation; the first use of a name loads its
submodule. These check that nothing public was lost and that the laziness is real.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import trajectories
from tests.helpers.paths import ROOT

SUBMODULES = ("attributes", "config", "exceptions", "export", "instrument", "learning", "model", "store", "testing")


def _fresh(code: str) -> str:
    env_path = str(ROOT / "src")
    proc = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {env_path!r}); {code}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return proc.stdout.strip().splitlines()[-1]


def test_every_name_in_all_resolves_to_its_submodule_object() -> None:
    for name in trajectories.__all__:
        value = getattr(trajectories, name)
        if name == "__version__":
            continue
        source = trajectories._SOURCE[name]
        assert value is getattr(importlib.import_module(f"trajectories.{source}"), name), name


def test_the_lazy_table_and_all_name_the_same_names() -> None:
    assert set(trajectories._SOURCE) | {"__version__"} == set(trajectories.__all__)
    assert len(trajectories.__all__) == len(set(trajectories.__all__))


def test_dir_lists_every_public_name_and_submodule() -> None:
    listed = dir(trajectories)
    assert set(trajectories.__all__) <= set(listed)
    assert set(SUBMODULES) <= set(listed)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        trajectories.not_a_name  # noqa: B018
    with pytest.raises(ImportError):
        exec("from trajectories import not_a_name", {})


def test_star_import_gets_every_public_name() -> None:
    namespace: dict[str, object] = {}
    exec("from trajectories import *", namespace)
    assert set(trajectories.__all__) <= set(namespace)
    assert namespace["step"] is trajectories.step


def test_import_alone_loads_no_implementation() -> None:
    loaded = json.loads(
        _fresh("import trajectories, json; print(json.dumps(sorted(m for m in sys.modules if m.startswith('trajectories'))))")
    )
    assert loaded == ["trajectories", "trajectories._internal", "trajectories._internal.version"]


def test_submodules_are_attributes_without_importing_them_first() -> None:
    code = "import trajectories; print(trajectories.store.SQLiteTrajectoryStore.__name__, trajectories.attributes.STEP_INDEX)"
    out = _fresh(code)
    assert out == "SQLiteTrajectoryStore trajectory.step.index"


def test_instrumenting_loads_neither_the_store_nor_asyncio() -> None:
    code = (
        "from trajectories import trajectory, step, configure; "
        "print(' '.join(m for m in ('asyncio', 'sqlite3', 'trajectories._internal.store.sqlite', "
        "'trajectories._internal.learning.recall') if m in sys.modules) or 'none')"
    )
    assert _fresh(code) == "none"
