"""The user's command on the lab, end to end: `salt-run state.orch orch.upgrade_pair
pillar='{pair: oss1}'` with the lab's rebuild as the pillar's command hook. First its plan
(test=True) changes nothing; then the run upgrades the pair with every target served by
one node at a time; a second run changes nothing; the report and the master's job
records tell what happened. The tests run in order on one lab."""

import json
import time

import pytest
from lxml import etree

from tests.lab.upgrade_support import (
    EXTENSION_MODULES,
    EventWatch,
    assert_upgraded,
    cib_epochs,
    fence_password,
    jobs_on,
    master_files_holding,
    orchestrate,
    phase_results,
    status,
)

pytestmark = pytest.mark.lab

PHASES = [
    "preflight",
    "backup",
    "evacuate-node1",
    "rebuild-node1",
    "install-node1",
    "new-cluster",
    "cutover",
    "rebuild-node2",
    "install-node2",
    "join-node2",
    "rebalance",
    "fencing",
    "verify",
]


def test_the_plan_lists_every_phase_and_changes_nothing(own_lab):
    lab = own_lab
    before = cib_epochs(lab)
    files = {
        n.minion: lab.node_exec(n.minion, ["ls", "-la", "/var/lib", "/etc"]).stdout
        for n in lab.spec.nodes
    }
    result, data = orchestrate(lab, test=True)
    assert result.returncode == 0, result.stdout + result.stderr
    results = phase_results(data)
    assert list(results) == PHASES
    for name, ret in results.items():
        assert ret["result"] in (None, True), (name, ret["comment"])
        assert ret["changes"].get(name), (name, ret)  # the steps it would run
    assert "crm_attribute --type nodes --node oss1-a --name standby --update on" in json.dumps(
        results["evacuate-node1"]
    )
    assert cib_epochs(lab) == before
    assert status(lab)["started"] is False
    for node in lab.spec.nodes:
        assert (
            lab.node_exec(node.minion, ["ls", "-la", "/var/lib", "/etc"]).stdout
            == files[node.minion]
        )


def test_the_pair_is_upgraded_end_to_end(own_lab, tmp_path):
    lab = own_lab
    since = time.time()
    events = EventWatch(lab, tmp_path / "events.log")
    result, data = orchestrate(lab)
    fired = events.stop()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    results = phase_results(data)
    assert list(results) == PHASES
    assert all(ret["result"] is True for ret in results.values()), results
    assert_upgraded(lab, since=since)

    # Phase 4 of each node fetched the manager's repository file and its agent packages from
    # the manager node, with the node's IML client certificate (its FQDN is the CN).
    access = lab.node_exec(
        lab.spec.manager_minion, ["cat", "/var/log/chroma/access.log"], check=True
    ).stdout.splitlines()
    for node in lab.spec.nodes:
        fetched = [line.split()[2:] for line in access if line.split()[2:3] == [node.fqdn]]
        assert [node.fqdn, "GET", "/repo/Manager-for-Lustre.repo", "200"] in fetched, access
        rpms = [f[2] for f in fetched if f[1:2] == ["GET"] and f[3:] == ["200"]]
        assert any(p.startswith("/repo/iml-agent/7/chroma-agent-4.") for p in rpms), access

    tags = [tag for tag, _data in fired]
    for name in PHASES[1:]:
        node = {"1": "oss1-a", "2": "oss1-b"}.get(name[-1], "oss1")
        node = "oss1-a" if name == "new-cluster" else "oss1-b" if name == "cutover" else node
        assert f"lustre/upgrade/oss1/{node}/{name}/start" in tags, (name, tags)
        assert f"lustre/upgrade/oss1/{node}/{name}/done" in tags, (name, tags)
    for node, phase in (("oss1-a", "rebuild-node1"), ("oss1-b", "rebuild-node2")):
        verified = [d for t, d in fired if t == f"lustre/upgrade/oss1/{node}/{phase}/verified"]
        assert verified and verified[-1]["result"] is True, fired
        assert f"lustre/upgrade/oss1/{node}/{phase}/key-accepted" in tags

    # No secret in the run's returns, events, report, status, job cache or master log.
    secrets = [lab.spec.hacluster_password, fence_password(lab)]
    report = lab.salt_run("--out=json", "lustre_upgrade.report", "pair=oss1").stdout
    state = lab.salt_run("--out=json", "lustre_upgrade.status", "pair=oss1").stdout
    for secret in secrets:
        for where, text in (
            ("orchestration", result.stdout + result.stderr),
            ("events", json.dumps(fired)),
            ("report", report),
            ("status", state),
        ):
            assert secret not in text, where
        assert master_files_holding(lab, secret) == []


def test_a_second_run_changes_nothing(own_lab):
    result, data = orchestrate(own_lab)
    assert result.returncode == 0, result.stdout + result.stderr
    results = phase_results(data)
    assert list(results) == PHASES
    assert {name: ret["changes"] for name, ret in results.items()} == {n: {} for n in PHASES}


def test_the_report_gives_the_timeline_the_outages_and_the_placement(own_lab):
    lab = own_lab
    got = lab.salt_run("--out=json", "lustre_upgrade.report", "pair=oss1")
    assert got.returncode == 0, got.stdout + got.stderr
    report = json.loads(got.stdout)
    assert report["pair"] == "oss1" and report["completed"] is True
    assert [p["name"] for p in report["phases"]] == PHASES
    assert all(p["result"] == "done" and p["start"] <= p["end"] for p in report["phases"])
    for target in lab.spec.targets:
        entry = report["targets"][target.resource]
        primary = lab.spec.node(str(target.primary)).fqdn
        assert entry["node"] == primary and entry["preferred"] == primary, entry
        # Node 1's targets are out when node 1 is evacuated and at the cutover; node 2's at
        # the cutover and when the rebalance takes them home.
        phases = {1: ["evacuate-node1", "cutover"], 2: ["cutover", "rebalance"]}
        assert [o["phase"] for o in entry["outages"]] == phases[target.primary], entry
    text = lab.salt_run("lustre_upgrade.report", "pair=oss1").stdout
    assert "Upgrade of pair oss1: completed" in text


def test_no_extension_function_ran_on_a_node_before_its_rebuild(own_lab):
    lab = own_lab
    ledger = status(lab)
    assert ledger["completed"] is True
    for node in lab.spec.nodes:
        handed_off = ledger["nodes"][node.minion]["handed_off"]
        before = [job for job in jobs_on(lab, node.minion) if job["start"] < handed_off]
        assert before, "the master's job cache shows no job on the node before its rebuild"
        called = sorted({job["fun"] for job in before})
        assert not [f for f in called if f.split(".")[0] in EXTENSION_MODULES], called
        assert "cmd.run_all" in called
        after = [job for job in jobs_on(lab, node.minion) if job["start"] > handed_off]
        assert any(job["fun"].startswith("state.") for job in after), after


def test_the_new_cluster_keeps_the_original_constraint_ids(own_lab):
    lab = own_lab
    first = lab.spec.nodes[0]
    xml = lab.node_exec(first.minion, ["cibadmin", "--query"], check=True).stdout
    root = etree.fromstring(xml.encode())
    fqdns = {n.fqdn for n in lab.spec.nodes}
    for target in lab.spec.targets:
        for suffix in ("primary", "secondary"):
            (loc,) = root.xpath(f"//rsc_location[@id='{target.resource}-{suffix}']")
            assert loc.get("node") in fqdns
