"""`down` removes exactly what a run made -- also after the lab itself crashed -- and two
runs on one machine never collide."""

import os
import signal

import pytest
from lablib.lab import Lab, teardown_run
from lablib.netns import hub_ns, node_ns

pytestmark = pytest.mark.lab


def _mounts():
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        return sorted(" ".join(line.split()[3:5]) for line in handle)


def _netns():
    return sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []


def _processes():
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    out[int(entry)] = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
    return out


def test_down_after_a_crash_of_labd_leaves_namespaces_mounts_and_processes_as_before(
    lab_session,
):
    before = {"netns": _netns(), "mounts": _mounts(), "pids": set(_processes())}
    # A second lab beside the session's (if it is up): every name carries its run id.
    lab = Lab.up(venv=lab_session.venv)
    try:
        names = [hub_ns(lab.run_id)] + [node_ns(lab.run_id, n.minion) for n in lab.spec.nodes]
        assert set(names) <= set(_netns())
        if lab_session.lab is not None:
            assert lab_session.lab.run_id != lab.run_id
            assert not set(names) & set(lab_session.lab.state.read()["netns"])
        labd = lab.state.read()["processes"]["labd"]
        os.kill(labd["pid"], signal.SIGKILL)  # the lab's own daemon dies
    finally:
        teardown_run(lab.run_dir)

    assert _netns() == before["netns"]
    assert _mounts() == before["mounts"]
    leftovers = {
        pid: cmd
        for pid, cmd in _processes().items()
        if pid not in before["pids"] and (lab.run_id in cmd or str(lab.run_dir) in cmd)
    }
    assert leftovers == {}
    assert not lab.run_dir.exists()
