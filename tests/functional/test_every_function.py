"""Every public function of this extension's modules is documented and loads in Salt."""

import inspect
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

EXECUTION_MODULES = sorted(p.stem for p in (REPO_ROOT / "_modules").glob("*.py"))
STATE_MODULES = sorted(p.stem for p in (REPO_ROOT / "_states").glob("*.py"))


def _functions(loader, module):
    names = sorted(name for name in loader if name.split(".")[0] == module)
    assert names, f"{module} did not load: see its __virtual__"
    return names


@pytest.mark.parametrize("module", EXECUTION_MODULES)
def test_every_execution_function_has_a_cli_example(modules, module):
    for name in _functions(modules, module):
        doc = inspect.getdoc(modules[name]) or ""
        assert "CLI Example" in doc, f"{name} (salt-call sys.doc {name}) has no CLI example"


@pytest.mark.parametrize("module", STATE_MODULES)
def test_every_state_function_is_documented(states, module):
    for name in _functions(states, module):
        assert inspect.getdoc(states[name]), f"state {name} has no docstring"


def test_modules_are_named_apart_from_salt_core():
    core = Path(inspect.getfile(pytest.importorskip("salt.modules.cmdmod"))).parent
    clashes = [m for m in EXECUTION_MODULES if (core / f"{m}.py").exists()]
    assert clashes == []
