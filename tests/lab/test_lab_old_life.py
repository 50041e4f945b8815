"""The old nodes live their EL6 life: EL6 grains and kernel, SysV `service`/`chkconfig`,
their HA stack installed as EL6 packages, and a minion that cannot load the extension
(an EL6 minion runs only Salt's core functions). The cluster itself is the lab's
(Pacemaker 2.1)."""

import json
import re

import pytest

pytestmark = pytest.mark.lab

EXTENSION_MODULES = ("pacemaker", "corosync", "dkms", "hostid", "iml", "node_backup")


def test_old_nodes_look_like_el6_to_salt_and_to_a_shell(lab):
    grains = lab.salt_json(
        "*",
        "grains.item",
        "os",
        "os_family",
        "osmajorrelease",
        "osrelease",
        "osfinger",
        "kernelrelease",
        "init",
    )
    for node in lab.spec.nodes:
        got = grains[node.minion]
        assert (got["os"], got["os_family"], got["osmajorrelease"]) == ("CentOS", "RedHat", 6)
        assert got["osrelease"].startswith("6.") and got["osfinger"] == "CentOS-6"
        assert got["init"] == "upstart"
        assert re.fullmatch(r"2\.6\.32-[0-9.]+\.el6_lustre\.x86_64", got["kernelrelease"]), got
        shell = lab.node_exec(node.minion, ["uname", "-r"], check=True).stdout.strip()
        assert shell == got["kernelrelease"]
        release = lab.node_exec(node.minion, ["cat", "/etc/redhat-release"], check=True).stdout
        assert release.startswith("CentOS release 6.")
        # EL6 has neither systemd nor /etc/os-release.
        probe = "command -v systemctl || test -e /etc/os-release || test -d /run/systemd/system"
        assert lab.node_exec(node.minion, ["sh", "-c", probe]).returncode != 0


def test_old_nodes_have_their_ha_stack_as_el6_packages(lab):
    node = lab.spec.nodes[0]
    names = ["pacemaker", "corosync", "pcs", "fence-agents", "resource-agents", "chroma-agent"]
    result = lab.node_exec(node.minion, ["rpm", "-q", "--qf", "%{NAME} %{RELEASE}\\n", *names])
    assert result.returncode == 0, result.stdout + result.stderr
    releases = dict(line.split() for line in result.stdout.splitlines())
    assert sorted(releases) == sorted(names)
    assert all(".el6" in release for release in releases.values()), releases
    assert lab.node_exec(node.minion, ["rpm", "-q", "kernel"], check=True).stdout.startswith(
        "kernel-2.6.32-"
    )


def test_service_and_chkconfig_behave_as_on_el6(lab, since):
    first, second = lab.spec.nodes

    def sh(*argv):
        return lab.node_exec(second.minion, list(argv), timeout=300)

    listing = sh("chkconfig", "--list", "pacemaker")
    assert listing.returncode == 0, listing.stderr
    assert re.match(
        r"pacemaker\s+0:off\s+1:off\s+2:on\s+3:on\s+4:on\s+5:on\s+6:off", listing.stdout
    )
    assert sh("chkconfig", "pacemaker", "off").returncode == 0
    assert "3:off" in sh("chkconfig", "--list", "pacemaker").stdout
    assert sh("chkconfig", "pacemaker").returncode == 1
    assert sh("chkconfig", "pacemaker", "on").returncode == 0
    assert sh("chkconfig", "pacemaker").returncode == 0
    unknown = sh("chkconfig", "--list", "no-such-service")
    assert unknown.returncode == 1 and "no-such-service" in unknown.stderr

    running = sh("service", "pacemaker", "status")
    assert running.returncode == 0 and "is running" in running.stdout, running.stdout
    stopped = sh("service", "pacemaker", "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "[  OK  ]" in stopped.stdout
    status = sh("service", "pacemaker", "status")
    assert status.returncode == 3 and "is stopped" in status.stdout
    # Its targets went to the peer, which kept serving.
    assert all(nodes == [first.old_name] for nodes in lab.placement().values())
    started = sh("service", "pacemaker", "start")
    assert started.returncode == 0 and "[  OK  ]" in started.stdout
    assert sh("service", "pacemaker", "status").returncode == 0
    bogus = sh("service", "no-such-service", "status")
    assert bogus.returncode == 1 and "unrecognized service" in (bogus.stdout + bogus.stderr)
    assert lab.violations(since) == []


def test_an_old_minion_cannot_load_the_extension_and_core_functions_still_work(lab):
    synced = lab.salt_json("*", "saltutil.sync_all", timeout=300)
    for node in lab.spec.nodes:
        assert "modules.pacemaker" in synced[node.minion]["modules"], synced[node.minion]
    modules = lab.salt_json("*", "sys.list_modules")
    for node in lab.spec.nodes:
        assert not set(EXTENSION_MODULES) & set(modules[node.minion]), modules[node.minion]
    states = lab.salt_json("*", "sys.list_state_modules")
    for node in lab.spec.nodes:
        assert "pacemaker" not in states[node.minion]
    # What an EL6 node runs: core functions with argv lists, Pacemaker's own CLI.
    first = lab.spec.nodes[0]
    argv = json.dumps(["crm_mon", "--as-xml", "-1"])
    ran = lab.salt_json(first.minion, "cmd.run_all", argv, "python_shell=False")[first.minion]
    assert ran["retcode"] == 0 and "<crm_mon" in ran["stdout"]
