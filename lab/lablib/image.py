"""The lab's "fresh EL7 install": read-only layers stacked over the host's /etc, /usr, /var.

A node's OS is overlayfs: upper = the node's own disk, lower = IMAGE/<dir> over the host's
<dir> (for /etc, /usr, /var: the host provides the Debian libraries, python, the tools) or
IMAGE/<dir> alone (for /root, /boot, /mnt: nothing of the host's; /opt: the nodes' Salt,
lablib.nodesalt). The image hides, with overlayfs whiteouts and opaque directories, what
would look like cluster configuration on a fresh OS (the host's default corosync.conf, its
unit enablement) and the host's cluster stack itself (the commands, daemons, units and
agents the stack's RPMs carry: lablib.hostpkgs), and holds the fresh install's packages
(the lab's base OS RPMs, with their rpmdb: see repo.py) and the lab's "firmware": its init
(/usr/lib/lab/unitctl, the unit engine behind systemctl, or EL6's service/chkconfig) and a
uname that answers the kernel the lab booted.
"""

import os
import shutil
import stat
from pathlib import Path

NODEOS = Path(__file__).resolve().parent / "nodeos"
UNITCTL = "/usr/lib/lab/unitctl"
SALT_PREFIX = "/opt/saltstack/salt"
OVERLAID_FROM_HOST = ("etc", "usr", "var")
OVERLAID_IMAGE_ONLY = ("root", "opt", "boot", "mnt")
OS_RELEASE = {
    "name": "CentOS Linux",
    "version": "7 (Core)",
    "release": "7.6.1810",
    "pretty": "CentOS Linux 7 (Core)",
}


def write(path, text, mode=0o644, owner=None):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".lab-tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    if owner:
        shutil.chown(tmp, *owner)
    os.replace(tmp, path)


def whiteout(path):
    """Hide `path` of the lower layers (overlayfs whiteout: a 0/0 character device)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def opaque_dir(path):
    """A directory that hides the lower layers' content of the same path."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    os.setxattr(path, "trusted.overlay.opaque", b"y")


def salt_minion_unit():
    return """[Unit]
Description=The Salt Minion
Documentation=man:salt-minion(1)
After=network.target

[Service]
Type=simple
KillMode=process
LimitNOFILE=8192
ExecStart=/usr/bin/salt-minion -c /etc/salt

[Install]
WantedBy=multi-user.target
"""


def build(image_dir, spec, bind_targets, hidden=()):
    """Write the image layers under image_dir. bind_targets: node paths that get host binds
    (their mount points must exist in the image, not on the node's disk); hidden: host
    paths the image whites out (the cluster stack, until its RPMs are installed)."""
    image = Path(image_dir)
    for name in OVERLAID_FROM_HOST + OVERLAID_IMAGE_ONLY:
        (image / name).mkdir(parents=True, exist_ok=True)
    for path in hidden:
        top, _, rest = path.strip("/").partition("/")
        if top in OVERLAID_FROM_HOST and rest:
            whiteout(image / top / rest)
    _etc(image / "etc", spec)
    _usr(image / "usr", spec)
    _var(image / "var")
    write(image / "root/.bashrc", "# .bashrc\nalias rm='rm -i'\n")
    write(image / "root/.bash_profile", "[ -f ~/.bashrc ] && . ~/.bashrc\n")
    os.chmod(image / "root", 0o550)
    for target in bind_targets:
        top, _, rest = target.strip("/").partition("/")
        if top in OVERLAID_IMAGE_ONLY + OVERLAID_FROM_HOST and rest:
            (image / top / rest).mkdir(parents=True, exist_ok=True)


