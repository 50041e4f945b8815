"""On the lab: node 1 backed up, evacuated, rebuilt, restored from its backup, and a new
one-node cluster built on it from the backed-up corosync.conf, while node 2's old cluster
keeps serving every target. Node 1 is handled as the product must: in its EL6 life with
core functions only (Pacemaker's CLI, `service`, `chkconfig`), its old key dropped around
the rebuild and the new one accepted, then the EL7 packages its states need installed."""

import json

import pytest

from tests.lab.support import rebuild_like_the_product, wait_for

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


def core(lab, minion, argv):
    """A core function on a node in its EL6 life: an argv list, no shell."""
    ret = lab.salt_json(minion, "cmd.run_all", json.dumps(argv), "python_shell=False")[minion]
    assert isinstance(ret, dict) and ret["retcode"] == 0, (argv, ret)
    return ret


def test_rebuilt_node_one_gets_its_configuration_back_and_a_new_cluster(lab, lab_session, since):
    a, b = lab.spec.nodes
    backup = run_json(lab.salt_run("--out=json", "lustre_upgrade.backup_node", a.minion))
    assert backup["minion"] == a.minion and backup["kind"] == "server"

    # Evacuate node 1 (EL6): standby, every target on node 2, its cluster stopped and disabled.
    standby = ["crm_attribute", "--node", a.old_name, "--name", "standby", "--update", "on"]
    core(lab, a.minion, [*standby, "--lifetime", "forever"])
    assert wait_for(
        lambda: all(nodes == [b.old_name] for nodes in lab.placement().values()), timeout=180
    ), lab.placement()
    for argv in (
        ["service", "pacemaker", "stop"],
        ["service", "corosync", "stop"],
        ["chkconfig", "pacemaker", "off"],
        ["chkconfig", "corosync", "off"],
    ):
        core(lab, a.minion, argv)

    lab_session.mark_dirty()
    rebuild_like_the_product(lab, a.minion)
    assert lab.node_exec(a.minion, ["test", "-e", "/etc/corosync/corosync.conf"]).returncode == 1
    # What the product's EL7 server states install before its modules can run there.
    for name in ("epel-release", "python36-lxml"):
        installed = state(lab, a.minion, "pkg.installed", f"name={name}")
        assert installed["result"] is True, installed
    pkgs = json.dumps(["pcs", "pacemaker", "corosync", "fence-agents-all"])
    ha = state(lab, a.minion, "pkg.installed", "name=ha", f"pkgs={pkgs}")
    assert ha["result"] is True, ha
    lab.salt_json(a.minion, "saltutil.sync_all", timeout=300)

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
