"""The `lab` fixture: a real two-node Corosync/Pacemaker pair with Salt minions.

One lab serves the whole session (it takes ~30 s to come up); every test starts from the
baseline (both nodes online, no standby, every target on its preferred node). A test
that fails gets its node and lab logs copied under <run base>/logs/<run id>/<test>/ and
the lab torn down, so the next test starts from a fresh lab. A test that leaves the lab
in a state the baseline cannot undo (a rebuilt node) calls `lab_session.mark_dirty()`: the
lab is torn down after that test.

Every lab starts with the IML manager node `mgr` upgraded (manager life "el7", see
DEFAULT_OVERRIDES); a module's LAB_OVERRIDES may ask for another life.

The fixture yields lablib.lab.Lab:
  lab.salt(...), lab.salt_run(...), lab.salt_key(...)  the master's CLIs (CompletedProcess)
  lab.salt_json(...)                                   `salt --out=json --static ...`
  lab.node_exec(node, argv)                            a command on a node
  lab.prober_records(since), lab.availability(since)   the availability prober
  lab.violations(since)                                double-mount violation log
  lab.power(node, action), lab.rebuild(node), lab.crm_status()
  lab.report(since)                                    prober + agent logs, per target
"""

import os
import re
import sys
import time

import pytest

from tests.support import REPO_ROOT

LAB_DIR = REPO_ROOT / "lab"
if str(LAB_DIR) not in sys.path:
    sys.path.insert(0, str(LAB_DIR))


# The labs of the tests start with an upgraded IML manager (manager life "el7"): the pair's
# tests need one (orch.upgrade_pair's preflight checks it). A module's LAB_OVERRIDES may ask
# for {"manager": {"life": "el6"}} (the manager before the runbook's manager sections).
DEFAULT_OVERRIDES = {"manager": {"life": "el7"}}


def lab_overrides(overrides=None):
    """DEFAULT_OVERRIDES with a module's LAB_OVERRIDES taken over them."""
    merged = {section: dict(values) for section, values in DEFAULT_OVERRIDES.items()}
    for section, values in (overrides or {}).items():
        merged.setdefault(section, {}).update(values)
    return merged


def _lab_unavailable():
    if os.geteuid() != 0:
        return "the lab needs root (namespaces, mounts)"
    return None


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"lab_rep_{report.when}", report)


class LabSession:
    """The session's lab, brought up on first use and replaced after a failure."""

    def __init__(self, venv):
        self.venv = venv
        self.lab = None
        self.dirty = False
        self.failed_runs = []

    def mark_dirty(self):
        self.dirty = True

    def get(self):
        from lablib.lab import Lab

        if self.lab is None:
            self.lab = Lab.up(venv=self.venv, overrides=lab_overrides())
        return self.lab

    def discard(self, keep_logs_as=None):
        if self.lab is None:
            return None
        lab, self.lab = self.lab, None
        self.dirty = False
        dest = None
        if keep_logs_as:
            dest = lab.collect_logs(lab.logs_dir() / keep_logs_as)
            self.failed_runs.append(str(dest))
        lab.teardown()
        return dest

    def take(self, overrides=None):
        """A lab the caller owns (and tears down): the session's own when it is up, clean
        and of the default settings, else a new one (the session's is removed first)."""
        from lablib.lab import Lab

        if self.lab is not None and not self.dirty and not overrides:
            lab, self.lab = self.lab, None
            return lab
        self.discard()
        return Lab.up(venv=self.venv, overrides=lab_overrides(overrides))

    def close(self):
        self.discard()


@pytest.fixture(scope="session")
def lab_session():
    reason = _lab_unavailable()
    if reason:
        pytest.skip(reason)
    # The venv of the test run is the one the master runs from (the nodes have their own).
    venv = os.environ.get("LUSTRE_UPGRADE_VENV") or sys.prefix
    session = LabSession(venv)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def lab(request, lab_session):
    lab = lab_session.get()
    try:
        lab.restore_baseline()
    except Exception:
        # A lab that cannot get back to its baseline is no lab for the next test either.
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        dest = lab_session.discard(keep_logs_as=f"{name}-setup")
        print(f"\nlab logs of the failed set-up: {dest}", file=sys.stderr)
        raise
    yield lab
    failed = any(
        getattr(request.node, f"lab_rep_{when}", None) is not None
        and getattr(request.node, f"lab_rep_{when}").failed
        for when in ("setup", "call")
    )
    if failed:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        dest = lab_session.discard(keep_logs_as=name)
        request.node.add_report_section("teardown", "lab", f"node and lab logs kept in {dest}")
        print(f"\nlab logs of the failed test: {dest}", file=sys.stderr)
    elif lab_session.dirty:
        lab_session.discard()


@pytest.fixture(scope="module")
def own_lab(request, lab_session):
    """One lab for this module's tests, in order (see the module docstring above)."""
    lab = lab_session.take(getattr(request.module, "LAB_OVERRIDES", None))
    failed_before = request.session.testsfailed
    try:
        yield lab
    finally:
        if request.session.testsfailed > failed_before:
            name = request.module.__name__.rsplit(".", 1)[-1]
            dest = lab.collect_logs(lab.logs_dir() / name)
            lab_session.failed_runs.append(str(dest))
            print(f"\nlab logs of {name}: {dest}", file=sys.stderr)
        lab.teardown()


@pytest.fixture
def since():
    """A timestamp taken at the start of the test (for prober records and violations)."""
    return time.time()
