"""A lab node's "hardware": its disk (overlay upper dirs), its kickstart, its boot.

Powering a node on = PID 1 (nodeos/nodeinit.py) in fresh mount/UTS/IPC/PID namespaces
inside the node's network namespace. Powering off = SIGKILL to that PID 1: the kernel
ends every process of the node, its mounts vanish with its mount namespace, and the
multiple-mount locks its targets held are dropped. Rebuilding = power off, wipe the disk,
kickstart, power on.

A kickstart installs an OS of one "life": `el7` (the image's fresh EL7 install, plus the
packages of the set it is given) or `el6` (an old IML server: its whole EL6 package set
over the image, which it hides where EL6 has nothing: systemd, /etc/os-release, EL7's
rpmdb and kernel).
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

from . import image, nodesalt
from .image import opaque_dir, whiteout, write
from .repo import BASE_KERNEL, copy_staged

NODEINIT = Path(__file__).resolve().parent / "nodeos" / "nodeinit.py"
HOST_PYTHON = "/usr/bin/python3"


class Node:
    def __init__(self, spec, node_spec, run_dir, netns):
        self.spec = spec
        self.node = node_spec
        self.run_dir = Path(run_dir)
        self.netns = netns
        self.home = self.run_dir / "nodes" / node_spec.minion
        self.disk = self.home / "disk"
        self.boot_file = self.home / "boot.json"
        self.console = self.home / "console.log"

    @property
    def minion(self):
        return self.node.minion

    def upper(self, path):
        """Host path, on this node's disk, of the node's absolute `path`."""
        top, _, rest = path.strip("/").partition("/")
        return self.disk / "upper" / top / rest

    # -- disk -------------------------------------------------------------------------
    def format_disk(self):
        if self.disk.exists():
            shutil.rmtree(self.disk)
        for name in image.OVERLAID_FROM_HOST + image.OVERLAID_IMAGE_ONLY:
            (self.disk / "upper" / name).mkdir(parents=True)
            (self.disk / "work" / name).mkdir(parents=True)
        # The upper dirs become the node's /root etc.: keep the usual modes.
        os.chmod(self.disk / "upper" / "root", 0o550)

    def write(self, path, text, mode=0o644, owner=None):
        write(self.upper(path), text, mode=mode, owner=owner)

    def mkdir(self, path, mode=0o755, owner=None):
        target = self.upper(path)
        target.mkdir(parents=True, exist_ok=True)
        os.chmod(target, mode)
        if owner:
            shutil.chown(target, *owner)

    def symlink(self, path, points_to):
        link = self.upper(path)
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(points_to, link)

    def enable_unit(self, unit):
        self.symlink(
            f"/etc/systemd/system/multi-user.target.wants/{unit}",
            f"/usr/lib/systemd/system/{unit}"
            if unit == "salt-minion.service"
            else f"/lib/systemd/system/{unit}",
        )

    # -- kickstart ----------------------------------------------------------------------
    def kickstart(self, master_address, life="el7", packages=None):
        """What a kickstart leaves: the OS of that life with the staged package set
        `packages` (a directory, lablib.repo.node_set) installed, host name, network, a
        minion with its id and a new key. Returns the new public key (`up` pre-seeds the
        initial nodes' keys on the master; a rebuilt node's waits there, unaccepted)."""
        node = self.node
        if life == "el6":
            self._el6_os()
        if packages is not None:
            copy_staged(packages, self.disk / "upper")
        self.write("/etc/hostname", node.fqdn + "\n")
        self.write("/etc/sysconfig/network", f"NETWORKING=yes\nHOSTNAME={node.fqdn}\n")
        for ring, address in enumerate(node.rings):
            self.write(
                f"/etc/sysconfig/network-scripts/ifcfg-ring{ring}",
                f"DEVICE=ring{ring}\nBOOTPROTO=none\nONBOOT=yes\nIPADDR={address}\n"
                "PREFIX=24\nNM_CONTROLLED=no\n",
            )
        self.write("/etc/salt/minion", minion_config(node.minion, master_address, life), mode=0o640)
        pem, pub = generate_key()
        self.mkdir("/etc/salt/pki/minion", mode=0o700)
        self.write("/etc/salt/pki/minion/minion.pem", pem, mode=0o400)
        self.write("/etc/salt/pki/minion/minion.pub", pub, mode=0o644)
        self.enable_unit("salt-minion.service")
        return pub

    def _el6_os(self):
        """Hide what EL6 does not have of the image's EL7 (the EL6 package set brings the
        rest: release files, SysV service/chkconfig, its kernel, its cluster stack)."""
        for path in (
            "/etc/os-release",
            "/usr/bin/systemctl",
            f"/usr/lib/modules/{'-'.join(BASE_KERNEL)}.x86_64",
        ):
            whiteout(self.upper(path))
        for path in ("/var/lib/rpm", "/boot", "/etc/yum.repos.d"):
            opaque_dir(self.upper(path))
        site = self.upper(nodesalt.site_packages())
        site.mkdir(parents=True, exist_ok=True)
        write(site / "_lab_el6_python.py", nodesalt.EL6_MODULE)
        write(site / "_lab_el6_python.pth", nodesalt.EL6_PTH)

    # -- boot ---------------------------------------------------------------------------
    def bind_mounts(self):
        """Host paths the node sees (the pair's nodes: the SAN on /srv; the manager: none)."""
        if self.node.index == 0:
            return []
        return [{"source": str(self.run_dir / "san"), "target": "/srv", "ro": False}]

    def boot_config(self, image_dir, salt_layer=None):
        image_dir = Path(image_dir)
        overlays = []
        for name in image.OVERLAID_FROM_HOST + image.OVERLAID_IMAGE_ONLY:
            lower = [str(image_dir / name)]
            if name in image.OVERLAID_FROM_HOST:
                lower.append(f"/{name}")
            if name == "opt" and salt_layer:
                lower.append(str(Path(salt_layer) / "opt"))
            overlays.append(
                {
                    "target": f"/{name}",
                    "lower": lower,
                    "upper": str(self.disk / "upper" / name),
                    "work": str(self.disk / "work" / name),
                }
            )
        return {
            "hostname": self.node.fqdn,
            "overlays": overlays,
            "binds": self.bind_mounts(),
            "tmpfs": ["/tmp", "/dev/shm"],
        }

    def write_boot_config(self, image_dir, salt_layer=None):
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.boot_file, "w", encoding="utf-8") as handle:
            json.dump(self.boot_config(image_dir, salt_layer), handle, indent=2)

    def boot_argv(self):
        return [
            "ip",
            "netns",
            "exec",
            self.netns,
            "unshare",
            "--mount",
            "--uts",
            "--ipc",
            "--pid",
            "--fork",
            "--mount-proc",
            "--propagation",
            "private",
            HOST_PYTHON,
            "-I",
            str(NODEINIT),
            str(self.boot_file),
        ]


