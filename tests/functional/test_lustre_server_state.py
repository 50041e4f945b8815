"""``lustre_server.upgrade_pending`` in Salt's real loader, against this machine's packages.

The state a routine highstate runs in place of the upgrade's package states and reboot: it
reads the package database (here Debian's, through Salt's ``pkg``) and the running kernel,
and reports; it never changes anything, with or without ``test=True``. Its EL7 behaviour
(yum, the tree's real arguments) is tested in ``tests/integration/test_state_tree.py``.
"""

import subprocess

import pytest

MISSING = "lu-no-such-package"


@pytest.fixture(scope="module")
def dpkg_version():
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "dpkg"], capture_output=True, text=True
    )
    if out.returncode != 0 or not out.stdout:
        pytest.skip("needs dpkg (Debian) for a package known to be installed")
    return out.stdout


def _running_kernel():
    return subprocess.run(
        ["uname", "-r"], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_packages_as_wanted_and_the_wanted_kernel_leave_nothing_pending(
    states, dpkg_version, testmode
):
    ret = states.lustre_server.upgrade_pending(
        name="software",
        pkgs=["dpkg", {"dpkg": dpkg_version}],
        kernel_release=_running_kernel(),
        test=testmode,
    )
    assert (ret.result, ret.changes) == (True, {})
    assert ret.comment == "Nothing pending for the upgrade run of this node (software)"


def test_each_package_that_differs_is_listed_and_nothing_changes(states, dpkg_version, testmode):
    ret = states.lustre_server.upgrade_pending(
        name="software",
        pkgs=[MISSING, {"dpkg": "0.1-1"}, {f"{MISSING}-pinned": "2.10.8"}],
        latest=[MISSING],
        fromrepo="e2fsprogs-wc",
        removed_if_newer=["dpkg"],
        newer_than="0.1",
        kernel_release="3.10.0-957.10.1.el7_lustre.x86_64",
        running_kernel_command="echo 3.10.0-1160.el7.x86_64",
        test=testmode,
    )
    assert (ret.result, ret.changes) == (True, {})
    assert ret.comment.splitlines() == [
        "Pending for the upgrade run of this node (software):",
        f"- dpkg: installed {dpkg_version}, newer than 0.1: removed",
        f"- {MISSING}: not installed, wanted the newest of e2fsprogs-wc",
        f"- {MISSING}: not installed",
        f"- dpkg: installed {dpkg_version}, wanted 0.1-1",
        f"- {MISSING}-pinned: not installed, wanted 2.10.8",
        "- reboot into 3.10.0-957.10.1.el7_lustre.x86_64 (running 3.10.0-1160.el7.x86_64)",
        "Nothing was changed: only the upgrade run that has evacuated this node makes these "
        "changes (pillar lustre_upgrade_run:evacuated_node: functional)",
    ]


def test_a_package_older_than_the_limit_is_not_removed(states, dpkg_version):
    ret = states.lustre_server.upgrade_pending(
        name="software", removed_if_newer=["dpkg", MISSING], newer_than=f"{dpkg_version}.1"
    )
    assert ret.result is True
    assert ret.comment.startswith("Nothing pending")


def test_a_running_kernel_it_cannot_read_fails_the_state_without_changes(states, testmode):
    ret = states.lustre_server.upgrade_pending(
        name="software",
        kernel_release="3.10.0-957.10.1.el7_lustre.x86_64",
        running_kernel_command="ls /nonexistent-kernel-release",
        test=testmode,
    )
    assert (ret.result, ret.changes) == (False, {})
    assert "cannot tell the running kernel" in ret.comment and "exited 2" in ret.comment


def test_a_malformed_package_entry_fails_the_state_naming_it(states):
    ret = states.lustre_server.upgrade_pending(name="software", pkgs=[["kernel", "3.10"]])
    assert (ret.result, ret.changes) == (False, {})
    assert "['kernel', '3.10']" in ret.comment
