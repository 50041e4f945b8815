"""The library under ``_utils/`` is pure, self-contained and collides with nothing.

Salt's loader appends ``salt/utils`` and every synced utils directory to ``sys.path`` while
it loads a module, so a library name equal to a Salt util or a standard module would
shadow it (or be shadowed); the package imports its own modules relatively because Salt's
utils loader may load it under another name too.
"""

import ast
import sys
from pathlib import Path

import pytest
import salt.utils

from tests.support import REPO_ROOT

LIBRARY = REPO_ROOT / "_utils" / "lustre_upgrade_lib"
SALT_UTILS = {p.stem for p in Path(salt.utils.__file__).parent.glob("*.py")} | {
    p.name for p in Path(salt.utils.__file__).parent.iterdir() if p.is_dir()
}
# What only a live Salt module may touch: the library computes, it does not act.
LIVE_NAMES = {"__salt__", "__opts__", "__context__", "__pillar__", "__grains__", "__utils__"}
LIVE_MODULES = {"subprocess", "salt.client", "salt.modules", "salt.states", "salt.runner"}

MODULES = sorted(p for p in LIBRARY.glob("*.py") if p.name != "__init__.py")


def test_the_library_holds_modules():
    assert {p.stem for p in MODULES} >= {"fileio", "masking", "cli_args"}


@pytest.mark.parametrize("name", ["lustre_upgrade_lib", *(p.stem for p in MODULES)])
def test_no_name_collides_with_a_standard_module_or_a_salt_util(name):
    assert name not in sys.stdlib_module_names, f"{name} is a standard library module"
    assert name not in SALT_UTILS, f"{name} is a Salt util (salt/utils/{name}.py)"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_each_module_is_pure_and_imports_its_siblings_relatively(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id not in LIVE_NAMES, f"{path.name}:{node.lineno} uses {node.id}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name not in LIVE_MODULES, f"{path.name}:{node.lineno} {alias.name}"
                assert not alias.name.startswith("lustre_upgrade_lib"), (
                    f"{path.name}:{node.lineno}: import siblings relatively (from . import x)"
                )
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            module = node.module or ""
            assert module not in LIVE_MODULES, f"{path.name}:{node.lineno} imports {module}"
            assert not module.startswith("lustre_upgrade_lib"), (
                f"{path.name}:{node.lineno}: import siblings relatively (from . import x)"
            )


def test_the_package_init_imports_nothing_of_its_own():
    tree = ast.parse((LIBRARY / "__init__.py").read_text())
    relative = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    assert not relative, "Salt's utils loader would load a second copy of every submodule"


def test_a_running_minion_picks_up_a_synced_library(tmp_path):
    """After a re-sync the library's files change under a process that imported them:
    ``reload_changed`` (called from the modules' ``__virtual__``) brings in the new code."""
    import shutil
    import subprocess

    copy = tmp_path / "lustre_upgrade_lib"
    shutil.copytree(LIBRARY, copy, ignore=shutil.ignore_patterns("__pycache__"))
    script = f"""
import os, sys
sys.path.insert(0, {str(tmp_path)!r})
import lustre_upgrade_lib
from lustre_upgrade_lib import cli_args
assert lustre_upgrade_lib.reload_changed() == []
path = cli_args.__file__
with open(path, "a") as fh:
    fh.write("\\nNEW_IN_THE_SYNC = 1\\n")
stat = os.stat(path)
os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
assert lustre_upgrade_lib.reload_changed() == ["lustre_upgrade_lib.cli_args"]
assert cli_args.NEW_IN_THE_SYNC == 1
assert lustre_upgrade_lib.reload_changed() == []
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
