"""dkms execution and state modules in Salt's real loader, against a dkms that prints real output.

A real dkms cannot build Lustre here, so ``dkms`` on PATH is a script printing a recorded
``dkms status``: the module still runs it through Salt's cmd.run_all.
"""

import shutil

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.support import SUITE_FIXTURES, real_fixture_params

K = "3.10.0-957.1.3.el7_lustre.x86_64"
MODULES = ["lustre", "spl", "zfs"]


@pytest.fixture
def fake_dkms(tmp_path, monkeypatch):
    """Put a ``dkms`` on PATH whose ``status`` prints the file ``fake_dkms(path)`` names."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "dkms"
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1" = status ] || { echo "unexpected dkms call: $*" >&2; exit 2; }\n'
        '[ -n "$FAKE_DKMS_FAIL" ] && { echo "$FAKE_DKMS_FAIL" >&2; exit 3; }\n'
        'exec cat "$FAKE_DKMS_STATUS"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")

    def use(path):
        monkeypatch.setenv("FAKE_DKMS_STATUS", str(path))

    return use


@pytest.fixture
def no_dkms(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    for tool in ("sh", "cat"):
        (empty / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(empty))


@pytest.mark.parametrize("path", real_fixture_params("online-help/dkms-status.txt"))
def test_status_runs_dkms_and_returns_every_entry(modules, fake_dkms, path):
    fake_dkms(path)
    entries = modules.dkms.status()
    assert [(e["module"], e["version"], e["state"]) for e in entries] == [
        ("lustre", "2.10.7", "installed"),
        ("spl", "0.7.1", "installed"),
        ("zfs", "0.7.1", "installed"),
    ]
    assert modules.dkms.status(kernel="3.10.0-862.el7.x86_64") == []


@pytest.mark.parametrize("path", real_fixture_params("online-help/dkms-status.txt"))
def test_verify_accepts_a_comma_separated_module_list(modules, fake_dkms, path):
    fake_dkms(path)
    result = modules.dkms.verify("lustre,spl,zfs", kernel=K)
    assert (result["ok"], result["missing"], result["warnings"]) == (True, [], [])


def test_a_failing_dkms_status_is_an_error_with_its_stderr(modules, fake_dkms, monkeypatch):
    fake_dkms(SUITE_FIXTURES / "node" / "dkms3-status-lustre-zfs.txt")
    monkeypatch.setenv("FAKE_DKMS_FAIL", "Error! /var/lib/dkms is unreadable")
    with pytest.raises(CommandExecutionError, match="dkms status failed.*unreadable"):
        modules.dkms.status()


@pytest.mark.parametrize(
    "path",
    [
        *real_fixture_params("online-help/dkms-status.txt"),
        pytest.param(SUITE_FIXTURES / "node" / "dkms3-status-lustre-zfs.txt", id="dkms3"),
    ],
)
def test_installed_passes_when_every_module_is_installed_and_changes_nothing(
    states, fake_dkms, testmode, path
):
    fake_dkms(path)
    ret = states.dkms.installed(name=K, modules=MODULES, test=testmode)
    assert ret.result is True
    assert ret.changes == {}
    assert "are installed for" in ret.comment


def test_installed_fails_with_the_commands_to_run_when_modules_are_missing(
    states, fake_dkms, testmode
):
    fake_dkms(SUITE_FIXTURES / "node" / "dkms3-status-mixed.txt")
    ret = states.dkms.installed(name=K, modules=MODULES, test=testmode)
    assert (ret.result is None) is testmode
    if not testmode:
        assert ret.result is False
    assert ret.changes == {}
    assert "lustre, spl are not installed" in ret.comment
    assert f"dkms install -m lustre -v 2.10.7 -k {K}" in ret.comment
    assert f"dkms install -m spl -v 0.7.13 -k {K}" in ret.comment
    assert "Warning: zfs/0.7.13" in ret.comment


def test_installed_reports_warnings_of_installed_modules(states, fake_dkms, testmode):
    fake_dkms(SUITE_FIXTURES / "node" / "dkms31-status-annotations.txt")
    k = "3.10.0-1160.49.1.el7_lustre.x86_64"
    ret = states.dkms.installed(name=k, modules=["lustre", "spl"], test=testmode)
    assert ret.result is True
    assert ret.changes == {}
    assert "Differences between built and installed modules" in ret.comment


def test_installed_without_dkms_says_to_install_it(states, no_dkms, testmode):
    ret = states.dkms.installed(name=K, modules=MODULES, test=testmode)
    assert (ret.result is None) is testmode
    assert ret.changes == {}
    assert "yum install dkms" in ret.comment


@pytest.mark.parametrize("path", real_fixture_params("online-help/dkms-status.txt"))
def test_a_second_check_gives_the_same_answer(states, fake_dkms, path):
    fake_dkms(path)
    first = states.dkms.installed(name=K, modules=MODULES)
    second = states.dkms.installed(name=K, modules=MODULES)
    assert first.filtered == second.filtered


@pytest.mark.parametrize("path", real_fixture_params("online-help/dkms-status.txt"))
def test_verify_defaults_to_the_running_kernel(modules, loaders, fake_dkms, path):
    fake_dkms(path)
    result = modules.dkms.verify(["lustre"])
    assert result["kernel"] == loaders.grains["kernelrelease"]
    assert result["ok"] is (loaders.grains["kernelrelease"] == K)


@pytest.mark.parametrize("names", ["", " , ", []])
def test_verify_without_a_module_name_is_a_bad_argument(modules, names):
    with pytest.raises(SaltInvocationError, match="at least one module name"):
        modules.dkms.verify(names, kernel=K)


def test_installed_without_a_module_name_fails_and_says_so(states, testmode):
    ret = states.dkms.installed(name=K, modules="", test=testmode)
    assert ret.result is False or (testmode and ret.result is None)
    assert "at least one module name" in ret.comment


def test_a_hanging_dkms_ends_status_and_verify_with_their_timeout(modules, tmp_path, monkeypatch):
    from tests.functional.test_pacemaker_hangs import finishes, hanging

    hanging(tmp_path, monkeypatch, "dkms")
    for call in (
        lambda: modules.dkms.status(timeout=3),
        lambda: modules.dkms.verify(MODULES, kernel=K, timeout=3),
    ):
        outcome = finishes(call)
        assert isinstance(outcome.get("error"), CommandExecutionError), outcome
        assert "dkms status" in str(outcome["error"])
        assert "did not finish within 3s" in str(outcome["error"])
