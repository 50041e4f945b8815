"""On the lab's old (EL6) pair: `orch.upgrade_pair` refuses before any change, naming each
finding and what clears it: a banned target, a node in standby, a failed action, a
stopped target, a minion that does not answer."""

import json

import pytest

from tests.lab.support import wait_for
from tests.lab.upgrade_support import cib_epochs, orchestrate, phase_results, status

pytestmark = pytest.mark.lab


def on_node(lab, minion, *argv):
    result = lab.node_exec(minion, list(argv))
    assert result.returncode == 0, (argv, result.stdout, result.stderr)


def refused(lab):
    """The run's preflight comment; the run stopped there with nothing changed."""
    result, data = orchestrate(lab)
    assert result.returncode != 0, result.stdout
    results = phase_results(data)
    assert list(results) == ["preflight"], list(results)  # failhard: nothing after it
    assert results["preflight"]["result"] is False
    assert status(lab)["started"] is False
    for node in lab.spec.nodes:
        got = lab.salt_run("--out=json", "lustre_upgrade.backups", node.minion)
        assert json.loads(got.stdout) == [], got.stdout
    return results["preflight"]["comment"]


def test_the_preflight_names_every_problem_of_the_old_cluster(lab, lab_session):
    lab_session.mark_dirty()  # the faults below are not the lab's baseline
    a, b = lab.spec.nodes
    by_name = {t.name: t.resource for t in lab.spec.targets}
    mdt, ost0, ost1, mgs = (
        by_name["labfs-MDT0000"],
        by_name["labfs-OST0000"],
        by_name["labfs-OST0001"],
        by_name["MGS"],
    )
    on_node(lab, a.minion, "crm_resource", "--ban", "--resource", mdt, "--node", b.old_name)
    on_node(lab, a.minion, "crm_resource", "--resource", ost1, "--meta", "--set-parameter",
            "target-role", "--parameter-value", "Stopped")  # fmt: skip
    on_node(lab, a.minion, "crm_resource", "--fail", "--resource", mgs, "--node", a.old_name)
    on_node(lab, a.minion, "crm_attribute", "--type", "nodes", "--node", b.old_name,
            "--name", "standby", "--update", "on")  # fmt: skip
    assert wait_for(lambda: lab.placement().get("labfs-OST0000") == [a.old_name], timeout=120)
    before = cib_epochs(lab)

    comment = refused(lab)
    assert (
        f"cli-ban-{mdt}-on-{b.old_name}" in comment
        and f"crm_resource --clear --resource {mdt}" in comment
    )
    assert f"node {b.old_name} is in standby" in comment
    assert f"failed action {mgs}" in comment and "crm_resource --cleanup" in comment
    assert f"{ost1}" in comment and "target-role" in comment
    assert ost0 not in comment  # it runs, once, on the node that is not in standby
    assert cib_epochs(lab) == before


def test_the_preflight_names_a_minion_that_does_not_answer(lab, lab_session):
    b = lab.spec.nodes[1]
    lab_session.mark_dirty()
    on_node(lab, b.minion, "service", "salt-minion", "stop")
    before = cib_epochs(lab)
    comment = refused(lab)
    assert f"minion {b.minion} did not answer" in comment
    assert cib_epochs(lab) == before
