"""The lab's yum repositories: tiny noarch RPMs named, versioned and related like the EL7
packages of a Lustre 2.10 / IML 4.0 server (and, in `el6-os`, the EL6 packages an old IML
server had), built with rpmbuild, indexed with createrepo_c.

Payloads are empty (a README) except for the lab's honest stand-ins: `systemd` brings the
lab's systemctl (also reboot/poweroff: no systemd runs in a node), `kmod` the lab's
modprobe, `dkms` the lab's dkms, `*-dkms` packages their source trees and register with
dkms in %post, `kmod-*` and `kernel` their (placeholder) modules under /lib/modules/<kver>/,
`chroma-agent` the Target resource agent, fence_chroma, fence_lab and the agent's service,
`python36-lxml` lxml for the nodes' Salt. The cluster stack's RPMs (pcs, pacemaker,
pacemaker-cli, corosync, resource-agents, fence-agents) carry the host's Debian binaries,
which the node image hides until they are installed (lablib.hostpkgs). EL6's `initscripts`,
`chkconfig` and `upstart` bring the lab's SysV `service`/`chkconfig` and reboot commands.

Built once per set of inputs: the cache key hashes every package definition, payload file
and repository URL. The cache also holds the staged package sets that nodes start from,
each installed into an rpmdb: the fresh EL7 install (copied into the image), an old EL6
IML server and an EL7 server with its cluster stack (copied onto a node's disk by its
kickstart).
"""

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from .hostpkgs import Symlink, host_files
from .proc import run

PAYLOAD = Path(__file__).resolve().parent / "payload"
NODEOS = Path(__file__).resolve().parent / "nodeos"
BUILDER_VERSION = "2"
UNITCTL = "/usr/lib/lab/unitctl"
LUSTRE = "2.10.7"
LUSTRE_KERNEL = ("3.10.0", "957.1.3.el7_lustre")
# A fresh CentOS 7.6 install: the GA kernel, and kernel-tools from updates at a higher
# revision than the Lustre kernel's (the runbook's "erase kernel-tools first" case).
BASE_KERNEL = ("3.10.0", "957.el7")
BASE_KERNEL_TOOLS = ("3.10.0", "957.27.2.el7")
ZFS = "0.7.9"
IML = "4.0.10.2"
SALT = "3008.4"
# The old servers: Intel EE for Lustre 2.4 (IML 2.4.2.7) on CentOS 6.7.
EL6_KERNEL = ("2.6.32", "573.12.1.el6_lustre")
EL6_LUSTRE = "2.5.42.28"
EL6_IML = "2.4.2.7"
RUNBOOK_DEVEL = (
    "asciidoc audit-libs-devel automake bc binutils-devel bison device-mapper-devel "
    "elfutils-devel elfutils-libelf-devel expect flex gcc gcc-c++ git glib2 glib2-devel "
    "hmaccalc keyutils-libs-devel krb5-devel ksh libattr-devel libblkid-devel "
    "libselinux-devel libtool libuuid-devel libyaml-devel lsscsi make ncurses-devel "
    "net-snmp-devel net-tools newt-devel numactl-devel parted patchutils pciutils-devel "
    "perl-ExtUtils-Embed pesign python-devel redhat-rpm-config rpm-build systemd-devel tcl "
    "tcl-devel tk tk-devel wget xmlto zlib-devel"
).split()
LUSTRE_MODULES = (
    "libcfs",
    "lnet",
    "ksocklnd",
    "obdclass",
    "ptlrpc",
    "fld",
    "fid",
    "lov",
    "osc",
    "mdc",
    "lmv",
    "mgc",
    "lustre",
    "mgs",
    "mdt",
    "mdd",
    "ost",
    "ofd",
    "lod",
    "osp",
    "lfsck",
    "lquota",
)


@dataclasses.dataclass
class Pkg:
    name: str
    version: str
    release: str
    summary: str
    requires: tuple = ()
    provides: tuple = ()
    conflicts: tuple = ()
    files: tuple = ()  # (node path, text | bytes | Symlink(target), mode)
    post: str = ""
    preun: str = ""
    # A yum repository the package carries (IML's manager ships its agent repository):
    # ((repository, (package names)), node directory). Its RPMs and repodata are added to
    # `files` once the other packages are built (lablib.repo.ensure_repository).
    bundle: tuple = ()

    @property
    def nvr(self):
        return f"{self.name}-{self.version}-{self.release}"


def _doc(name, version, text=None):
    return (
        f"/usr/share/doc/{name}-{version}/README.lab",
        text or f"Lab stand-in for the EL7 package {name}: no payload.\n",
        0o644,
    )


def _kernel_family(version, release, tools=None):
    kver = f"{version}-{release}.x86_64"
    tools_version, tools_release = tools or (version, release)
    pkgs = [
        Pkg(
            "kernel",
            version,
            release,
            "The Linux kernel",
            provides=(f"kernel-x86_64 = {version}-{release}", "installonlypkg(kernel)"),
            files=(
                (f"/boot/vmlinuz-{kver}", f"lab kernel {kver}\n", 0o755),
                (f"/boot/System.map-{kver}", "", 0o644),
                (f"/usr/lib/modules/{kver}/modules.dep", "", 0o644),
                (f"/usr/lib/modules/{kver}/kernel/fs/ext4/ext4.ko", "lab module\n", 0o644),
            ),
        ),
        Pkg(
            "kernel-headers",
            version,
            release,
            "Header files for the Linux kernel",
            files=(_doc("kernel-headers", version),),
        ),
        Pkg(
            "kernel-tools-libs",
            tools_version,
            tools_release,
            "Libraries for the kernel-tools",
            files=(_doc("kernel-tools-libs", f"{tools_version}-{tools_release}"),),
        ),
        Pkg(
            "kernel-tools",
            tools_version,
            tools_release,
            "Assortment of tools for the kernel",
            requires=(f"kernel-tools-libs = {tools_version}-{tools_release}",),
            files=(_doc("kernel-tools", f"{tools_version}-{tools_release}"),),
        ),
        Pkg(
            "kernel-tools-libs-devel",
            tools_version,
            tools_release,
            "Kernel tools (devel)",
            requires=(f"kernel-tools-libs = {tools_version}-{tools_release}",),
            files=(_doc("kernel-tools-libs-devel", f"{tools_version}-{tools_release}"),),
        ),
        Pkg(
            "kernel-devel",
            version,
            release,
            "Development package for building modules",
            provides=("installonlypkg(kernel)",),
            files=((f"/usr/src/kernels/{kver}/Makefile", f"# lab {kver}\n", 0o644),),
        ),
    ]
    return pkgs


