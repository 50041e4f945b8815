"""`up` is reliable: a node fenced while the cluster comes up is brought back (powered on,
its cluster stack started again) instead of `up` waiting out its timeout, and a fenced
node boots only after its fence has completed (lab.toml [power] fence_power_on_delay)."""

import os
import subprocess
import sys
import time

import pytest
from lablib.lab import UNITCTL, Lab

from tests.lab.support import wait_for

pytestmark = pytest.mark.lab


def _fenced_by_the_cluster(lab, minion):
    """Whether the cluster's own start-up fence (dc-deadtime) powered `minion` off."""
    return any(e["node"] == minion and e["by"] == "pdu" for e in lab.power_events())


def test_up_recovers_a_node_fenced_while_the_cluster_comes_up(lab_session):
    lab_session.discard()  # one lab at a time
    # The injected fence needs a start-up the cluster did not already fence on its own
    # (the first node may fence the second before seeing it: "start-up fences" in
    # lab/README.md, which `up` survives too); such an `up` is taken down and done again.
    for _attempt in range(3):
        injected = {}

        def fence_node_two_at_start_up(lab, injected=injected):
            first, second = lab.spec.nodes

            def joined():
                status = lab.crm_status(first.minion)
                return status and status["nodes"].get(second.old_name, {}).get("online")

            assert wait_for(joined, timeout=120), "node 2 never joined"
            time.sleep(2)  # a fence already under way shows in the power log by now
            if _fenced_by_the_cluster(lab, second.minion):
                injected["natural"] = True
                return
            # The cluster records node 2 as fenced while node 2 still runs: node 2's
            # Pacemaker learns it ("We were allegedly just fenced") and stops for good.
            confirm = ["stonith_admin", "--confirm", second.old_name]
            injected["fence"] = lab.node_exec(first.minion, confirm).returncode

            def pacemaker_stopped():
                if _fenced_by_the_cluster(lab, second.minion):
                    injected["natural"] = True
                    return True
                state = lab.node_exec(second.minion, [UNITCTL, "is-active", "pacemaker"])
                return state.returncode != 0

            injected["stopped"] = bool(wait_for(pacemaker_stopped, timeout=60))

        lab = Lab.up(venv=lab_session.venv, before_ready=fence_node_two_at_start_up)
        if injected.get("natural"):
            lab.teardown()
            continue
        try:
            second = lab.spec.nodes[1]
            assert injected == {"fence": 0, "stopped": True}
            recoveries = lab.state.read()["notes"].get("up_recoveries", [])
            assert [(r["node"], r["action"]) for r in recoveries] == [
                (second.minion, "cluster started")
            ]
            log = lab.node_exec(second.minion, ["cat", "/var/log/pacemaker/pacemaker.log"]).stdout
            assert "We were allegedly just fenced" in log
            assert lab.placement() == lab.preferred_placement()
        finally:
            lab.teardown()
        return
    pytest.fail("three ups in a row were fenced by the cluster itself before the injection")


@pytest.mark.slow
def test_ten_ups_and_downs_beside_a_cpu_bound_load_all_succeed(lab_session):
    lab_session.discard()
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 2)
    ]
    times = []
    try:
        for _ in range(10):
            started = time.monotonic()
            lab = Lab.up(venv=lab_session.venv)
            times.append(round(time.monotonic() - started, 1))
            recoveries = lab.state.read()["notes"].get("up_recoveries", [])
            lab.teardown()
            print(f"up in {times[-1]} s, recoveries: {recoveries}")
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert len(times) == 10
