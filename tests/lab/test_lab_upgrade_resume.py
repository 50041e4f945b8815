"""The user's command killed (SIGKILL) at four points of a pair's upgrade, each time run
again: after the backups, while node 1's targets leave it, after node 1's rebuild and
before its restore, and between two targets of the cutover. Each rerun resumes where the
ledger says and the pair ends upgraded as an uninterrupted run leaves it."""

import pytest

from tests.lab.upgrade_support import (
    assert_upgraded,
    kill_when,
    orchestrate,
    phase_results,
    phase_status,
    start_orchestration,
    status,
)

pytestmark = pytest.mark.lab


def after_backups(seen):
    return phase_status(seen, "backup") == "done"


def while_evacuating(seen):
    return phase_status(seen, "evacuate-node1") == "running"


def node1_rebuilt_not_restored(seen):
    return phase_status(seen, "rebuild-node1") == "done"


def between_two_targets(seen):
    progress = (seen or {}).get("cutover") or {}
    started = [t for t, p in progress.items() if p.get("started")]
    return len(started) == 1


@pytest.mark.parametrize(
    "kill_points",
    [[after_backups, while_evacuating, node1_rebuilt_not_restored, between_two_targets]],
    ids=["four-kills"],
)
def test_a_killed_run_resumes_and_ends_with_the_pair_upgraded(
    own_lab, since, tmp_path, kill_points
):
    lab = own_lab
    seen = []
    for number, point in enumerate(kill_points):
        proc = start_orchestration(lab, tmp_path / f"run{number}.log")
        seen.append(kill_when(lab, proc, point))
        assert status(lab)["running"] is None  # the kernel released the killed run's lock
    # The kills landed where they were meant to.
    assert phase_status(seen[0], "evacuate-node1") in ("pending", "running")
    assert phase_status(seen[1], "evacuate-node1") == "running"
    assert phase_status(seen[2], "install-node1") in ("pending", "running")
    assert sum(bool(p.get("started")) for p in seen[3]["cutover"].values()) == 1

    result, data = orchestrate(lab)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert all(ret["result"] is True for ret in phase_results(data).values())
    assert status(lab)["completed"] is True
    assert_upgraded(lab, since=since)
    again, data = orchestrate(lab)
    assert again.returncode == 0
    assert all(ret["changes"] == {} for ret in phase_results(data).values())
