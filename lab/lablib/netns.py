"""The lab network: a hub namespace with a bridge (master, repository, power switch) and
one namespace per node (the pair's two and the IML manager node, all on the bridge). Ring 0 is the bridge; every further ring is a direct veth between
the two nodes, as IML's crossover ring1. Every link is created inside a lab namespace
(never in the host's), every name carries the run id, and no namespace has a route out.
"""

import ipaddress
import os

from .proc import run
from .state import is_run_id, netns_prefix


def hub_ns(run_id):
    return f"{netns_prefix(run_id)}hub"


def node_ns(run_id, minion):
    return f"{netns_prefix(run_id)}{minion}"


def exists(name):
    return os.path.exists(f"/run/netns/{name}")


def netns_mount_present():
    """Is /run/netns a mount point (ip creates it on the first `ip netns add`)?"""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            return any(line.split()[4] == "/run/netns" for line in handle)
    except OSError:
        return False


def add(name, state):
    state.add_netns(name)  # recorded first: a crash right after still gets it removed
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "lo", "up"])


def processes_in(name):
    """PIDs of the processes whose network namespace is the named one."""
    try:
        inode = os.stat(f"/run/netns/{name}").st_ino
    except FileNotFoundError:
        return []
    wanted = f"net:[{inode}]"
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/net") == wanted:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def delete(name, run_id):
    if not is_run_id(run_id) or not name.startswith(netns_prefix(run_id)):
        raise ValueError(f"refusing to delete namespace {name!r}: not one of run {run_id}")
    if exists(name):
        run(["ip", "netns", "del", name], check=False)


def build(spec, run_id, state):
    """Create the namespaces and links; (hub, {minion: netns name}) of every node."""
    hub = hub_ns(run_id)
    add(hub, state)
    bridge = f"br{run_id}"
    prefix = ipaddress.IPv4Network(spec.ring_networks[0]).prefixlen
    run(["ip", "-n", hub, "link", "add", bridge, "type", "bridge"])
    run(["ip", "-n", hub, "addr", "add", f"{spec.hub}/{prefix}", "dev", bridge])
    run(["ip", "-n", hub, "link", "set", bridge, "up"])
    namespaces = {}
    # The pair's nodes and the manager node (index 0: its link is h<id>n0).
    for node in spec.machines:
        ns = node_ns(run_id, node.minion)
        add(ns, state)
        namespaces[node.minion] = ns
        hub_end, node_end = f"h{run_id}n{node.index}", f"e{run_id}r0"
        run(
            [
                "ip",
                "-n",
                hub,
                "link",
                "add",
                hub_end,
                "type",
                "veth",
                "peer",
                "name",
                node_end,
                "netns",
                ns,
            ]
        )
        run(["ip", "-n", hub, "link", "set", hub_end, "master", bridge, "up"])
        run(["ip", "-n", ns, "addr", "add", f"{node.rings[0]}/{prefix}", "dev", node_end])
        run(["ip", "-n", ns, "link", "set", node_end, "up"])
    first, second = spec.nodes
    for ring in range(1, len(first.rings)):
        prefix = ipaddress.IPv4Network(spec.ring_networks[ring]).prefixlen
        a_end, b_end = f"e{run_id}r{ring}", f"e{run_id}r{ring}"
        ns_a, ns_b = namespaces[first.minion], namespaces[second.minion]
        run(
            [
                "ip",
                "-n",
                ns_a,
                "link",
                "add",
                a_end,
                "type",
                "veth",
                "peer",
                "name",
                b_end,
                "netns",
                ns_b,
            ]
        )
        for ns, end, node in ((ns_a, a_end, first), (ns_b, b_end, second)):
            run(["ip", "-n", ns, "addr", "add", f"{node.rings[ring]}/{prefix}", "dev", end])
            run(["ip", "-n", ns, "link", "set", end, "up"])
    return hub, namespaces