def _dkms_source(module, version):
    conf = (
        f'PACKAGE_NAME="{module}"\nPACKAGE_VERSION="{version}"\n'
        f'BUILT_MODULE_NAME[0]="{module}"\nAUTOINSTALL="yes"\n'
    )
    post = (
        f"dkms add -m {module} -v {version} >/dev/null 2>&1 || :\n"
        f"dkms install -m {module} -v {version} || :\n"
    )
    preun = f"dkms remove -m {module} -v {version} --all >/dev/null 2>&1 || :\n"
    return ((f"/usr/src/{module}-{version}/dkms.conf", conf, 0o644),), post, preun


def _cluster_stack(el7):
    """The cluster stack's RPMs: EL7's or EL6's names and versions, the host's files."""
    if el7:
        versions = {
            "corosync": ("2.4.3", "4.el7"),
            "pacemaker": ("1.1.19", "8.el7_6.5"),
            "pcs": ("0.9.165", "6.el7.centos.2"),
            "resource-agents": ("4.1.1", "12.el7_6.8"),
            "fence-agents": ("4.2.1", "11.el7_6.8"),
        }
        fence_name = "fence-agents-all"
        pcs_extra = ()
    else:
        versions = {
            "corosync": ("1.4.7", "2.el6"),
            "pacemaker": ("1.1.12", "8.el6_7.2"),
            "pcs": ("0.9.139", "9.el6_7.2"),
            "resource-agents": ("3.9.5", "24.el6_7.1"),
            "fence-agents": ("4.0.15", "8.el6_7"),
        }
        fence_name = "fence-agents"
        # EL6's pcs drives SysV services: Debian's pcs finds no `service` command otherwise.
        settings = Path("/usr/lib/python3/dist-packages/pcs/settings.py")
        pcs_extra = (
            (
                (
                    str(settings),
                    settings.read_text().replace(
                        'service_binary = ""', 'service_binary = "/sbin/service"'
                    ),
                    0o644,
                ),
            )
            if settings.exists()
            else ()
        )
    cv, cr = versions["corosync"]
    pv, pr = versions["pacemaker"]
    return [
        Pkg(
            "corosynclib",
            cv,
            cr,
            "The Corosync Cluster Engine Libraries",
            files=(_doc("corosynclib", cv),),
        ),
        Pkg(
            "corosync",
            cv,
            cr,
            "The Corosync Cluster Engine (lab: the host's corosync 3)",
            requires=(f"corosynclib = {cv}-{cr}",),
            files=tuple(host_files("corosync")),
        ),
        Pkg(
            "pacemaker-libs",
            pv,
            pr,
            "Core Pacemaker libraries",
            files=(_doc("pacemaker-libs", pv),),
        ),
        Pkg(
            "pacemaker-cli",
            pv,
            pr,
            "Command line tools for Pacemaker (lab: the host's Pacemaker 2.1)",
            requires=(f"pacemaker-libs = {pv}-{pr}",),
            files=tuple(host_files("pacemaker-cli")),
        ),
        Pkg(
            "pacemaker",
            pv,
            pr,
            "Scalable High-Availability cluster resource manager (lab: the host's Pacemaker 2.1)",
            requires=(
                f"pacemaker-libs = {pv}-{pr}",
                f"pacemaker-cli = {pv}-{pr}",
                "corosync",
                "resource-agents",
            ),
            files=tuple(host_files("pacemaker")),
        ),
        Pkg(
            "resource-agents",
            *versions["resource-agents"],
            "Open Source HA Reusable Cluster Resource Scripts",
            files=tuple(host_files("resource-agents")),
        ),
        Pkg(
            "pcs",
            *versions["pcs"],
            "Pacemaker Configuration System (lab: the host's pcs 0.11 and pcsd)",
            requires=("pacemaker", "corosync"),
            files=tuple(host_files("pcs")) + pcs_extra,
        ),
        Pkg(
            fence_name,
            *versions["fence-agents"],
            "Fence agents",
            provides=(f"fence-agents = {'-'.join(versions['fence-agents'])}",) if el7 else (),
            files=tuple(host_files("fence-agents")),
        ),
    ]


