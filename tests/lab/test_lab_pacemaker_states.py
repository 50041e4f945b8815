"""The pacemaker states against the lab's running cluster: standby, online, rebalance and
placement, with the real daemons, the prober watching every target. The states are the
product's EL7 side: the pair runs its EL7 life here (lab.toml [lab] life = "el7"), and its
minions get what the product's server states give them first (lxml), then its modules."""

import pytest

pytestmark = pytest.mark.lab

LAB_OVERRIDES = {"lab": {"life": "el7"}}


def state(lab, minion, function, *args, test=False):
    argv = ["-t", "300", minion, "state.single", f"pacemaker.{function}", *args]
    if test:
        argv.append("test=True")
    ret = lab.salt_json(*argv, timeout=300)
    assert isinstance(ret[minion], dict), ret[minion]
    (result,) = ret[minion].values()
    return result


@pytest.fixture
def synced(own_lab):
    lab = own_lab
    lab.restore_baseline()
    pair = ",".join(n.minion for n in lab.spec.nodes)
    for name in ("epel-release", "python36-lxml"):
        installed = lab.salt_json(
            "-L", pair, "state.single", "pkg.installed", f"name={name}", timeout=300
        )
        for node in lab.spec.nodes:
            (ret,) = installed[node.minion].values()
            assert ret["result"] is True, ret
    ret = lab.salt_json("-L", pair, "saltutil.sync_all", timeout=300)
    assert set(ret) == {n.minion for n in lab.spec.nodes}
    return lab


def test_standby_online_and_rebalance_move_targets_once_each(synced, since):
    lab = synced
    a, b = lab.spec.nodes
    on_a = sorted(t for t, nodes in lab.placement().items() if nodes == [a.old_name])
    assert on_a, "the baseline puts some targets on the first node"

    planned = state(lab, a.minion, "node_standby", f"name={a.old_name}", test=True)
    assert planned["result"] is None and planned["changes"]
    assert sorted(t for t, n in lab.placement().items() if n == [a.old_name]) == on_a

    done = state(lab, a.minion, "node_standby", f"name={a.old_name}")
    assert done["result"] is True, done["comment"]
    assert all(nodes == [b.old_name] for nodes in lab.placement().values())
    again = state(lab, a.minion, "node_standby", f"name={a.old_name}")
    assert again["result"] is True and again["changes"] == {}

    online = state(lab, a.minion, "node_online", f"name={a.old_name}")
    assert online["result"] is True and online["changes"]
    # Stickiness (1000) outweighs the preference (20): nothing moves back by itself.
    assert all(nodes == [b.old_name] for nodes in lab.placement().values())

    unsettled = state(lab, b.minion, "placement_settled", "name=targets", "timeout=5")
    assert unsettled["result"] is False

    plan = state(lab, b.minion, "rebalanced", "name=targets", test=True)
    assert plan["result"] is None
    rebalanced = state(lab, b.minion, "rebalanced", "name=targets")
    assert rebalanced["result"] is True, rebalanced["comment"]
    assert lab.placement() == lab.preferred_placement()
    settled = state(lab, b.minion, "placement_settled", "name=targets", "timeout=30")
    assert settled["result"] is True and settled["changes"] == {}
    assert state(lab, b.minion, "rebalanced", "name=targets")["changes"] == {}

    availability = lab.availability(since)
    for target in on_a:
        # Away at standby, back at the rebalance: two outages, never served twice.
        assert len(availability[target].outages) == 2, availability[target].as_dict()
    for avail in availability.values():
        assert avail.double_service == []
    assert lab.violations(since) == []
    constraints = lab.node_exec(a.minion, ["cibadmin", "--query", "--scope", "constraints"])
    assert "cli-" not in constraints.stdout and "pcs-relocate" not in constraints.stdout
