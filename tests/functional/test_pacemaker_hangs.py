"""A tool that hangs never hangs this extension: through Salt's loader, with a stub that
sleeps placed first on PATH, each call gives up within its timeout with a clear message.

The 15 s bound is a hang guard (the call runs in a thread joined with a timeout), not a
performance assertion."""

import threading

import pytest
from salt.exceptions import CommandExecutionError

HANG_GUARD_S = 15


def hanging(tmp_path, monkeypatch, *tools):
    """Put ``tools`` first on PATH, each one a process that sleeps (almost) forever."""
    bindir = tmp_path / "hanging-bin"
    bindir.mkdir(exist_ok=True)
    for tool in tools:
        stub = bindir / tool
        stub.write_text("#!/bin/sh\nexec sleep 600\n")
        stub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{monkeypatch_path()}")
    return bindir


def monkeypatch_path():
    import os

    return os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")


def finishes(call):
    """Run ``call`` in a thread; fail the test if it is still running after the guard."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_GUARD_S)
    if thread.is_alive():
        pytest.fail(f"still running after {HANG_GUARD_S}s: the call hangs with the tool")
    return outcome


def test_wait_for_placement_gives_up_on_a_hanging_crm_mon_at_its_deadline(
    modules, tmp_path, monkeypatch
):
    hanging(tmp_path, monkeypatch, "crm_mon")
    outcome = finishes(
        lambda: modules.pacemaker.wait_for_placement(
            {"MGS_32834e": "mds1.lfs.intl"}, timeout=5, dialect="0.10"
        )
    )
    error = outcome.get("error")
    assert isinstance(error, CommandExecutionError), outcome
    message = str(error)
    assert "timed out after 5s waiting for placement" in message
    assert "crm_mon" in message and "did not finish" in message


def test_wait_for_cluster_gives_up_on_a_hanging_crm_mon_at_its_deadline(
    modules, tmp_path, monkeypatch
):
    hanging(tmp_path, monkeypatch, "crm_mon")
    outcome = finishes(lambda: modules.pacemaker.wait_for_cluster(timeout=4, dialect="0.10"))
    assert isinstance(outcome.get("error"), CommandExecutionError), outcome
    assert "timed out after 4s waiting for a DC" in str(outcome["error"])


def test_a_hanging_cibadmin_ends_a_cib_patch_with_its_timeout(modules, tmp_path, monkeypatch):
    hanging(tmp_path, monkeypatch, "cibadmin")
    patch = tmp_path / "p.xml"
    patch.write_text('<diff format="2"/>')
    outcome = finishes(lambda: modules.pacemaker.patch_cib(str(patch), timeout=3))
    assert isinstance(outcome.get("error"), CommandExecutionError), outcome
    assert "`cibadmin --patch" in str(outcome["error"])
    assert "did not finish within 3s" in str(outcome["error"])


def test_a_hanging_corosync_cfgtool_ends_ring_status_with_its_timeout(
    modules, tmp_path, monkeypatch
):
    hanging(tmp_path, monkeypatch, "corosync-cfgtool")
    outcome = finishes(lambda: modules.corosync.ring_status(timeout=3))
    assert isinstance(outcome.get("error"), CommandExecutionError), outcome
    assert "did not finish within 3s" in str(outcome["error"])
