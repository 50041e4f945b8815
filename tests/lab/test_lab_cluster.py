"""The lab's old IML cluster runs for real: failover, fencing, the double-mount detector."""

import json
import time

import pytest
from lxml import etree

pytestmark = pytest.mark.lab


def _wait(predicate, timeout=90, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def test_minions_answer_from_both_nodes_and_the_manager(lab):
    ping = lab.salt_json("*", "test.ping")
    assert ping == {m.minion: True for m in lab.spec.machines}
    assert lab.spec.manager.minion in ping


def test_old_cluster_has_the_shape_iml_gave_el6_clusters(lab):
    first = lab.spec.nodes[0]
    cib = etree.fromstring(lab.node_exec(first.minion, ["cibadmin", "--query"], check=True).stdout)

    node_names = sorted(n.get("uname") for n in cib.iterfind(".//configuration/nodes/node"))
    assert node_names == sorted(n.old_name for n in lab.spec.nodes)
    stonith = cib.find(".//primitive[@id='st-fencing']")
    assert (stonith.get("class"), stonith.get("type")) == ("stonith", "fence_chroma")
    for node in cib.iterfind(".//configuration/nodes/node"):
        attrs = {nv.get("name"): nv.get("value") for nv in node.iter("nvpair")}
        assert attrs["0_fence_agent"] == "fence_lab"
        assert attrs["0_fence_password"]
    for target in lab.spec.targets:
        rsc = cib.find(f".//primitive[@id='{target.resource}']")
        assert (rsc.get("class"), rsc.get("provider"), rsc.get("type")) == (
            "ocf",
            "chroma",
            "Target",
        )
        assert rsc.find(".//instance_attributes/nvpair[@name='target']").get("value") == target.uuid
        ops = {op.get("name"): (op.get("interval"), op.get("timeout")) for op in rsc.iter("op")}
        assert ops == {"monitor": ("5", "60"), "start": ("0", "300"), "stop": ("0", "300")}
        primary = cib.find(f".//rsc_location[@id='{target.resource}-primary']")
        secondary = cib.find(f".//rsc_location[@id='{target.resource}-secondary']")
        assert (primary.get("score"), secondary.get("score")) == ("20", "10")
        assert primary.get("node") == lab.spec.node(str(target.primary)).old_name
    defaults = {nv.get("name"): nv.get("value") for nv in cib.iterfind(".//rsc_defaults//nvpair")}
    assert defaults["resource-stickiness"] == "1000"

    record = lab.node_exec(
        first.minion, ["cat", f"/var/lib/chroma/targets/{lab.spec.targets[0].uuid}"], check=True
    ).stdout
    assert json.loads(record)["mntpt"] == lab.spec.targets[0].mntpt
    # Every file the runbook's backup script takes.
    backed_up = [
        "/var/lib/chroma",
        "/etc/sysconfig/network",
        "/etc/yum.conf",
        "/etc/yum.repos.d",
        "/etc/hosts",
        "/etc/passwd",
        "/etc/group",
        "/etc/shadow",
        "/etc/gshadow",
        "/etc/sudoers",
        "/etc/resolv.conf",
        "/etc/nsswitch.conf",
        "/etc/rsyslog.conf",
        "/etc/ntp.conf",
        "/etc/selinux/config",
        "/etc/modprobe.d/iml_lnet_module_parameters.conf",
        "/etc/corosync/corosync.conf",
        "/etc/ssh",
        "/root/.ssh",
    ]
    listing = lab.node_exec(first.minion, ["ls", "-d", *backed_up])
    assert listing.returncode == 0, listing.stderr
    ifcfg = lab.node_exec(first.minion, ["sh", "-c", "ls /etc/sysconfig/network-scripts/ifcfg-*"])
    assert ifcfg.returncode == 0
    assert lab.node_exec(first.minion, ["uname", "-n"]).stdout.strip() == first.old_name


def test_standby_moves_the_targets_to_the_peer_and_the_prober_sees_each_outage(lab, since):
    first, second = lab.spec.nodes
    moved = [t for t in lab.spec.targets if t.primary == first.index]

    lab.node_exec(
        first.minion,
        ["pcs", "node", "standby", first.old_name, "--wait=120"],
        check=True,
        timeout=150,
    )
    placement = lab.placement()
    time.sleep(0.5)  # a few more prober samples after the move
    availability = lab.availability(since=since)

    for target in lab.spec.targets:
        assert placement[target.name] == [second.old_name]
    for target in moved:
        avail = availability[target.name]
        assert len(avail.outages) == 1, avail.as_dict()
        assert avail.outages[0].duration > 0
        assert avail.served_by == (second.minion,)
        assert not avail.double_service
    for target in lab.spec.targets:
        if target not in moved:
            assert availability[target.name].outages == []
    assert lab.violations(since=since) == []


def test_fence_chroma_powers_the_victim_off(lab, since):
    first, second = lab.spec.nodes

    result = lab.node_exec(
        first.minion, ["stonith_admin", "--fence", second.old_name, "--timeout", "60"], timeout=90
    )

    assert result.returncode == 0, result.stderr
    assert lab.node_pid(second.minion) is None  # its PID 1, hence every process of it, is gone
    status = _wait(
        lambda: (
            (s := lab.crm_status(first.minion))
            and s["nodes"][second.old_name]["online"] is False
            and s
        )
    )
    assert status["nodes"][second.old_name]["online"] is False
    settled = _wait(lambda: all(p == [first.old_name] for p in lab.placement().values()))
    assert settled, lab.placement()
    history = lab.node_exec(first.minion, ["stonith_admin", "--history", second.old_name]).stdout
    assert "successful" in history or "off" in history
    # Its targets died with it, held: like ldiskfs MMP, the survivor's mount waited first.
    report = lab.report(since)
    for target in lab.spec.targets:
        if target.primary == second.index:
            assert report["targets"][target.name]["mmp_waits"] == [first.minion], report


def test_a_fenced_node_powers_on_again_only_after_its_fence_completed(lab, since):
    first, second = lab.spec.nodes

    result = lab.node_exec(
        first.minion, ["stonith_admin", "--reboot", second.old_name, "--timeout", "60"], timeout=90
    )

    assert result.returncode == 0, result.stderr
    # The fence has returned; the victim is still off (its firmware takes a while).
    assert lab.node_pid(second.minion) is None
    assert _wait(lambda: lab.node_pid(second.minion) is not None, timeout=60)
    events = [e for e in lab.power_events(since) if e["node"] == second.minion]
    assert [(e["action"], e["by"]) for e in events] == [("off", "pdu"), ("on", "pdu")], events
    assert events[1]["t"] - events[0]["t"] >= lab.spec.fence_power_on_delay
    lab.wait_cluster_settled()


def test_forced_start_on_the_second_node_is_refused_and_recorded(lab, since):
    first, second = lab.spec.nodes
    target = next(t for t in lab.spec.targets if t.primary == first.index)

    # Bypass Pacemaker: run the agent's start on the node that does not hold the target.
    result = lab.node_exec(second.minion, ["crm_resource", "--force-start", "-r", target.resource])

    assert result.returncode != 0
    violations = lab.violations(since=since)
    assert len(violations) == 1
    assert violations[0]["target"] == target.name
    assert violations[0]["node"] == second.old_name
    assert violations[0]["holder"]["node"] == first.old_name
    # The detector did its job: the target never ran twice.
    availability = lab.availability(since=since)
    assert availability[target.name].double_service == []
    assert availability[target.name].served_by == (first.minion,)
    # The lab's report counts both: what the prober saw and what the agent refused.
    report = lab.report(since)
    assert report["targets"][target.name]["refused_double_starts"] == 1
    assert report["targets"][target.name]["double_service"] == []
    assert report["refused_double_starts"] == 1 and report["double_service"] == 0
