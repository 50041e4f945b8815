"""A lab node's "hardware": its disk (overlay upper dirs), its kickstart, its boot.

Powering a node on = PID 1 (nodeos/nodeinit.py) in fresh mount/UTS/IPC/PID namespaces
inside the node's network namespace. Powering off = SIGKILL to that PID 1: the kernel
ends every process of the node, its mounts vanish with its mount namespace, and the
multiple-mount locks its targets held are dropped. Rebuilding = power off, wipe the disk,
kickstart, power on.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import image
from .image import write

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
    def kickstart(self, master_address):
        """What an EL7 kickstart leaves: host name, network, a minion with its id and a new
        key. Returns the new public key (the master pre-accepts it, as sites pre-seed)."""
        node = self.node
        self.write("/etc/hostname", node.fqdn + "\n")
        self.write("/etc/sysconfig/network", f"NETWORKING=yes\nHOSTNAME={node.fqdn}\n")
        for ring, address in enumerate(node.rings):
            self.write(
                f"/etc/sysconfig/network-scripts/ifcfg-ring{ring}",
                f"DEVICE=ring{ring}\nBOOTPROTO=none\nONBOOT=yes\nIPADDR={address}\n"
                "PREFIX=24\nNM_CONTROLLED=no\n",
            )
        self.write("/etc/salt/minion", minion_config(node.minion, master_address), mode=0o640)
        pem, pub = generate_key()
        self.mkdir("/etc/salt/pki/minion", mode=0o700)
        self.write("/etc/salt/pki/minion/minion.pem", pem, mode=0o400)
        self.write("/etc/salt/pki/minion/minion.pub", pub, mode=0o644)
        self.enable_unit("salt-minion.service")
        return pub

    # -- boot ---------------------------------------------------------------------------
    def bind_mounts(self):
        """Host paths the node sees at the same path (read-only), plus the SAN on /srv."""
        binds = []
        venv = os.path.realpath(self.spec.venv)
        binds.append({"source": venv, "target": self.spec.venv, "ro": True})
        base = venv_base_prefix(venv)
        if base and not base.startswith("/usr/"):
            binds.append({"source": base, "target": base, "ro": True})
        binds.append({"source": str(self.run_dir / "san"), "target": "/srv", "ro": False})
        return binds

    def boot_config(self, image_dir):
        image_dir = Path(image_dir)
        overlays = []
        for name in image.OVERLAID_FROM_HOST + image.OVERLAID_IMAGE_ONLY:
            lower = [str(image_dir / name)]
            if name in image.OVERLAID_FROM_HOST:
                lower.append(f"/{name}")
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

    def write_boot_config(self, image_dir):
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.boot_file, "w", encoding="utf-8") as handle:
            json.dump(self.boot_config(image_dir), handle, indent=2)

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


def minion_config(minion_id, master_address):
    return (
        f"# Written by the lab's kickstart.\nid: {minion_id}\nmaster: {master_address}\n"
        "# The lab's nodes look like EL7 to Salt (Debian underneath: see lab/README.md).\n"
        "grains:\n  os_family: RedHat\n  os: CentOS\n  osmajorrelease: 7\n"
        "  osrelease: 7.6.1810\n  osfinger: CentOS Linux-7\n  lab_node: true\n"
        "# No systemd-run in the node: systemctl is the lab's stand-in.\n"
        "systemd.scope: false\n"
        "acceptance_wait_time: 1\nrandom_reauth_delay: 0\nrecon_default: 500\n"
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


def venv_base_prefix(venv):
    """The interpreter installation a venv runs on (its pyvenv.cfg `home`, one level up)."""
    cfg = Path(venv) / "pyvenv.cfg"
    try:
        for line in cfg.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home":
                return os.path.realpath(os.path.join(value.strip(), ".."))
    except OSError:
        pass
    return os.path.realpath(sys.base_prefix)