def _etc(etc, spec):
    # A fresh OS has no cluster: hide the Debian default corosync.conf and what the host enabled.
    whiteout(etc / "corosync/corosync.conf")
    whiteout(etc / "corosync/authkey")
    # The host's name is not the node's: kickstart writes /etc/hostname (EL6: sysconfig).
    whiteout(etc / "hostname")
    opaque_dir(etc / "systemd/system/multi-user.target.wants")
    release = f"CentOS Linux release {OS_RELEASE['release']} (Core)\n"
    for name in ("centos-release", "redhat-release", "system-release"):
        write(etc / name, release)
    write(
        etc / "os-release",
        f'NAME="{OS_RELEASE["name"]}"\nVERSION="{OS_RELEASE["version"]}"\nID="centos"\n'
        'ID_LIKE="rhel fedora"\nVERSION_ID="7"\n'
        f'PRETTY_NAME="{OS_RELEASE["pretty"]}"\nCPE_NAME="cpe:/o:centos:centos:7"\n'
        "LAB_STAND_IN=1\n",
    )
    write(
        etc / "hosts",
        "127.0.0.1   localhost localhost.localdomain\n"
        "::1         localhost localhost.localdomain\n",
    )
    # No name server in the lab: lookups fail at once instead of timing out.
    write(etc / "resolv.conf", f"search {spec.domain}\noptions timeout:1 attempts:1\n")
    write(etc / "selinux/config", "SELINUX=disabled\nSELINUXTYPE=targeted\n")
    write(etc / "sysconfig/network", "NETWORKING=yes\n")
    write(etc / "sudoers", "Defaults   !visiblepw\nroot    ALL=(ALL)       ALL\n", mode=0o440)
    write(etc / "rsyslog.conf", "$ModLoad imuxsock\n*.info;mail.none /var/log/messages\n")
    write(
        etc / "rpm/macros.lab",
        "# rpm's database in the node's /var (Debian's rpm: ~/.rpmdb)\n%_dbpath /var/lib/rpm\n",
    )
    # EL7 yum behaviour from dnf: best candidate or fail, keep dependencies on erase.
    write(
        etc / "dnf/dnf.conf",
        "[main]\ngpgcheck=0\ninstallonly_limit=3\nclean_requirements_on_remove=False\n"
        "best=True\nskip_if_unavailable=False\nreposdir=/etc/yum.repos.d\n",
    )
    write(etc / "dnf/plugins/local.conf", "[main]\nenabled = false\n")
    write(
        etc / "yum.conf",
        "[main]\ncachedir=/var/cache/yum/$basearch/$releasever\n"
        "keepcache=0\nlogfile=/var/log/yum.log\ngpgcheck=0\ninstallonly_limit=3\n",
    )
    opaque_dir(etc / "yum.repos.d")
    base = spec.repos.get("base", f"http://{spec.hub}:{spec.repo_port}/base")
    write(
        etc / "yum.repos.d/CentOS-Base.repo",
        f"[base]\nname=CentOS-7 - Base (lab)\nbaseurl={base}\ngpgcheck=0\nenabled=1\n\n"
        f"[updates]\nname=CentOS-7 - Updates (lab)\nbaseurl={base}-updates\ngpgcheck=0\n"
        "enabled=1\n\n"
        f"[extras]\nname=CentOS-7 - Extras (lab)\nbaseurl={base}-extras\ngpgcheck=0\n"
        "enabled=1\n",
    )
    (etc / "salt").mkdir(exist_ok=True)
    (etc / "modprobe.d").mkdir(exist_ok=True)


def _usr(usr, spec):
    write(usr / "lib/systemd/system/salt-minion.service", salt_minion_unit())
    # Salt's package links its commands into /usr/bin (the onedir package does the same).
    for name in ("salt-minion", "salt-call"):
        link = usr / "bin" / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            os.symlink(f"{SALT_PREFIX}/bin/{name}", link)
    # The lab's init (both lives) and the kernel the lab booted.
    write(usr / UNITCTL.removeprefix("/usr/"), (NODEOS / "systemctl.py").read_text(), mode=0o755)
    write(usr / "bin/uname", (NODEOS / "uname").read_text(), mode=0o755)
    # EL7's yum front ends, on the node's dnf.
    write(usr / "bin/yum", '#!/bin/sh\n# lab: EL7 yum is dnf here\nexec dnf "$@"\n', mode=0o755)
    write(
        usr / "bin/yum-config-manager",
        "#!/bin/sh\n# lab: yum-utils' yum-config-manager via dnf config-manager\n"
        'exec dnf config-manager "$@"\n',
        mode=0o755,
    )


def _var(var):
    (var / "log/cluster").mkdir(parents=True, exist_ok=True)
    (var / "log/lab-units").mkdir(parents=True, exist_ok=True)
    (var / "lib/rpm").mkdir(parents=True, exist_ok=True)
    # Nothing of the host's cluster state (it has none, but a fresh OS must not inherit any).
    opaque_dir(var / "lib/pacemaker/cib")
    os.chmod(var / "lib/pacemaker/cib", 0o750)
    shutil.chown(var / "lib/pacemaker/cib", "hacluster", "haclient")
    opaque_dir(var / "lib/pcsd")
    os.chmod(var / "lib/pcsd", 0o700)
