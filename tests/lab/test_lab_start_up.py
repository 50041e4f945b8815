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


def test_up_recovers_a_node_fenced_while_the_cluster_comes_up(lab_session):
    lab_session.discard()  # one lab at a time
    injected = {}

    def fence_node_two_at_start_up(lab):
        first, second = lab.spec.nodes

        def joined():
            status = lab.crm_status(first.minion)
            return status and status["nodes"].get(second.old_name, {}).get("online")

        assert wait_for(joined, timeout=120), "node 2 never joined"
        # The cluster records node 2 as fenced while node 2 still runs: node 2's
        # Pacemaker learns it ("We were allegedly just fenced") and stops for good.
        confirm = ["stonith_admin", "--confirm", second.old_name]
        injected["fence"] = lab.node_exec(first.minion, confirm).returncode
        injected["stopped"] = bool(
            wait_for(
                lambda: (
                    lab.node_exec(second.minion, [UNITCTL, "is-active", "pacemaker"]).returncode
                    != 0
                ),
                timeout=60,
            )
        )

    lab = Lab.up(venv=lab_session.venv, before_ready=fence_node_two_at_start_up)
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
