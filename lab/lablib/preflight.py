"""Checks that run before the lab creates anything: privileges, packages, tools, venv."""

import os
import shutil
import subprocess
from pathlib import Path

from .config import ConfigError

# Debian packages the lab runs (the demo installs them; tests/run.sh lists them too).
DEBIAN_PACKAGES = (
    "pacemaker",
    "pacemaker-cli-utils",
    "corosync",
    "pcs",
    "resource-agents",
    "fence-agents",
    "rpm",
    "dnf",
    "createrepo-c",
    "dnf-plugins-core",
    "iproute2",
    "util-linux",
    "procps",
    "psmisc",
    "openssl",
    "openssh-client",
    "python3",
    "python3-venv",
)
COMMANDS = (
    "ip",
    "unshare",
    "nsenter",
    "mount",
    "umount",
    "flock",
    "setsid",
    "pkill",
    "corosync",
    "pacemakerd",
    "pcs",
    "pcsd",
    "cibadmin",
    "crm_mon",
    "crm_verify",
    "rpmbuild",
    "rpm",
    "createrepo_c",
    "dnf",
    "openssl",
    "ssh-keygen",
)
# CAP_KILL, CAP_NET_ADMIN, CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_MKNOD
CAPABILITIES = {
    5: "CAP_KILL",
    12: "CAP_NET_ADMIN",
    18: "CAP_SYS_CHROOT",
    19: "CAP_SYS_PTRACE",
    21: "CAP_SYS_ADMIN",
    27: "CAP_MKNOD",
}
VENV_PROGRAMS = ("python", "salt-master", "salt-minion", "salt", "salt-run", "salt-key")


def effective_capabilities():
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def check_privileges():
    findings = []
    if os.geteuid() != 0:
        findings.append(
            f"the lab needs root (network/mount/PID namespaces, overlay mounts); running as uid "
            f"{os.geteuid()}: run it as root, e.g. `sudo lab/labctl up`"
        )
        return findings
    caps = effective_capabilities()
    missing = [name for bit, name in CAPABILITIES.items() if not caps & (1 << bit)]
    if missing:
        findings.append(
            f"root here lacks {', '.join(missing)} (a restricted container?): the lab needs a "
            "machine or a privileged container where root may create namespaces and mounts"
        )
    return findings


def installed_packages(names):
    """{name: installed?} from dpkg's database (one dpkg-query call)."""
    if not shutil.which("dpkg-query"):
        return {name: False for name in names}
    result = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\\n", *names],
        capture_output=True,
        text=True,
        check=False,
    )
    status = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            status[parts[0]] = parts[1] == "installed"
    return {name: status.get(name, False) for name in names}


def check_packages(extra=()):
    names = tuple(DEBIAN_PACKAGES) + tuple(extra)
    missing = [name for name, ok in installed_packages(names).items() if not ok]
    findings = []
    if missing:
        findings.append(
            f"Debian packages not installed: {' '.join(missing)} -- install them with "
            f"`apt-get install {' '.join(missing)}` (or run `lab/labctl demo`, which does)"
        )
    tools = [cmd for cmd in COMMANDS if not shutil.which(cmd, path=_sbin_path())]
    if tools and not missing:
        findings.append(f"commands not found on PATH: {' '.join(tools)}")
    return findings


def _sbin_path():
    return os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin"]
    )


def check_kernel():
    findings = []
    try:
        filesystems = Path("/proc/filesystems").read_text()
    except OSError:
        filesystems = ""
    if "overlay" not in filesystems:
        findings.append(
            "the kernel has no overlayfs (modprobe overlay): nodes need it for their OS"
        )
    for ns in ("net", "mnt", "pid", "uts", "ipc"):
        if not os.path.exists(f"/proc/self/ns/{ns}"):
            findings.append(f"the kernel has no {ns} namespaces")
    return findings


def check_venv(venv):
    missing = [p for p in VENV_PROGRAMS if not os.access(os.path.join(venv, "bin", p), os.X_OK)]
    if missing:
        return [
            f"venv {venv} lacks {' '.join(missing)}: create it (`lab/labctl demo` or "
            "tests/run.sh do), or point LUSTRE_UPGRADE_VENV / lab.toml [lab] venv at one with Salt"
        ]
    return []


def check_all(spec, extra_packages=()):
    """Raise ConfigError with every problem found; nothing has been created yet."""
    findings = check_privileges()
    if not findings:
        findings += check_kernel()
    findings += check_packages(extra_packages)
    findings += check_venv(spec.venv)
    if findings:
        raise ConfigError(findings)
