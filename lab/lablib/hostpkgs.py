"""The cluster stack of the lab's RPMs (and the manager node's PostgreSQL and createrepo):
the host's Debian binaries, hidden from the nodes' image until the RPM that carries them is
installed.

A node's /usr is an overlay over the host's, so without this a freshly installed node would
have pcs, pcsd, Pacemaker, Corosync and the fence and resource agents before any package
state ran. Each lab RPM of the cluster stack (EL7's pcs, pacemaker, pacemaker-cli,
corosync, resource-agents, fence-agents-all; the same names at EL6 versions on the old
nodes) carries the host files that make it work -- its commands, daemons, unit files,
agents -- and the image whites those paths out (overlayfs whiteouts), so they exist on a
node only once the RPM has put them on its disk. Libraries and Python/Ruby code behind
those entry points stay visible (documented in lab/README.md).
"""

import os
import subprocess
from pathlib import Path

# lab RPM -> (Debian packages, host path prefixes it takes from them)
STACK = {
    "corosync": (("corosync",), ("/usr/sbin/", "/usr/bin/", "/usr/lib/systemd/system/")),
    "pacemaker": (
        ("pacemaker", "pacemaker-resource-agents"),
        ("/usr/sbin/", "/usr/lib/pacemaker/", "/usr/lib/ocf/", "/usr/lib/systemd/system/"),
    ),
    "pacemaker-cli": (("pacemaker-cli-utils",), ("/usr/sbin/",)),
    "pcs": (("pcs",), ("/usr/sbin/", "/usr/lib/systemd/system/", "/usr/share/pcsd/")),
    "resource-agents": (
        ("resource-agents",),
        ("/usr/sbin/", "/usr/lib/ocf/", "/usr/libexec/heartbeat/"),
    ),
    "fence-agents": (("fence-agents",), ("/usr/sbin/fence_",)),
    # The manager node's PostgreSQL (EL6 8.4.20 / EL7 9.2.24 names; the host's 15 runs):
    # the client programs and their pg_wrapper links, and the server's programs.
    "postgresql": (
        ("postgresql-client-15", "postgresql-client-common"),
        ("/usr/lib/postgresql/15/bin/", "/usr/bin/"),
    ),
    "postgresql-server": (("postgresql-15",), ("/usr/lib/postgresql/15/bin/",)),
    # EL7's createrepo (createrepo_c and its companions).
    "createrepo": (("createrepo-c",), ("/usr/bin/",)),
}
# Debian's SysV scripts of those packages: hidden, not carried (the lab's init runs units).
HIDDEN_ONLY_PREFIXES = ("/etc/init.d/",)


class Symlink(str):
    """A symbolic link in a package's payload (its target)."""


def _dpkg_files(package):
    result = subprocess.run(
        ["dpkg-query", "-L", package], capture_output=True, text=True, check=False
    )
    return result.stdout.splitlines() if result.returncode == 0 else []


def _normal(path):
    """The path on a usr-merged system (/lib/x -> /usr/lib/x), the file itself unresolved."""
    head, tail = os.path.split(path)
    return os.path.join(os.path.realpath(head), tail)


def host_files(lab_package):
    """[(node path, Symlink(target) | bytes, mode)] the lab RPM takes from the host."""
    debian, prefixes = STACK[lab_package]
    out = {}
    for package in debian:
        for raw in _dpkg_files(package):
            path = _normal(raw)
            if not path.startswith(prefixes) or path in out:
                continue
            if os.path.islink(path):
                out[path] = (path, Symlink(os.readlink(path)), 0o777)
            elif os.path.isfile(path):
                out[path] = (path, Path(path).read_bytes(), os.stat(path).st_mode & 0o7777)
    return sorted(out.values())


def hidden_paths():
    """Host paths a node's image whites out: every file the stack's RPMs carry, plus the
    packages' SysV scripts."""
    hidden = set()
    for debian, prefixes in STACK.values():
        for package in debian:
            for raw in _dpkg_files(package):
                path = _normal(raw)
                if path.startswith(prefixes + HIDDEN_ONLY_PREFIXES) and (
                    os.path.islink(path) or os.path.isfile(path)
                ):
                    hidden.add(path)
    return sorted(hidden)
