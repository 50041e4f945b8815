"""The pair's ledger on the master: resume at the first phase not done, one run at a time."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from lustre_upgrade_lib import upgrade_ledger as ledger_lib

NODES = [{"minion": "oss1-a"}, {"minion": "oss1-b"}]


@pytest.fixture
def paths(tmp_path):
    return {"ledger": str(tmp_path / "ledgers" / "oss1.json"), "lock": str(tmp_path / "oss1.lock")}


def test_the_phases_read_like_the_runbooks_table_of_contents():
    assert ledger_lib.PHASE_NAMES == (
        "preflight", "backup", "evacuate-node1", "rebuild-node1", "install-node1",
        "new-cluster", "cutover", "rebuild-node2", "install-node2", "join-node2",
        "rebalance", "fencing", "verify",
    )  # fmt: skip


def test_a_pair_that_never_started_has_no_ledger(paths):
    assert ledger_lib.load(paths["ledger"]) is None


def test_a_rerun_resumes_at_the_first_phase_not_done(paths):
    ledger = ledger_lib.new("oss1", NODES, now=100)
    for name in ("preflight", "backup"):
        ledger_lib.start(ledger, name, now=101)
        ledger_lib.finish(ledger, name, ledger_lib.DONE, {"ok": True}, now=102)
    ledger_lib.start(ledger, "evacuate-node1", now=103)
    ledger_lib.save(paths["ledger"], ledger)  # the run is killed here

    again = ledger_lib.load(paths["ledger"])
    assert again == ledger
    assert ledger_lib.next_phase(again) == "evacuate-node1"
    assert ledger_lib.phase(again, "evacuate-node1")["status"] == ledger_lib.RUNNING
    ledger_lib.start(again, "evacuate-node1", now=104)  # an interrupted phase runs again
    assert ledger_lib.phase(again, "evacuate-node1")["start"] == 104


def test_a_phase_cannot_start_before_the_ones_it_follows(paths):
    ledger = ledger_lib.new("oss1", NODES)
    with pytest.raises(CommandExecutionError, match="phase preflight of pair oss1 is not done"):
        ledger_lib.start(ledger, "cutover")


def test_a_completed_run_is_complete_and_a_done_phase_may_be_read_again():
    ledger = ledger_lib.new("oss1", NODES)
    for name in ledger_lib.PHASE_NAMES:
        ledger_lib.start(ledger, name)
        ledger_lib.finish(ledger, name, ledger_lib.DONE)
    assert ledger["completed"] is True
    assert ledger_lib.next_phase(ledger) is None


def test_a_waiting_phase_is_where_the_run_resumes():
    ledger = ledger_lib.new("oss1", NODES)
    for name in ("preflight", "backup", "evacuate-node1"):
        ledger_lib.start(ledger, name)
        ledger_lib.finish(ledger, name, ledger_lib.DONE)
    ledger_lib.start(ledger, "rebuild-node1")
    ledger_lib.finish(ledger, "rebuild-node1", ledger_lib.WAITING, {"hook": "manual"})
    assert ledger_lib.next_phase(ledger) == "rebuild-node1"
    assert ledger["completed"] is False


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "is damaged"), (json.dumps({"format": 0}), "not a format-1 ledger")],
)
def test_a_damaged_or_foreign_ledger_is_refused_naming_the_file(paths, content, message):
    ledger_lib.save(paths["ledger"], ledger_lib.new("oss1", NODES))
    with open(paths["ledger"], "w") as fh:
        fh.write(content)
    with pytest.raises(CommandExecutionError, match=message) as err:
        ledger_lib.load(paths["ledger"])
    assert paths["ledger"] in str(err.value)


def test_the_ledger_is_root_only(paths):
    import os

    ledger_lib.save(paths["ledger"], ledger_lib.new("oss1", NODES))
    assert os.stat(paths["ledger"]).st_mode & 0o777 == 0o600


def test_bad_phase_names_and_statuses_are_refused():
    ledger = ledger_lib.new("oss1", NODES)
    with pytest.raises(SaltInvocationError, match="unknown phase 'reboot'"):
        ledger_lib.phase(ledger, "reboot")
    with pytest.raises(SaltInvocationError, match="not 'running'"):
        ledger_lib.finish(ledger, "preflight", ledger_lib.RUNNING)


def test_outages_are_kept_per_target():
    ledger = ledger_lib.new("oss1", NODES)
    ledger_lib.note_outage(ledger, "MGS_32834e", "oss1-a.lfs.example", 10.0, 12.5, "cutover")
    ledger_lib.note_outage(ledger, "MGS_32834e", "oss1-b.lfs.example", 20.0, 21.0)
    assert ledger["targets"]["MGS_32834e"] == {
        "node": "oss1-b.lfs.example",
        "outages": [
            {"stopped": 10.0, "started": 12.5, "phase": "cutover"},
            {"stopped": 20.0, "started": 21.0, "phase": None},
        ],
    }


HOLD = """
import sys, time
sys.path.insert(0, sys.argv[2])
from lustre_upgrade_lib import upgrade_ledger
upgrade_ledger.acquire(sys.argv[1], "run-a")
print("held", flush=True)
time.sleep(60)
"""


def _holding_process(lock):
    utils = str(Path(ledger_lib.__file__).parents[1])
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, lock, utils], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_live_run_holds_the_pair_and_a_second_run_is_refused(paths):
    other = _holding_process(paths["lock"])
    try:
        assert ledger_lib.holder(paths["lock"])["run"] == "run-a"
        with pytest.raises(CommandExecutionError, match=f"run-a, process {other.pid}"):
            ledger_lib.acquire(paths["lock"], "run-b")
        assert ledger_lib.release(paths["lock"], "run-b") is False
    finally:
        other.kill()
        other.wait()


def test_the_lock_of_a_killed_run_is_taken_over_and_held_for_the_process(paths):
    other = _holding_process(paths["lock"])
    other.kill()
    other.wait()
    assert ledger_lib.holder(paths["lock"]) is None
    record = ledger_lib.acquire(paths["lock"], "run-b")
    assert record["run"] == "run-b" and record["pid"] == os.getpid()
    assert ledger_lib.acquire(paths["lock"], "run-b")["run"] == "run-b"  # again: no-op
    assert ledger_lib.holder(paths["lock"])["run"] == "run-b"
    assert ledger_lib.release(paths["lock"], "run-b") is True
    assert ledger_lib.holder(paths["lock"]) is None
    assert oct(os.stat(paths["lock"]).st_mode & 0o777) == "0o600"
