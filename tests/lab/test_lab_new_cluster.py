"""On the lab: node 1 backed up, evacuated, rebuilt, restored from its backup, and a new
one-node cluster built on it from the backed-up corosync.conf, while node 2's old cluster
keeps serving every target."""

import json

import pytest

pytestmark = pytest.mark.lab


def run_json(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def state(lab, minion, function, *args, test=False):
    argv = ["-t", "600", minion, "state.single", function, *args, *(["test=True"] if test else [])]
    ret = lab.salt_json(*argv, timeout=600)
    assert isinstance(ret[minion], dict), ret[minion]
    (result,) = ret[minion].values()
    return result


def test_rebuilt_node_one_gets_its_configuration_back_and_a_new_cluster(lab, lab_session, since):
    a, b = lab.spec.nodes
    lab.salt_json("*", "saltutil.sync_all")
    run_json(lab.salt_run("--out=json", "saltutil.sync_all"))
    backup = run_json(lab.salt_run("--out=json", "lustre_upgrade.backup_node", a.minion))
    assert backup["minion"] == a.minion and backup["kind"] == "server"

    evacuated = state(lab, a.minion, "pacemaker.node_standby", f"name={a.old_name}")
    assert evacuated["result"] is True, evacuated["comment"]

    lab_session.mark_dirty()
    lab.rebuild(a.minion)
    lab.wait_minions(minions=[a.minion])
    assert lab.node_exec(a.minion, ["test", "-e", "/etc/corosync/corosync.conf"]).returncode == 1
    lab.salt_json(a.minion, "saltutil.sync_all")

    delivered = run_json(lab.salt_run("--out=json", "lustre_upgrade.deliver_backup", a.minion))
    restored = lab.salt_json(
        a.minion,
        "node_backup.restore",
        delivered["path"],
        f"sha256={delivered['sha256']}",
        f"archive_sha256={delivered['archive_sha256']}",
    )[a.minion]
    assert "/etc/hosts" in restored["changed"], restored
    old_conf = f"{restored['staging']}/etc/corosync/corosync.conf"

    # The HA framework's own prerequisites (lustre.ha does these on a real node).
    password = lab.spec.hacluster_password
    lab.node_exec(a.minion, ["chpasswd"], input=f"hacluster:{password}\n", check=True)
    lab.node_exec(a.minion, ["systemctl", "start", "pcsd"], check=True)

    args = [
        "name=lustre-ha-cluster",
        f"nodes=[{a.fqdn}]",
        f"corosync_conf={old_conf}",
        f"rings={{{a.fqdn}: [{', '.join(a.rings)}]}}",
    ]
    planned = state(lab, a.minion, "pacemaker.cluster_present", *args, test=True)
    assert planned["result"] is None, planned["comment"]
    assert lab.node_exec(a.minion, ["test", "-e", "/etc/corosync/corosync.conf"]).returncode == 1

    built = state(lab, a.minion, "pacemaker.cluster_present", *args)
    assert built["result"] is True, built["comment"]
    assert password not in json.dumps(built)
    status = lab.node_exec(a.minion, ["crm_mon", "-1", "--output-as=xml"], check=True).stdout
    assert f'name="{a.fqdn}"' in status and 'online="true"' in status
    again = state(lab, a.minion, "pacemaker.cluster_present", *args)
    assert again["result"] is True and again["changes"] == {}

    # Node 2's old cluster kept every target, each served once.
    old = lab.crm_status(b.minion)
    for target in lab.spec.targets:
        assert old["resources"][target.resource]["nodes"] == [b.old_name]
    assert all(avail.double_service == [] for avail in lab.availability(since).values())
    assert lab.violations(since) == []
