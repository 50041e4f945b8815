"""The commands the master sends to a node in its old life, run for real: Pacemaker's own
CLI on a copy of an EL6 IML cluster's CIB (``CIB_file``), ``pidof``, ``find``/``grep`` on
a target store, ``/proc/mounts``; their output read back by the library."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from lustre_upgrade_lib import cib, cluster_health, old_cluster
from tests.support import SUITE_FIXTURES

TARGETS = ["MGS_32834e", "demo-MDT0000_802c1b", "demo-OST0000_4a7e91", "demo-OST0001_c3d2f0"]


@pytest.fixture
def el6_cib(tmp_path):
    path = tmp_path / "cib.xml"
    shutil.copy(SUITE_FIXTURES / "cluster" / "el6-iml-cib-backup.xml", path)
    return path


def run(argv, cib_file=None):
    env = dict(os.environ)
    if cib_file:
        env["CIB_file"] = str(cib_file)
    res = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    return {"retcode": res.returncode, "stdout": res.stdout, "stderr": res.stderr}


def crm_mon(cib_file):
    res = run(old_cluster.crm_mon_argv(), cib_file)
    assert res["retcode"] == 0, res["stderr"]
    return res["stdout"]


def snapshot(cib_file):
    return cib.parse_cib(crm_mon(cib_file), "crm_mon")


def standby(cib_file, node):
    return cluster_health.read_crm_mon(crm_mon(cib_file))["nodes"][node]["standby"]


def test_crm_mon_snapshot_reads_as_the_cib_model(el6_cib):
    status = snapshot(el6_cib)
    assert sorted(r["id"] for r in status["resources"]) == TARGETS
    assert {n["uname"] for n in status["nodes"]} == {"ct6-mds1", "ct6-mds2"}
    assert status["placement"]["MGS_32834e"] == ["ct6-mds1"]


def test_standby_is_written_where_pacemaker_reads_it(el6_cib):
    assert not standby(el6_cib, "ct6-mds1")
    assert run(old_cluster.standby_argv("ct6-mds1"), el6_cib)["retcode"] == 0
    assert standby(el6_cib, "ct6-mds1")
    assert cib.in_standby(cib.node_record(cib.read_cib_file(str(el6_cib)), "ct6-mds1"))
    assert run(old_cluster.standby_argv("ct6-mds1", standby=False), el6_cib)["retcode"] == 0
    assert not standby(el6_cib, "ct6-mds1")


def test_a_target_stopped_by_target_role_reads_stopped(el6_cib):
    assert run(old_cluster.target_role_argv("MGS_32834e", "Stopped"), el6_cib)["retcode"] == 0
    config = cib.read_cib_file(str(el6_cib))
    (mgs,) = [r for r in config["resources"] if r["id"] == "MGS_32834e"]
    assert cib.is_stopped(mgs)


def in_private_pid_namespace(argv):
    """Run ``argv`` where only its own processes are visible: the host (or a lab run on
    it) may have real cluster daemons of its own."""
    return run(["unshare", "--pid", "--fork", "--mount-proc", *argv])


def test_pidof_of_daemons_that_do_not_run_reads_none():
    assert old_cluster.running_daemons(in_private_pid_namespace(old_cluster.daemons_argv())) == []


def test_a_running_daemon_is_seen(tmp_path):
    fake = tmp_path / "corosync"
    shutil.copy(shutil.which("sleep"), fake)
    script = (
        "import json, subprocess, sys\n"
        f"daemon = subprocess.Popen([{str(fake)!r}, '30'])\n"
        f"res = subprocess.run({old_cluster.daemons_argv()!r}, capture_output=True, text=True)\n"
        "daemon.kill()\n"
        "print(json.dumps({'retcode': res.returncode, 'stdout': res.stdout, 'pid': daemon.pid}))\n"
    )
    res = in_private_pid_namespace([sys.executable, "-c", script])
    assert res["retcode"] == 0, res["stderr"]
    seen = json.loads(res["stdout"])
    assert old_cluster.running_daemons(seen) == [str(seen["pid"])]


def test_the_target_store_is_listed_and_read(tmp_path):
    store = tmp_path / "targets"
    store.mkdir()
    (store / "32834e").write_text(json.dumps({"mntpt": "/mnt/MGS", "bdev": "/dev/sdb"}))
    (store / "802c1b").write_text(
        json.dumps({"mntpt": "/mnt/demo-MDT0000", "target_name": "demo-MDT0000"}, indent=4)
    )
    res = run(old_cluster.target_store_argv(str(store)))
    assert res["retcode"] == 0, res["stderr"]
    targets = old_cluster.parse_target_store_listing(res["stdout"])
    assert {uuid: t["mntpt"] for uuid, t in targets.items()} == {
        "32834e": "/mnt/MGS",
        "802c1b": "/mnt/demo-MDT0000",
    }


def test_this_hosts_mounts_are_read():
    res = run(old_cluster.mounts_argv())
    mounts = old_cluster.parse_proc_mounts(res["stdout"])
    assert "/" in {m["mountpoint"] for m in mounts}
    assert old_cluster.served_mountpoints(mounts, ["/proc"]) == ["/proc"]


def test_the_health_read_without_node_attributes_is_crm_mons(el6_cib):
    """The preflight reads an old cluster's health from cibadmin and crm_attribute, never
    crm_mon (whose XML carries the fence passwords): the same record, on a real EL6 CIB."""
    nodes = ["ct6-mds1", "ct6-mds2"]
    assert run(old_cluster.standby_argv("ct6-mds2"), el6_cib)["retcode"] == 0

    def out(argv):
        res = run(argv, el6_cib)
        assert res["retcode"] == 0, (argv, res["stderr"])
        assert "_fence_password" not in res["stdout"], argv
        return res["stdout"]

    flags = {
        node: {
            name: out(old_cluster.node_flag_argv(node, name)).strip()
            for name in ("standby", "maintenance")
        }
        for node in nodes
    }
    health = cluster_health.read_cib_health(
        out(old_cluster.cib_root_argv()),
        out(old_cluster.crm_config_argv()),
        out(old_cluster.cib_query_argv("status")),
        flags,
    )
    reference = cluster_health.read_crm_mon(crm_mon(el6_cib))
    assert health["nodes"] == reference["nodes"]
    assert health["nodes"]["ct6-mds2"]["standby"] is True
    assert health["maintenance_mode"] == reference["maintenance_mode"]
    assert sorted(f["op_key"] for f in health["failures"]) == sorted(
        f["op_key"] for f in reference["failures"]
    )
    assert cluster_health.findings(health, nodes) == cluster_health.findings(reference, nodes)
