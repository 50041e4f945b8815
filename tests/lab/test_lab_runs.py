"""What a run is, and which run a command acts on.

A run is a directory named by its run id whose state file is complete and its own; logs
are kept apart (``<run base>/logs/<run id>/``) and never taken for a run; ``down`` of one
run ends nothing of another; ``--run`` is accepted before or after the command; the
master's CLIs take their own options after their name.
"""

import contextlib
import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from lablib.lab import Lab, LabError, teardown_run
from lablib.state import list_runs, process_start_time

from tests.support import REPO_ROOT

pytestmark = pytest.mark.lab

LABCTL = REPO_ROOT / "lab" / "labctl"
RUN_A, RUN_B = "a1b2c3", "d4e5f6"


def _labctl_module():
    loader = importlib.machinery.SourceFileLoader("labctl_under_test", str(LABCTL))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def run_base():
    # Short: Salt's socket paths under a run must stay below 107 characters.
    base = Path(tempfile.mkdtemp(prefix="lur", dir="/tmp"))
    try:
        yield base
    finally:
        for run_dir in list_runs(base):
            with contextlib.suppress(Exception):
                teardown_run(run_dir)
        shutil.rmtree(base, ignore_errors=True)


def labctl(run_base, *args, timeout=300):
    env = dict(
        os.environ,
        LAB_RUN_BASE=str(run_base),
        LUSTRE_UPGRADE_VENV=os.environ.get("LUSTRE_UPGRADE_VENV", sys.prefix),
    )
    env.pop("LAB_RUN", None)
    return subprocess.run(
        [sys.executable, str(LABCTL), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def fake_run(directory, run_id, processes=None, netns=()):
    """A run directory as `up` leaves it before anything is started (state only)."""
    directory.mkdir(parents=True, mode=0o700)
    state = {
        "run_id": run_id,
        "netns": list(netns),
        "processes": processes or {},
        "host": {},
        "notes": {},
    }
    (directory / "state.json").write_text(json.dumps(state))
    return directory


@pytest.fixture
def bystander():
    """A process of no run (host network namespace, no run directory in its command)."""
    proc = subprocess.Popen(["sleep", "600"])
    try:
        yield {"pid": proc.pid, "start": process_start_time(proc.pid)}
    finally:
        proc.kill()
        proc.wait()


def _alive(proc):
    return process_start_time(proc["pid"]) == proc["start"]


# --- without a lab ------------------------------------------------------------------------


def test_only_a_directory_named_by_its_run_id_with_its_own_state_is_a_run(run_base):
    run = fake_run(run_base / RUN_A, RUN_A)
    state = (run / "state.json").read_text()
    # A logs folder of the old layout, holding a copy of the run's state.
    (run_base / f"{RUN_A}-logs").mkdir()
    (run_base / f"{RUN_A}-logs" / "state.json").write_text(state)
    # A run id directory holding another run's state; a name that is no run id.
    (run_base / RUN_B).mkdir()
    (run_base / RUN_B / "state.json").write_text(state)
    fake_run(run_base / "logs", "logs")
    assert list_runs(run_base) == [run]
    assert Lab.find_run(run_base=run_base) == run


def test_down_of_a_folder_that_is_not_a_run_is_refused_and_ends_nothing(run_base, bystander):
    logs = fake_run(run_base / f"{RUN_A}-logs", RUN_A, processes={"node:oss1-a": bystander})
    result = labctl(run_base, "--run", logs.name, "down")
    assert result.returncode != 0
    assert "not a run id" in result.stderr
    with pytest.raises(LabError, match="not a lab run"):
        teardown_run(logs)
    assert _alive(bystander)
    assert (logs / "state.json").exists()


def test_down_ends_only_processes_of_its_own_run(run_base, bystander):
    run = fake_run(run_base / RUN_A, RUN_A, processes={"node:oss1-a": bystander})
    teardown_run(run)
    assert _alive(bystander)
    assert not run.exists()


def test_a_state_naming_another_runs_namespace_is_no_run_and_down_refuses_it(run_base, bystander):
    run = fake_run(
        run_base / RUN_A, RUN_A, processes={"labd": bystander}, netns=[f"lul-{RUN_B}-hub"]
    )
    with pytest.raises(LabError, match="not a lab run"):
        teardown_run(run)
    assert _alive(bystander)


def test_run_is_accepted_after_the_command_and_the_message_says_so(run_base):
    fake_run(run_base / RUN_A, RUN_A)
    fake_run(run_base / RUN_B, RUN_B)
    status = labctl(run_base, "status")
    assert status.returncode != 0
    assert f"several lab runs under {run_base} ({RUN_A}, {RUN_B})" in status.stderr
    assert "--run RUN_ID, before or after the command" in status.stderr

    down = labctl(run_base, "down", "--run", RUN_A)
    assert down.returncode == 0, down.stderr
    assert [r.name for r in list_runs(run_base)] == [RUN_B]


def test_status_of_a_run_that_never_finished_starting_says_how_to_remove_it(run_base):
    fake_run(run_base / RUN_A, RUN_A)
    status = labctl(run_base, "status")
    assert status.returncode == 1
    assert f"lab/labctl down --run {RUN_A}" in status.stderr
    assert "Traceback" not in status.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["salt-key", "-L"], (None, "salt-key", ["-L"])),
        (
            ["--run", RUN_A, "salt", "*", "test.ping", "-t", "5"],
            (RUN_A, "salt", ["*", "test.ping", "-t", "5"]),
        ),
        (["salt-run", "--run", RUN_A, "--doc"], (RUN_A, "salt-run", ["--doc"])),
        (
            ["salt-call", "--", "--local", "test.ping"],
            (None, "salt-call", ["--local", "test.ping"]),
        ),
    ],
    ids=["options", "run-before", "run-after", "double-dash"],
)
def test_the_master_clis_take_their_own_options_after_their_name(argv, expected):
    args = _labctl_module().parse(argv)
    assert (args.run, args.command, args.args) == expected


