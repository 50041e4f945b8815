"""The rebuild hook is a PXE reinstall: the node is powered off hard, whatever it serves, and
comes back as a fresh EL7 install -- a new minion key the master does not trust, Salt with
its own dependencies only, no cluster stack until its packages are installed, the kernel
the lab booted. Everything the product installs lands on the node's disk and a rebuild
wipes it. The tests run in order on one lab (`own_lab`): node 2 is rebuilt once, used, and
rebuilt again."""

import json
import time

import pytest

from tests.lab.support import fingerprint, rebuild_like_the_product, wait_for

pytestmark = pytest.mark.lab

BASE_KERNEL = "3.10.0-957.el7.x86_64"
LUSTRE_KERNEL = "3.10.0-957.1.3.el7_lustre.x86_64"
# EL7's names: fence-agents is only a Provides of fence-agents-all there, which Salt's
# pkg.installed cannot verify as installed.
HA_PACKAGES = ("pcs", "pacemaker", "corosync", "fence-agents-all")
STATE = {}


def _state(lab, minion, *args):
    result = lab.salt_json("-t", "300", minion, "state.single", *args, timeout=300)[minion]
    assert isinstance(result, dict), result
    (ret,) = result.values()
    return ret


def _fenced_since(lab, minion, victim, since):
    """Has `victim` been fenced since `since`: the power switch cut it, and the cluster (as
    seen from `minion`) records a successful fencing of it."""
    cut = [
        e
        for e in lab.power_events(since)
        if e["node"] == victim.minion and e["action"] == "off" and e["by"] == "pdu"
    ]
    history = lab.node_exec(minion, ["stonith_admin", "--history", victim.old_name]).stdout
    return bool(cut) and "successful" in history


def _answers(lab, minion):
    result = lab.salt("--out=json", "--static", "-L", minion, "test.ping", "-t", "5")
    try:
        return json.loads(result.stdout or "{}").get(minion) is True
    except ValueError:
        return False  # "No minions matched the target": no accepted key


def _python(lab, minion):
    return lab.salt_json(minion, "grains.item", "pythonexecutable")[minion]["pythonexecutable"]


def _importable(lab, minion, names):
    probe = (
        "import importlib.util, json, sys; "
        "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))"
    )
    result = lab.node_exec(minion, [_python(lab, minion), "-c", probe, *names], check=True)
    return json.loads(result.stdout)


def _wait_booted_again(lab, minion, booted_before, timeout=180):
    def booted():
        try:
            now = lab.node_exec(minion, ["cat", "/run/lab/booted"]).stdout.strip()
        except Exception:  # noqa: BLE001 - the node is between two boots
            return None
        return now if now and now != booted_before else None

    assert wait_for(booted, timeout=timeout), f"{minion} did not boot again"


def test_rebuilding_a_node_that_still_serves_targets_is_seen(own_lab):
    lab = own_lab
    lab.restore_baseline()
    since = time.time()
    first, second = lab.spec.nodes
    on_second = [t.name for t in lab.spec.targets if t.primary == second.index]
    STATE["old_key"] = fingerprint(lab, second.minion)

    # The hook, with nothing done before it: no evacuation, no cluster stop.
    lab.rebuild(second.minion)

    # The peer lost a member that never left: it fences it and takes its targets over.
    assert wait_for(lambda: _fenced_since(lab, first.minion, second, since), timeout=180), (
        "the surviving node never fenced the node that vanished"
    )
    # Served again once the survivor's mounts are through (MMP waits first: see below).
    assert wait_for(
        lambda: all(
            lab.report(since)["targets"][name]["served_by"] == [first.minion] for name in on_second
        ),
        timeout=180,
    ), lab.report(since)
    report = lab.report(since)
    for name in on_second:
        target = report["targets"][name]
        assert target["outages"], target
        assert target["mmp_waits"] == [first.minion], target
    assert all(t["double_service"] == [] for t in report["targets"].values())
    assert all(t["refused_double_starts"] == 0 for t in report["targets"].values())


def test_the_rebuilt_minion_presents_a_new_key_that_the_master_does_not_trust(own_lab):
    lab = own_lab
    minion = lab.spec.nodes[1].minion
    old = STATE["old_key"]

    # A reinstalled minion has a new key; the master still holds the old one: Salt denies it.
    denied = wait_for(lambda: fingerprint(lab, minion, "denied"), timeout=180)
    assert denied and denied != old
    assert fingerprint(lab, minion) == old
    assert not _answers(lab, minion)

    # What the product does: drop the old key; the minion's next start waits, pending.
    assert lab.salt_key("-y", "-d", minion).returncode == 0
    lab.power(minion, "reboot")
    assert wait_for(lambda: fingerprint(lab, minion, "pending"), timeout=180) == denied
    assert fingerprint(lab, minion) is None
    assert not _answers(lab, minion)
    assert lab.salt_key("-y", "-a", minion).returncode == 0
    lab.wait_minions(minions=[minion], timeout=120)