OS_GRAINS = {
    "el7": "grains:\n  os_family: RedHat\n  os: CentOS\n  osfullname: CentOS Linux\n"
    "  osmajorrelease: 7\n  osrelease: 7.6.1810\n  osrelease_info: [7, 6, 1810]\n"
    "  osfinger: CentOS Linux-7\n  init: systemd\n  lab_node: true\n"
    "# No systemd-run in the node: systemctl is the lab's stand-in.\nsystemd.scope: false\n",
    "el6": "grains:\n  os_family: RedHat\n  os: CentOS\n  osfullname: CentOS\n"
    "  osmajorrelease: 6\n  osrelease: '6.7'\n  osrelease_info: [6, 7]\n"
    "  osfinger: CentOS-6\n  init: upstart\n  lab_node: true\n",
}


def minion_config(minion_id, master_address, life="el7"):
    return (
        f"# Written by the lab's kickstart.\nid: {minion_id}\nmaster: {master_address}\n"
        "# The lab's nodes look like CentOS to Salt (Debian underneath: see lab/README.md).\n"
        + OS_GRAINS[life]
        + "acceptance_wait_time: 1\nrandom_reauth_delay: 0\nrecon_default: 500\n"
        "recon_max: 3000\nrecon_randomize: false\nauth_timeout: 3\n"
        "log_level_logfile: info\n"
    )


def generate_key():
    """A new minion RSA key pair (PEM private, PEM SubjectPublicKeyInfo public)."""
    pem = subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pub = subprocess.run(
        ["openssl", "pkey", "-pubout"], input=pem, capture_output=True, text=True, check=True
    ).stdout
    return pem, pub