# --- two real runs ------------------------------------------------------------------------


def _netns():
    return set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()


def _own_processes(lab):
    return {role: p for role, p in lab.state.read()["processes"].items() if _alive(p)}


def test_two_runs_and_a_logs_folder_down_of_each_touches_only_its_own_run(
    run_base, monkeypatch, lab_session
):
    monkeypatch.setenv("LAB_RUN_BASE", str(run_base))
    monkeypatch.delenv("LAB_RUN", raising=False)
    first = Lab.up(venv=lab_session.venv)
    second = Lab.up(venv=lab_session.venv)
    first_netns, second_netns = set(first.state.read()["netns"]), set(second.state.read()["netns"])
    second_processes = _own_processes(second)
    assert first_netns and second_netns and not first_netns & second_netns
    assert {f"node:{n.minion}" for n in second.spec.nodes} <= set(second_processes)

    # Logs of the first run, where `labctl logs` writes them by default.
    logs = labctl(run_base, "--run", first.run_id, "logs")
    assert logs.returncode == 0, logs.stderr
    logs_dir = Path(logs.stdout.strip().splitlines()[-1])
    assert logs_dir == run_base / "logs" / first.run_id
    assert (logs_dir / "run-state.json").exists() and not (logs_dir / "state.json").exists()
    # And a logs folder of the old layout beside the runs, with a copy of the state.
    old_logs = run_base / f"{first.run_id}-logs"
    old_logs.mkdir()
    shutil.copy2(first.run_dir / "state.json", old_logs / "state.json")

    status = labctl(run_base, "status")
    assert status.returncode == 1
    listed = re.search(r"several lab runs under \S+ \(([^)]*)\)", status.stderr)
    assert listed and set(listed.group(1).split(", ")) == {first.run_id, second.run_id}

    first_processes = _own_processes(first)
    refused = labctl(run_base, "--run", old_logs.name, "down")
    assert refused.returncode != 0 and "not a run id" in refused.stderr
    assert all(_alive(p) for p in first_processes.values())
    assert first_netns <= _netns()

    down = labctl(run_base, "down", "--run", first.run_id)
    assert down.returncode == 0, down.stderr
    assert not first.run_dir.exists()
    assert not first_netns & _netns()
    assert second_netns <= _netns()
    assert all(_alive(p) for p in second_processes.values())

    # The second run is now the only one: a logs folder is none.
    keys = labctl(run_base, "salt-key", "-L")
    assert keys.returncode == 0, keys.stderr
    assert {n.minion for n in second.spec.nodes} <= set(keys.stdout.split())
    status = labctl(run_base, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["run_id"] == second.run_id

    down = labctl(run_base, "down")
    assert down.returncode == 0, down.stderr
    assert not second.run_dir.exists()
    assert not second_netns & _netns()
    assert not any(_alive(p) for p in second_processes.values())
    assert (logs_dir / "run-state.json").exists() and (old_logs / "state.json").exists()