def test_a_rebuilt_node_is_a_fresh_el7_install_booted_on_its_kernel(own_lab):
    lab = own_lab
    first, second = lab.spec.nodes
    gone = [
        "/etc/corosync/corosync.conf",
        "/var/lib/pacemaker/cib/cib.xml",
        "/var/lib/chroma",
        "/usr/lib/ocf/resource.d/chroma/Target",
        "/usr/sbin/fence_chroma",
    ]
    for path in gone:
        assert lab.node_exec(second.minion, ["test", "-e", path]).returncode != 0, path
    assert lab.node_exec(second.minion, ["uname", "-n"]).stdout.strip() == second.fqdn
    grains = lab.salt_json(
        "-L",
        second.minion,
        "grains.item",
        "id",
        "os",
        "os_family",
        "osmajorrelease",
        "osfinger",
        "init",
        "kernelrelease",
    )[second.minion]
    assert grains == {
        "id": second.minion,
        "os": "CentOS",
        "os_family": "RedHat",
        "osmajorrelease": 7,
        "osfinger": "CentOS Linux-7",
        "init": "systemd",
        "kernelrelease": BASE_KERNEL,
    }
    for argv in (["uname", "-r"], ["cat", "/proc/sys/kernel/osrelease"]):
        assert lab.node_exec(second.minion, argv).stdout.strip() == BASE_KERNEL, argv
    assert lab.crm_status(first.minion)["nodes"][second.old_name]["online"] is False


def test_a_rebuilt_nodes_salt_has_only_its_own_dependencies(own_lab):
    lab = own_lab
    node = lab.spec.nodes[1]
    minion = node.minion
    wanted = {"salt": True, "yaml": True, "cryptography": True}
    absent = ("lxml", "saltext_lustre_upgrade", "lustre_upgrade_lib", "pytest", "saltfactories")
    found = _importable(lab, minion, [*wanted, *absent])
    assert found == {**wanted, **dict.fromkeys(absent, False)}

    lab.salt_json(minion, "saltutil.sync_all", timeout=300)
    assert "pacemaker" not in lab.salt_json(minion, "sys.list_modules")[minion]

    # What the product installs there lands on the node's own disk (EL7: EPEL's lxml).
    for name in ("epel-release", "python36-lxml"):
        ret = _state(lab, minion, "pkg.installed", f"name={name}")
        assert ret["result"] is True, ret
    where = lab.node_exec(
        minion, [_python(lab, minion), "-c", "import lxml; print(lxml.__file__)"], check=True
    ).stdout.strip()
    assert lab.nodes[minion].upper(where).is_file(), where
    lab.salt_json(minion, "saltutil.sync_all", "refresh=True", timeout=300)
    assert "pacemaker" in lab.salt_json(minion, "sys.list_modules")[minion]


def test_a_rebuilt_node_has_no_cluster_stack_until_its_packages_are_installed(own_lab):
    lab = own_lab
    minion = lab.spec.nodes[1].minion
    rpm = lab.node_exec(minion, ["rpm", "-q", *HA_PACKAGES])
    assert rpm.stdout.count("is not installed") == len(HA_PACKAGES), rpm.stdout
    commands = (["pcs", "--version"], ["crm_mon", "--version"], ["corosync", "-v"])
    for argv in (*commands, ["fence_ipmilan", "--version"], ["chroma-agent", "--version"]):
        assert lab.node_exec(minion, argv).returncode == 127, argv
    assert lab.node_exec(minion, ["systemctl", "start", "pcsd"]).returncode != 0
    heartbeat = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2"
    assert lab.node_exec(minion, ["test", "-e", heartbeat]).returncode != 0

    pkgs = json.dumps(list(HA_PACKAGES))
    ret = _state(lab, minion, "pkg.installed", "name=ha", f"pkgs={pkgs}")
    assert ret["result"] is True, ret
    for argv in commands:
        assert lab.node_exec(minion, argv).returncode == 0, argv
    assert lab.node_exec(minion, ["test", "-e", heartbeat]).returncode == 0
    started = lab.node_exec(minion, ["systemctl", "start", "pcsd"], timeout=180)
    assert started.returncode == 0, started.stderr
    assert lab.node_exec(minion, ["systemctl", "is-active", "pcsd"]).returncode == 0
    lab.node_exec(minion, ["systemctl", "stop", "pcsd"], check=True, timeout=180)


