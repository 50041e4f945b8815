"""Lab nodes look like EL7 to Salt: its yum/dnf modules run real dnf and rpm transactions
against the lab repositories, and the lab's kernel/dkms/modprobe stand-ins are honest."""

import time

import pytest

pytestmark = pytest.mark.lab


def _state(lab, minion, *args):
    result = lab.salt_json(minion, "state.single", *args, timeout=300)[minion]
    assert isinstance(result, dict), result
    (ret,) = result.values()
    return ret


def _wait_minion_restarted(lab, minion, booted_before, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            booted = lab.node_exec(minion, ["cat", "/run/lab/booted"]).stdout.strip()
        except Exception:  # noqa: BLE001 - the node is between two boots
            booted = ""
        if booted and booted != booted_before:
            break
        time.sleep(0.5)
    return lab.wait_minions(minions=[minion], timeout=90)


def test_salt_installs_lab_packages_with_real_dnf_and_rpm_idempotently(lab):
    minion = lab.spec.nodes[0].minion

    first = _state(lab, minion, "pkg.installed", "name=ntp")
    second = _state(lab, minion, "pkg.installed", "name=ntp")

    assert first["result"] is True
    assert "ntp" in first["changes"]
    assert second["result"] is True and second["changes"] == {}
    rpm = lab.node_exec(minion, ["rpm", "-q", "ntp", "ntpdate"], check=True).stdout
    assert "ntp-4.2.6p5-29.el7.centos" in rpm
    assert lab.salt_json(minion, "pkg.version", "kernel")[minion] == "3.10.0-957.el7"


def test_lustre_kernel_modules_load_only_after_a_reboot_into_the_lustre_kernel(lab, lab_session):
    lab_session.mark_dirty()
    node = lab.spec.nodes[1]
    minion = node.minion
    lab.rebuild(minion)
    lab.wait_minions(minions=[minion], timeout=120)
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
    lustre = "3.10.0-957.1.3.el7_lustre"
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
    lustre_kernel = f"{lustre}.x86_64"

    before = lab.salt_json(minion, "cmd.run", "modprobe -v lustre")[minion]
    assert "not found in directory /lib/modules/3.10.0-957.el7.x86_64" in before
    booted = lab.node_exec(minion, ["cat", "/run/lab/booted"]).stdout.strip()
    lab.salt(minion, "system.reboot", "--async")
    _wait_minion_restarted(lab, minion, booted)

    assert lab.node_exec(minion, ["cat", "/run/lab/kernel-release"]).stdout.strip() == (
        lustre_kernel
    )
    dkms = lab.salt_json(minion, "cmd.run", "dkms status")[minion].splitlines()
    assert sorted(line.split(",")[0] for line in dkms) == ["lustre", "spl", "zfs"]
    assert all(line.endswith(f"{lustre_kernel}, x86_64: installed") for line in dkms)
    after = lab.salt_json(minion, "cmd.run_all", "modprobe -v lustre")[minion]
    assert after["retcode"] == 0
    assert f"/lib/modules/{lustre_kernel}/" in after["stdout"]