def _el6_packages(repos, payload):
    """An old IML server's packages (CentOS 6.7, Intel EE for Lustre 2.4): installed by its
    kickstart, never by the product."""
    kver = f"{EL6_KERNEL[0]}-{EL6_KERNEL[1]}.x86_64"
    release = "CentOS release 6.7 (Final)\n"
    base = repos.get("el6-os", "")
    agent_init = (
        "[Unit]\nDescription=IML Agent Daemon (lab)\nAfter=network.target\n\n"
        "[Service]\nType=simple\nExecStart=/usr/bin/chroma-agent --daemon\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
    return [
        Pkg(
            "centos-release",
            "6",
            "7.el6.centos.12.3",
            "CentOS release file",
            provides=(
                "system-release = 6",
                "system-release(releasever) = 6",
                "redhat-release = 6.7",
            ),
            files=(
                ("/etc/centos-release", release, 0o644),
                ("/etc/redhat-release", Symlink("centos-release"), 0o777),
                ("/etc/system-release", Symlink("centos-release"), 0o777),
                ("/etc/issue", release + "Kernel \\r on an \\m\n\n", 0o644),
                (
                    "/etc/yum.repos.d/CentOS-Base.repo",
                    f"[base]\nname=CentOS-6 - Base (lab)\nbaseurl={base}\ngpgcheck=0\nenabled=1\n",
                    0o644,
                ),
            ),
        ),
        Pkg(
            "bash", "4.1.2", "33.el6", "The GNU Bourne Again shell", files=(_doc("bash", "4.1.2"),)
        ),
        Pkg("yum", "3.2.29", "69.el6.centos", "RPM installer", files=(_doc("yum", "3.2.29"),)),
        Pkg(
            "initscripts",
            "9.03.49",
            "1.el6.centos",
            "The inittab file and the /etc/init.d scripts (lab: SysV `service` over the lab's units)",
            files=(("/usr/sbin/service", Symlink(UNITCTL), 0o777),),
        ),
        Pkg(
            "chkconfig",
            "1.3.49.3",
            "5.el6",
            "A system tool for maintaining the /etc/rc*.d hierarchy (lab: over the lab's units)",
            files=(("/usr/sbin/chkconfig", Symlink(UNITCTL), 0o777),),
        ),
        Pkg(
            "upstart",
            "0.6.5",
            "13.el6_5.3",
            "An event-driven init system (lab: the lab's init; reboot, halt, poweroff, shutdown)",
            files=tuple(
                (f"/usr/sbin/{name}", Symlink(UNITCTL), 0o777)
                for name in ("reboot", "halt", "poweroff", "shutdown")
            ),
        ),
        Pkg(
            "kernel",
            *EL6_KERNEL,
            "The Linux kernel (Intel EE for Lustre)",
            provides=("installonlypkg(kernel)",),
            files=(
                (f"/boot/vmlinuz-{kver}", f"lab kernel {kver}\n", 0o755),
                (f"/usr/lib/modules/{kver}/modules.dep", "", 0o644),
            ),
        ),
        Pkg(
            "e2fsprogs",
            "1.42.13.wc4",
            "7.el6",
            "Utilities for ext2/3/4 with ldiskfs support (Whamcloud)",
            files=(_doc("e2fsprogs", "1.42.13.wc4"),),
        ),
        Pkg(
            "lustre-modules",
            EL6_LUSTRE,
            "2.6.32_573.12.1.el6_lustre",
            "Lustre kernel modules",
            requires=(f"kernel = {EL6_KERNEL[0]}-{EL6_KERNEL[1]}",),
            files=(_doc("lustre-modules", EL6_LUSTRE),),
        ),
        Pkg(
            "lustre-osd-ldiskfs",
            EL6_LUSTRE,
            "2.6.32_573.12.1.el6_lustre",
            "Lustre ldiskfs OSD",
            requires=(f"lustre-modules = {EL6_LUSTRE}",),
            files=(_doc("lustre-osd-ldiskfs", EL6_LUSTRE),),
        ),
        Pkg(
            "lustre",
            EL6_LUSTRE,
            "2.6.32_573.12.1.el6_lustre",
            "Lustre utilities",
            requires=(f"lustre-modules = {EL6_LUSTRE}",),
            files=(_doc("lustre", EL6_LUSTRE),),
        ),
        *_cluster_stack(el7=False),
        *_postgresql(("8.4.20", "3.el6_6")),
        _manager_package(
            "chroma-manager",
            EL6_IML,
            "1.el6",
            payload,
            bundle=(("el6-os", ("chroma-agent",)), "/var/lib/chroma/repo/iml-agent/6"),
        ),
        Pkg(
            "chroma-agent",
            EL6_IML,
            "1.el6",
            "Intel Manager for Lustre agent (lab: resource agent, fencing, daemon)",
            files=(
                ("/usr/bin/chroma-agent", payload["chroma-agent"], 0o755),
                ("/usr/lib/ocf/resource.d/chroma/Target", payload["Target"], 0o755),
                ("/usr/sbin/fence_chroma", payload["fence_chroma.py"], 0o755),
                ("/usr/sbin/fence_lab", payload["fence_lab.py"], 0o755),
                ("/usr/lib/systemd/system/chroma-agent.service", agent_init, 0o644),
            ),
        ),
    ]


def packages(repos, node_salt=None):
    """{repository: [Pkg]} of the lab. repos: the lab pillar's repository URLs (plus the
    lab's own `el6-os`); node_salt: lablib.nodesalt.ensure()'s build (python36-lxml)."""
    lkver = f"{LUSTRE_KERNEL[0]}-{LUSTRE_KERNEL[1]}.x86_64"
    payload = {
        name: (PAYLOAD / name).read_text()
        for name in (
            "modprobe",
            "dkms",
            "chroma-agent",
            "Target",
            "fence_chroma.py",
            "fence_lab.py",
            "ntpd",
            "lsmod",
            "reposync",
            "chroma-config",
            "chroma-manager-https",
            "chroma_manager_lab.py",
        )
    }
    lustre_dkms_files, lustre_post, lustre_preun = _dkms_source("lustre", LUSTRE)
    zfs_files, zfs_post, zfs_preun = _dkms_source("zfs", ZFS)
    spl_files, spl_post, spl_preun = _dkms_source("spl", ZFS)
    base = [
        Pkg(
            "centos-release",
            "7",
            "6.1810.2.el7.centos",
            "CentOS Linux release file",
            provides=(
                "system-release = 7",
                "system-release(releasever) = 7",
                "redhat-release = 7.6",
                "centos-release(upstream) = 7.6",
            ),
            files=(_doc("centos-release", "7"),),
        ),
        Pkg(
            "bash",
            "4.2.46",
            "31.el7",
            "The GNU Bourne Again shell (lab: Debian's runs)",
            provides=("/bin/sh", "/bin/bash"),
            files=(_doc("bash", "4.2.46"),),
        ),
        Pkg(
            "systemd",
            "219",
            "62.el7_6.9",
            "System and service manager (lab: the lab's systemctl stand-in)",
            # reboot, poweroff, halt and shutdown are symlinks to systemctl (on Debian too).
            files=(("/usr/bin/systemctl", (NODEOS / "systemctl.py").read_text(), 0o755),),
        ),
        Pkg(
            "kmod",
            "20",
            "23.el7",
            "Linux kernel module management utilities",
            files=(
                ("/usr/sbin/modprobe", payload["modprobe"], 0o755),
                ("/usr/sbin/lsmod", payload["lsmod"], 0o755),
            ),
        ),
        Pkg(
            "yum",
            "3.4.3",
            "161.el7.centos",
            "RPM package installer (lab: dnf does the work)",
            files=(_doc("yum", "3.4.3"),),
        ),
        Pkg(
            "yum-utils",
            "1.1.31",
            "50.el7",
            "Utilities based around yum (lab: reposync over dnf)",
            files=(("/usr/bin/reposync", payload["reposync"], 0o755), _doc("yum-utils", "1.1.31")),
        ),
        Pkg(
            "createrepo",
            "0.9.9",
            "28.el7",
            "Creates a common metadata repository (lab: the host's createrepo_c)",
            provides=("createrepo_c = 0.10.0",),
            files=(
                *host_files("createrepo"),
                ("/usr/bin/createrepo", Symlink("createrepo_c"), 0o777),
            ),
        ),
        *_postgresql(("9.2.24", "1.el7_5")),
        Pkg(
            "e2fsprogs-libs",
            "1.42.9",
            "13.el7",
            "Ext2/3/4 file system libraries",
            files=(_doc("e2fsprogs-libs", "1.42.9"),),
        ),
        Pkg(
            "libcom_err",
            "1.42.9",
            "13.el7",
            "Common error description library",
            files=(_doc("libcom_err", "1.42.9"),),
        ),
        Pkg(
            "libss",
            "1.42.9",
            "13.el7",
            "Command line interface parsing library",
            files=(_doc("libss", "1.42.9"),),
        ),
        Pkg(
            "e2fsprogs",
            "1.42.9",
            "13.el7",
            "Utilities for ext2, ext3, and ext4",
            requires=(
                "e2fsprogs-libs = 1.42.9-13.el7",
                "libcom_err = 1.42.9-13.el7",
                "libss = 1.42.9-13.el7",
            ),
            files=(_doc("e2fsprogs", "1.42.9"),),
        ),
        Pkg(
            "e2fsprogs-devel",
            "1.42.9",
            "13.el7",
            "Ext2/3/4 file system development files",
            requires=("e2fsprogs-libs = 1.42.9-13.el7",),
            files=(_doc("e2fsprogs-devel", "1.42.9"),),
        ),
        *_cluster_stack(el7=True),
        Pkg(
            "salt",
            SALT,
            "1.el7",
            "A parallel remote execution system (lab: the nodes' Salt, /opt/saltstack/salt)",
            files=(_doc("salt", SALT),),
        ),
        Pkg(
            "salt-minion",
            SALT,
            "1.el7",
            "The client component for Salt",
            requires=(f"salt = {SALT}-1.el7",),
            files=(_doc("salt-minion", SALT),),
        ),
        Pkg(
            "ntpdate",
            "4.2.6p5",
            "29.el7.centos",
            "Utility to set the date and time via NTP",
            files=(_doc("ntpdate", "4.2.6p5"),),
        ),
        Pkg(
            "ntp",
            "4.2.6p5",
            "29.el7.centos",
            "The NTP daemon and utilities",
            requires=("ntpdate = 4.2.6p5-29.el7.centos",),
            files=(
                (
                    "/etc/ntp.conf",
                    "# ntp.conf of a fresh install\ndriftfile "
                    "/var/lib/ntp/drift\nserver 0.centos.pool.ntp.org iburst\n",
                    0o644,
                ),
                ("/usr/sbin/ntpd", payload["ntpd"], 0o755),
                (
                    "/usr/lib/systemd/system/ntpd.service",
                    "[Unit]\nDescription=Network Time Service (lab stand-in)\n\n[Service]\n"
                    "Type=simple\nExecStart=/usr/sbin/ntpd -n\n\n[Install]\n"
                    "WantedBy=multi-user.target\n",
                    0o644,
                ),
                _doc("ntp", "4.2.6p5"),
            ),
        ),
        Pkg(
            "lab-el7-devel-deps",
            "1",
            "1.el7",
            "The runbook's development packages, as one lab package providing each name",
            provides=tuple(f"{name} = 1-1.el7" for name in RUNBOOK_DEVEL),
            files=(_doc("lab-el7-devel-deps", "1"),),
        ),
        *_kernel_family(*BASE_KERNEL, tools=BASE_KERNEL_TOOLS),
    ]
    epel_url = repos.get("epel", "")
    extras = [
        Pkg(
            "epel-release",
            "7",
            "11",
            "Extra Packages for Enterprise Linux repository configuration",
            files=(
                (
                    "/etc/yum.repos.d/epel.repo",
                    f"[epel]\nname=Extra Packages for Enterprise Linux 7 - $basearch (lab)\n"
                    f"baseurl={epel_url}\nenabled=1\ngpgcheck=0\n",
                    0o644,
                ),
            ),
        ),
    ]
    epel = [
        Pkg(
            "dkms",
            "2.7.1",
            "1.el7",
            "Dynamic Kernel Module Support Framework",
            files=(("/usr/sbin/dkms", payload["dkms"], 0o755),),
        ),
    ]
    if node_salt is not None:
        epel.append(_python_lxml(node_salt))
    lustre_server = [
        *_kernel_family(*LUSTRE_KERNEL),
        Pkg(
            "kmod-lustre",
            LUSTRE,
            "1.el7",
            "Lustre file system kernel modules",
            requires=(f"kernel = {LUSTRE_KERNEL[0]}-{LUSTRE_KERNEL[1]}",),
            provides=(f"lustre-modules = {LUSTRE}",),
            conflicts=("lustre-dkms",),
            files=tuple(
                (f"/usr/lib/modules/{lkver}/extra/lustre/fs/{m}.ko", "lab module\n", 0o644)
                for m in LUSTRE_MODULES
            ),
        ),
        Pkg(
            "kmod-lustre-osd-ldiskfs",
            LUSTRE,
            "1.el7",
            "Lustre ldiskfs OSD kernel modules",
            requires=(f"kmod-lustre = {LUSTRE}-1.el7", "ldiskfsprogs >= 1.44.3.wc1"),
            provides=("lustre-osd",),
            files=tuple(
                (
                    f"/usr/lib/modules/{lkver}/extra/lustre-osd-ldiskfs/fs/{m}.ko",
                    "lab module\n",
                    0o644,
                )
                for m in ("ldiskfs", "osd_ldiskfs")
            ),
        ),
        Pkg(
            "lustre-osd-ldiskfs-mount",
            LUSTRE,
            "1.el7",
            "osd-ldiskfs mount helper",
            requires=("ldiskfsprogs >= 1.44.3.wc1",),
            files=(_doc("lustre-osd-ldiskfs-mount", LUSTRE),),
        ),
        Pkg(
            "lustre-osd-zfs-mount",
            LUSTRE,
            "1.el7",
            "osd-zfs mount helper",
            requires=(f"libzfs2 = {ZFS}",),
            files=(_doc("lustre-osd-zfs-mount", LUSTRE),),
        ),
        Pkg(
            "lustre-dkms",
            LUSTRE,
            "1.el7",
            "Lustre file system kernel modules (DKMS source)",
            requires=("dkms", f"zfs-dkms = {ZFS}"),
            provides=(f"lustre-modules = {LUSTRE}", "lustre-osd"),
            conflicts=("kmod-lustre",),
            files=lustre_dkms_files,
            post=lustre_post,
            preun=lustre_preun,
        ),
        Pkg(
            "lustre",
            LUSTRE,
            "1.el7",
            "Lustre file system utilities",
            requires=(f"lustre-modules = {LUSTRE}", "lustre-osd"),
            files=(_doc("lustre", LUSTRE),),
        ),
        Pkg(
            "lustre-resource-agents",
            LUSTRE,
            "1.el7",
            "HA resource agents for Lustre",
            requires=(f"lustre = {LUSTRE}-1.el7",),
            files=(_doc("lustre-resource-agents", LUSTRE),),
        ),
        Pkg(
            "lustre-ldiskfs-zfs",
            LUSTRE,
            "1.el7",
            "Lustre with both ldiskfs and ZFS OSDs (IML's metapackage)",
            requires=(
                "lustre",
                "lustre-dkms",
                "lustre-osd-ldiskfs-mount",
                "lustre-osd-zfs-mount",
                "zfs",
                "lustre-resource-agents",
            ),
            files=(_doc("lustre-ldiskfs-zfs", LUSTRE),),
        ),
        Pkg(
            "spl-dkms",
            ZFS,
            "1.el7_6",
            "Solaris Porting Layer kernel modules (DKMS source)",
            requires=("dkms",),
            provides=(f"spl-kmod = {ZFS}",),
            files=spl_files,
            post=spl_post,
            preun=spl_preun,
        ),
        Pkg(
            "spl",
            ZFS,
            "1.el7_6",
            "Solaris Porting Layer utilities",
            requires=(f"spl-kmod = {ZFS}",),
            files=(_doc("spl", ZFS),),
        ),
        Pkg(
            "zfs-dkms",
            ZFS,
            "1.el7_6",
            "ZFS kernel modules (DKMS source)",
            requires=("dkms", f"spl-dkms = {ZFS}"),
            provides=(f"zfs-kmod = {ZFS}",),
            files=zfs_files,
            post=zfs_post,
            preun=zfs_preun,
        ),
        Pkg(
            "libzfs2",
            ZFS,
            "1.el7_6",
            "Native ZFS filesystem library",
            files=(_doc("libzfs2", ZFS),),
        ),
        Pkg(
            "zfs",
            ZFS,
            "1.el7_6",
            "Commands to control the ZFS kernel modules",
            requires=(f"zfs-kmod = {ZFS}", f"spl = {ZFS}", f"libzfs2 = {ZFS}"),
            files=(_doc("zfs", ZFS),),
        ),
    ]
    lustre_client = [
        Pkg(
            "kmod-lustre-client",
            LUSTRE,
            "1.el7",
            "Lustre client kernel modules",
            files=(_doc("kmod-lustre-client", LUSTRE),),
        ),
        Pkg(
            "lustre-client",
            LUSTRE,
            "1.el7",
            "Lustre client utilities",
            requires=(f"kmod-lustre-client = {LUSTRE}-1.el7",),
            files=(_doc("lustre-client", LUSTRE),),
        ),
    ]
    wc = ("1.44.5.wc1", "0.el7")
    e2fsprogs_wc = [
        Pkg(
            "e2fsprogs-libs",
            *wc,
            "Ext2/3/4 file system libraries (Whamcloud)",
            files=(_doc("e2fsprogs-libs", wc[0]),),
        ),
        Pkg(
            "libcom_err",
            *wc,
            "Common error description library (Whamcloud)",
            files=(_doc("libcom_err", wc[0]),),
        ),
        Pkg(
            "libss",
            *wc,
            "Command line interface parsing library (Whamcloud)",
            files=(_doc("libss", wc[0]),),
        ),
        Pkg(
            "e2fsprogs",
            *wc,
            "Utilities for ext2/3/4 with ldiskfs support (Whamcloud)",
            requires=(
                f"e2fsprogs-libs = {wc[0]}-{wc[1]}",
                f"libcom_err = {wc[0]}-{wc[1]}",
                f"libss = {wc[0]}-{wc[1]}",
            ),
            provides=(f"ldiskfsprogs = {wc[0]}",),
            files=(_doc("e2fsprogs", wc[0]),),
        ),
        Pkg(
            "e2fsprogs-devel",
            *wc,
            "Ext2/3/4 development files (Whamcloud)",
            requires=(f"e2fsprogs-libs = {wc[0]}-{wc[1]}",),
            files=(_doc("e2fsprogs-devel", wc[0]),),
        ),
    ]
    manager_copr = [
        Pkg(
            "python2-iml-common1.4",
            "1.4.5",
            "1.el7",
            "Common library of IML",
            files=(_doc("python2-iml-common1.4", "1.4.5"),),
        ),
    ]
    dnf_copr = [
        Pkg(
            "python2-dnf",
            "2.7.5",
            "12.el7",
            "Python 2 interface to DNF (COPR ngompa/dnf-el7)",
            files=(_doc("python2-dnf", "2.7.5"),),
        ),
    ]
    agent_unit = (
        "[Unit]\nDescription=IML Agent Daemon (lab)\nAfter=network.target\n\n"
        "[Service]\nType=simple\nExecStart=/usr/bin/chroma-agent --daemon\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
    iml_agent = [
        Pkg(
            "chroma-agent",
            IML,
            "1.el7",
            "IML Agent (lab: resource agent, fencing, daemon)",
            requires=("python2-iml-common1.4", "python2-dnf"),
            files=(
                ("/usr/bin/chroma-agent", payload["chroma-agent"], 0o755),
                ("/usr/lib/ocf/resource.d/chroma/Target", payload["Target"], 0o755),
                ("/usr/sbin/fence_chroma", payload["fence_chroma.py"], 0o755),
                ("/usr/sbin/fence_lab", payload["fence_lab.py"], 0o755),
                ("/usr/lib/systemd/system/chroma-agent.service", agent_unit, 0o644),
            ),
        ),
        Pkg(
            "chroma-diagnostics",
            IML,
            "1.el7",
            "IML diagnostics",
            requires=(f"chroma-agent = {IML}-1.el7",),
            files=(_doc("chroma-diagnostics", IML),),
        ),
    ]
    return {
        "base": base,
        "base-updates": [],
        "base-extras": extras,
        "epel": epel,
        "lustre-server": lustre_server,
        "lustre-client": lustre_client,
        "e2fsprogs-wc": e2fsprogs_wc,
        "manager-for-lustre": manager_copr,
        "dnf-el7": dnf_copr,
        "iml-agent": iml_agent,
        "iml-manager": [
            _manager_package(
                "python2-iml-manager",
                IML,
                "1.el7",
                payload,
                bundle=(
                    ("iml-agent", ("chroma-agent", "chroma-diagnostics")),
                    "/var/lib/chroma/repo/iml-agent/7",
                ),
            )
        ],
        "el6-os": _el6_packages(repos, payload),
    }


POSTGRESQL_UNIT = """\
[Unit]
Description=PostgreSQL database server (lab: the host's PostgreSQL 15)
After=network.target

[Service]
Type=notify
User=postgres
Group=postgres
Environment=PGDATA=/var/lib/pgsql/data
RuntimeDirectory=postgresql
RuntimeDirectoryMode=2775
ExecStartPre=/usr/libexec/postgresql-check-db-dir
ExecStart=/usr/lib/postgresql/15/bin/postgres -D ${PGDATA} -p 5432 \
 -c listen_addresses=127.0.0.1 -c unix_socket_directories=/var/run/postgresql
KillSignal=SIGINT
TimeoutStartSec=60
TimeoutStopSec=60

[Install]
WantedBy=multi-user.target
"""
POSTGRESQL_CHECK = """\
#!/bin/sh
# The data directory must be initialised (chroma-config setup does it when it is empty).
PGDATA=${PGDATA:-/var/lib/pgsql/data}
if [ ! -f "$PGDATA/PG_VERSION" ]; then
    echo "Directory \"$PGDATA\" is missing or empty." >&2
    exit 1
fi
"""
MANAGER_UNIT = """\
[Unit]
Description=IML manager (lab stand-in: HTTPS /repo/ and /api/health)
After=network.target postgresql.service

[Service]
Type=simple
ExecStart=/usr/lib/chroma-manager/manager-https

[Install]
WantedBy=multi-user.target
"""


def _postgresql(version):
    """PostgreSQL's packages at EL's names and version, carrying the host's PostgreSQL 15
    (hidden from the image until installed, lablib.hostpkgs)."""
    v, r = version
    return [
        Pkg(
            "postgresql-libs",
            v,
            r,
            "The shared libraries for PostgreSQL clients",
            files=(_doc("postgresql-libs", v),),
        ),
        Pkg(
            "postgresql",
            v,
            r,
            "PostgreSQL client programs (lab: the host's PostgreSQL 15 psql, pg_dumpall...)",
            requires=(f"postgresql-libs = {v}-{r}",),
            files=tuple(host_files("postgresql")),
        ),
        Pkg(
            "postgresql-server",
            v,
            r,
            "The programs needed to create and run a PostgreSQL server (lab: the host's 15)",
            requires=(f"postgresql = {v}-{r}",),
            files=(
                *host_files("postgresql-server"),
                ("/usr/lib/systemd/system/postgresql.service", POSTGRESQL_UNIT, 0o644),
                ("/usr/libexec/postgresql-check-db-dir", POSTGRESQL_CHECK, 0o755),
            ),
        ),
    ]


def _manager_package(name, version, release, payload, bundle):
    """The IML manager's lab stand-in package (chroma-config, the HTTPS service, the agent
    repository it serves)."""
    return Pkg(
        name,
        version,
        release,
        "Intel Manager for Lustre manager (lab stand-in: chroma-config, HTTPS service)",
        requires=("postgresql-server",),
        files=(
            ("/usr/bin/chroma-config", payload["chroma-config"], 0o755),
            (
                "/usr/lib/chroma-manager/chroma_manager_lab.py",
                payload["chroma_manager_lab.py"],
                0o644,
            ),
            ("/usr/lib/chroma-manager/manager-https", payload["chroma-manager-https"], 0o755),
            (
                "/usr/share/chroma-manager/release.json",
                json.dumps({"release": version, "package": name}) + "\n",
                0o644,
            ),
            ("/usr/lib/systemd/system/chroma-manager.service", MANAGER_UNIT, 0o644),
        ),
        bundle=bundle,
    )


def _python_lxml(node_salt):
    """EPEL's python36-lxml: lxml for the nodes' Salt, into its site-packages."""
    root = Path(node_salt["lxml"])
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            files.append(
                (
                    f"{node_salt['site_packages']}/{path.relative_to(root)}",
                    Symlink(os.readlink(path)),
                    0o777,
                )
            )
        elif path.is_file() and "__pycache__" not in path.parts:
            target = f"{node_salt['site_packages']}/{path.relative_to(root)}"
            files.append((target, path.read_bytes(), path.stat().st_mode & 0o755 | 0o644))
    version = next(
        (p.name.split("-")[1].removesuffix(".dist-info") for p in root.glob("lxml-*.dist-info")),
        "0",
    )
    return Pkg(
        "python36-lxml",
        version,
        "1.el7",
        "XML processing library for the nodes' Salt (lab: lxml in its site-packages)",
        provides=(f"python3-lxml = {version}",),
        files=tuple(files),
    )


# What a fresh EL7 install of the lab has (installed into the image's rpmdb).
BASE_OS = (
    "centos-release",
    "bash",
    "systemd",
    "kmod",
    "yum",
    "e2fsprogs",
    "e2fsprogs-libs",
    "libcom_err",
    "libss",
    "kernel",
    "kernel-tools",
    "kernel-tools-libs",
    "salt",
    "salt-minion",
)
# What the kickstart of a node installs besides, by the node's life (repository, names):
# an old IML server (its whole EL6 OS), or an EL7 server with its cluster stack.
# What the manager node's kickstart installs, by its life: an IML 2.4 manager on EL6, or
# the IML 4.0 manager orch.upgrade_manager leaves on EL7.
MANAGER_EL6_ONLY = ("postgresql-libs", "postgresql", "postgresql-server", "chroma-manager")
NODE_SETS = {
    "el6": (("el6-os", None),),
    "manager-el6": (
        (
            "el6-os",
            (
                "centos-release",
                "bash",
                "yum",
                "initscripts",
                "chkconfig",
                "upstart",
                "kernel",
                *MANAGER_EL6_ONLY,
            ),
        ),
    ),
    "manager-el7": (
        ("base", BASE_OS),
        (
            "base",
            (
                "yum-utils",
                "createrepo",
                "postgresql-libs",
                "postgresql",
                "postgresql-server",
                "ntpdate",
                "ntp",
            ),
        ),
        ("iml-manager", ("python2-iml-manager",)),
    ),
    "el7": (
        ("base", BASE_OS),
        (
            "base",
            (
                "corosynclib",
                "corosync",
                "pacemaker-libs",
                "pacemaker-cli",
                "pacemaker",
                "resource-agents",
                "pcs",
                "fence-agents-all",
            ),
        ),
        ("manager-for-lustre", ("python2-iml-common1.4",)),
        ("dnf-el7", ("python2-dnf",)),
        ("iml-agent", ("chroma-agent",)),
    ),
}


def spec_text(pkg):
    lines = [
        f"Name: {pkg.name}",
        f"Version: {pkg.version}",
        f"Release: {pkg.release}",
        f"Summary: {pkg.summary}",
        "License: lab",
        "BuildArch: noarch",
        "AutoReqProv: no",
        "%global debug_package %{nil}",
        "%global __os_install_post %{nil}",
        "%global _build_id_links none",
    ]
    if any(isinstance(content, bytes) for _path, content, _mode in pkg.files):
        # The cluster stack's RPMs carry the host's binaries.
        lines.append("%global _binaries_in_noarch_packages_terminate_build 0")
    lines += [f"Requires: {r}" for r in pkg.requires]
    if pkg.post and "dkms" in pkg.post:
        lines.append("Requires(post): dkms")
    lines += [f"Provides: {p}" for p in pkg.provides]
    lines += [f"Conflicts: {c}" for c in pkg.conflicts]
    lines += [
        "",
        "%description",
        f"{pkg.summary}. A lab package: see lab/README.md.",
        "",
        "%install",
    ]
    for index, (path, content, mode) in enumerate(pkg.files):
        if isinstance(content, Symlink):
            parent = os.path.dirname(path)
            lines.append(f'mkdir -p "%{{buildroot}}{parent}"')
            lines.append(f'ln -s "{content}" "%{{buildroot}}{path}"')
        else:
            lines.append(f'install -D -m {mode:o} %{{_sourcedir}}/f{index} "%{{buildroot}}{path}"')
    if pkg.post:
        lines += ["", "%post", pkg.post.rstrip()]
    if pkg.preun:
        lines += ["", "%preun", pkg.preun.rstrip()]
    lines += ["", "%files"]
    for path, content, _mode in pkg.files:
        quoted = f'"{path}"'
        config = path.startswith("/etc/") and not isinstance(content, Symlink)
        lines.append(f"%config(noreplace) {quoted}" if config else quoted)
    return "\n".join(lines) + "\n"


def cache_key(tree):
    digest = hashlib.sha256(BUILDER_VERSION.encode())
    for repo_name in sorted(tree):
        digest.update(repo_name.encode())
        for pkg in tree[repo_name]:
            digest.update(spec_text(pkg).encode())
            for _path, content, _mode in pkg.files:
                digest.update(_content_digest(content))
            digest.update(repr(pkg.bundle).encode())
    return digest.hexdigest()[:20]


def _content_digest(content):
    if isinstance(content, Symlink):
        return b"symlink:" + content.encode()
    if isinstance(content, bytes):
        return hashlib.sha256(content).digest()
    return hashlib.sha256(content.encode()).digest()


def _build_one(pkg, workdir, out_dir):
    top = Path(workdir) / pkg.nvr
    (top / "SOURCES").mkdir(parents=True)
    for index, (_path, content, _mode) in enumerate(pkg.files):
        if isinstance(content, Symlink):
            continue
        source = top / "SOURCES" / f"f{index}"
        if isinstance(content, bytes):
            source.write_bytes(content)
        else:
            source.write_text(content)
    spec = top / f"{pkg.name}.spec"
    spec.write_text(spec_text(pkg))
    run(
        [
            "rpmbuild",
            "-bb",
            "--quiet",
            "--define",
            f"_topdir {top}",
            "--define",
            f"_rpmdir {out_dir}",
            "--define",
            "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
            str(spec),
        ],
        timeout=120,
    )


def _manager_repo_file(repos):
    url = repos.get("iml-agent", "")
    return (
        f"[manager-for-lustre-agent]\nname=Manager for Lustre agent (lab)\nbaseurl={url}\n"
        "enabled=1\ngpgcheck=0\n"
    )


def lab_repos(spec):
    """The pillar's repositories plus the lab's own (the old servers' EL6 OS)."""
    return {**spec.repos, "el6-os": f"http://{spec.hub}:{spec.repo_port}/el6-os"}


def ensure_repository(spec, run_dir, log=print, node_salt=None):
    """The cached repository tree for this lab's inputs (built when missing)."""
    tree = packages(lab_repos(spec), node_salt)
    key = cache_key({**tree, "manager-file": [Pkg("f", "1", "1", _manager_repo_file(spec.repos))]})
    cache = Path(spec.cache_dir)
    final = cache / f"repo-{key}"
    if (final / "complete").exists():
        return final / "repos"
    cache.mkdir(parents=True, exist_ok=True)
    log(f"building the lab RPMs into {final} (once per set of inputs)")
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
    try:
        repos_dir = work / "repos"
        jobs = []
        with concurrent.futures.ThreadPoolExecutor(max(2, os.cpu_count() or 2)) as pool:
            # Packages that carry a repository are built once its RPMs exist.
            for repo_name, pkgs in tree.items():
                out = repos_dir / repo_name
                out.mkdir(parents=True)
                jobs += [
                    pool.submit(_build_one, pkg, work / "build" / repo_name, out)
                    for pkg in pkgs
                    if not pkg.bundle
                ]
            for job in jobs:
                job.result()
            jobs = []
            for repo_name, pkgs in tree.items():
                for pkg in pkgs:
                    if pkg.bundle:
                        _add_bundle(pkg, tree, repos_dir, work / "bundle" / pkg.name)
                        jobs.append(
                            pool.submit(
                                _build_one, pkg, work / "build" / repo_name, repos_dir / repo_name
                            )
                        )
            for job in jobs:
                job.result()
            list(
                pool.map(
                    lambda d: run(["createrepo_c", "--quiet", "--no-database", str(d)]),
                    sorted(repos_dir.iterdir()),
                )
            )
        (repos_dir / "repo").mkdir()
        (repos_dir / "repo" / "Manager-for-Lustre.repo").write_text(_manager_repo_file(spec.repos))
        _stage(tree, repos_dir, (("base", BASE_OS),), work / "baseos")
        for life, sets in NODE_SETS.items():
            _stage(tree, repos_dir, sets, work / f"node-{life}")
        shutil.rmtree(work / "build", ignore_errors=True)
        (work / "manifest.json").write_text(
            json.dumps({repo: [p.nvr for p in pkgs] for repo, pkgs in tree.items()}, indent=2)
        )
        (work / "complete").write_text(key + "\n")
        try:
            os.rename(work, final)
        except OSError:
            if not (final / "complete").exists():  # another run won the race: use theirs
                raise
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return final / "repos"


def _add_bundle(pkg, tree, repos_dir, work):
    """Put the repository `pkg.bundle` names (its RPMs, indexed by createrepo_c) into the
    package's files."""
    (source, names), target = pkg.bundle
    work.mkdir(parents=True)
    by_name = {p.name: p for p in tree[source]}
    for name in names:
        rpm = f"{by_name[name].nvr}.noarch.rpm"
        shutil.copy2(repos_dir / source / rpm, work / rpm)
    run(["createrepo_c", "--quiet", "--no-database", str(work)])
    files = [
        (f"{target}/{path.relative_to(work)}", path.read_bytes(), 0o644)
        for path in sorted(work.rglob("*"))
        if path.is_file()
    ]
    pkg.files = tuple(pkg.files) + tuple(files)


def _stage(tree, repos_dir, sets, root):
    """Install package sets ((repository, names or None for all)) into an empty root with
    its own rpmdb (no scriptlets: no chroot)."""
    rpms = []
    for repo_name, names in sets:
        by_name = {p.name: p for p in tree[repo_name]}
        # A whole repository (an old server's EL6 set) without the manager's packages.
        every = [n for n in by_name if n not in MANAGER_EL6_ONLY]
        for name in names if names is not None else every:
            rpms.append(str(repos_dir / repo_name / f"{by_name[name].nvr}.noarch.rpm"))
    root.mkdir(parents=True)
    run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "--initdb"])
    run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-i", "--noscripts", *rpms])


def install_base_os(spec, image_dir, repo_dir):
    """Merge the staged base OS (files + rpmdb) into the image layers."""
    if repo_dir is None:
        return
    copy_staged(Path(repo_dir).parent / "baseos", Path(image_dir))


def node_set(repo_dir, life):
    """The staged packages a node's kickstart installs in that life (see NODE_SETS)."""
    return Path(repo_dir).parent / f"node-{life}"


def copy_staged(staged, root_of):
    """Copy a staged root into layers: root_of / <top-level dir> (a node disk's upper
    dirs, or the image's)."""
    for entry in Path(staged).iterdir():
        name = entry.name
        if name in ("lib", "bin", "sbin"):  # EL7 is usr-merged, like Debian 12
            target = Path(root_of) / "usr" / name
        else:
            target = Path(root_of) / name
        shutil.copytree(entry, target, symlinks=True, dirs_exist_ok=True)