def test_salt_installs_lab_packages_with_real_dnf_and_rpm_idempotently(own_lab):
    lab = own_lab
    minion = lab.spec.nodes[1].minion

    first = _state(lab, minion, "pkg.installed", "name=ntp")
    second = _state(lab, minion, "pkg.installed", "name=ntp")

    assert first["result"] is True
    assert "ntp" in first["changes"]
    assert second["result"] is True and second["changes"] == {}
    rpm = lab.node_exec(minion, ["rpm", "-q", "ntp", "ntpdate"], check=True).stdout
    assert "ntp-4.2.6p5-29.el7.centos" in rpm
    assert lab.salt_json(minion, "pkg.version", "kernel")[minion] == "3.10.0-957.el7"


def test_lustre_kernel_modules_load_only_after_a_reboot_into_the_lustre_kernel(own_lab):
    lab = own_lab
    minion = lab.spec.nodes[1].minion
    for repo in ("lustre-server", "e2fsprogs-wc", "epel"):
        ret = _state(
            lab,
            minion,
            "pkgrepo.managed",
            f"name={repo}",
            f"baseurl={lab.spec.repos[repo]}",
            "gpgcheck=0",
        )
        assert ret["result"] is True, ret
    # The runbook's order: Whamcloud e2fsprogs, drop the newer kernel-tools, Lustre kernel.
    ret = _state(lab, minion, "pkg.latest", "name=e2fsprogs", "fromrepo=e2fsprogs-wc")
    assert ret["result"] is True, ret
    lab.salt_json(minion, "pkg.remove", "kernel-tools,kernel-tools-libs")
    lustre = LUSTRE_KERNEL.removesuffix(".x86_64")
    names = (
        "kernel",
        "kernel-devel",
        "kernel-headers",
        "kernel-tools",
        "kernel-tools-libs",
        "kernel-tools-libs-devel",
    )
    pkgs = ", ".join(f'{{"{name}": "{lustre}"}}' for name in names)
    ret = _state(
        lab,
        minion,
        "pkg.installed",
        "name=lustre-kernel",
        "fromrepo=lustre-server",
        f"pkgs=[{pkgs}]",
    )
    assert ret["result"] is True, ret
    ret = _state(lab, minion, "pkg.installed", "name=lustre-ldiskfs-zfs")
    assert ret["result"] is True, ret

    # Installed is not running: the kernel the node runs is still the one it booted.
    assert lab.node_exec(minion, ["uname", "-r"]).stdout.strip() == BASE_KERNEL
    before = lab.salt_json(minion, "cmd.run", "modprobe -v lustre")[minion]
    assert f"not found in directory /lib/modules/{BASE_KERNEL}" in before
    booted = lab.node_exec(minion, ["cat", "/run/lab/booted"]).stdout.strip()
    lab.salt(minion, "system.reboot", "--async")
    _wait_booted_again(lab, minion, booted)
    lab.wait_minions(minions=[minion], timeout=120)

    assert lab.node_exec(minion, ["uname", "-r"]).stdout.strip() == LUSTRE_KERNEL
    grains = lab.salt_json(minion, "grains.item", "kernelrelease")[minion]
    assert grains["kernelrelease"] == LUSTRE_KERNEL
    dkms = lab.salt_json(minion, "cmd.run", "dkms status")[minion].splitlines()
    assert sorted(line.split(",")[0] for line in dkms) == ["lustre", "spl", "zfs"]
    assert all(line.endswith(f"{LUSTRE_KERNEL}, x86_64: installed") for line in dkms)
    after = lab.salt_json(minion, "cmd.run_all", "modprobe -v lustre")[minion]
    assert after["retcode"] == 0
    assert f"/lib/modules/{LUSTRE_KERNEL}/" in after["stdout"]


def test_a_second_rebuild_wipes_everything_the_product_installed(own_lab):
    lab = own_lab
    minion = lab.spec.nodes[1].minion

    rebuild_like_the_product(lab, minion)

    assert _importable(lab, minion, ["lxml"]) == {"lxml": False}
    for name in ("python36-lxml", "pcs", "ntp", "lustre"):
        assert lab.node_exec(minion, ["rpm", "-q", name]).returncode != 0, name
    assert lab.node_exec(minion, ["pcs", "--version"]).returncode == 127
    assert lab.node_exec(minion, ["uname", "-r"]).stdout.strip() == BASE_KERNEL
