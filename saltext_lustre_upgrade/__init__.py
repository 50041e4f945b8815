"""Entry points that tell Salt's loader where this extension's modules are installed.

A master/minion that serves the repository through file_roots or gitfs does not need
this package: ``saltutil.sync_all`` copies ``_modules``, ``_states`` and ``_runners``.
"""

from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent


def module_dirs():
    return [str(PACKAGE_ROOT / "modules")]


def states_dirs():
    return [str(PACKAGE_ROOT / "states")]


def runner_dirs():
    return [str(PACKAGE_ROOT / "runners")]
