"""
Master-side checks and reports of the Lustre HA pair upgrade.

The orchestrations call these functions between their phases; they read the master's
pillar (``lustre_upgrade``) and ask the pair's minions with core functions only, since
nodes still on EL6 cannot run this extension's modules.
"""

import logging

import salt.client

log = logging.getLogger(__name__)

__virtualname__ = "lustre_upgrade"

OSD_FLAVOURS = ("ldiskfs", "zfs", "ldiskfs-zfs")
NODE_KEYS = ("minion", "old_name", "fqdn")


def __virtual__():
    return __virtualname__


def validate_pair(pair, config):
    """
    Return the findings (strings, each naming a pillar key) that make ``pair`` unusable.

    ``config`` is the ``lustre_upgrade`` pillar dictionary.
    """
    findings = []
    if not pair:
        return ["no pair given: run salt-run state.orch orch.upgrade_pair pillar='{pair: <name>}'"]
    if not isinstance(config, dict):
        return ["pillar key lustre_upgrade is missing: see pillar.example/lustre_upgrade/"]
    pairs = config.get("pairs")
    if not isinstance(pairs, dict) or pair not in pairs:
        known = ", ".join(sorted(pairs)) if isinstance(pairs, dict) else "none"
        return [f"pillar key lustre_upgrade:pairs:{pair} is missing (pairs defined: {known})"]
    prefix = f"lustre_upgrade:pairs:{pair}"
    nodes = pairs[pair].get("nodes") if isinstance(pairs[pair], dict) else None
    if not isinstance(nodes, list) or len(nodes) != 2:
        return [f"pillar key {prefix}:nodes must list exactly the pair's two nodes"]
    default_osd = pairs[pair].get("osd", config.get("osd"))
    for index, node in enumerate(nodes):
        where = f"{prefix}:nodes:{index}"
        if not isinstance(node, dict):
            findings.append(f"pillar key {where} must be a mapping with {', '.join(NODE_KEYS)}")
            continue
        findings += [
            f"pillar key {where}:{key} is missing" for key in NODE_KEYS if not node.get(key)
        ]
        fqdn = node.get("fqdn") or ""
        if fqdn and "." not in fqdn:
            findings.append(f"pillar key {where}:fqdn ({fqdn}) is not a fully qualified name")
        if (
            fqdn != fqdn.lower()
            or (node.get("old_name") or "") != (node.get("old_name") or "").lower()
        ):
            findings.append(f"pillar key {where}: node names must be lowercase for Pacemaker")
        osd = node.get("osd", default_osd)
        if osd not in OSD_FLAVOURS:
            findings.append(
                f"pillar key {where}:osd (or {prefix}:osd, lustre_upgrade:osd) is {osd!r}; "
                f"expected one of {', '.join(OSD_FLAVOURS)}"
            )
    for key in ("minion", "old_name", "fqdn"):
        values = [n.get(key) for n in nodes if isinstance(n, dict)]
        if len(values) == 2 and values[0] and values[0] == values[1]:
            findings.append(f"pillar key {prefix}:nodes: both nodes have {key} {values[0]!r}")
    return findings


def preflight(pair=None):
    """
    Phase 0 of ``orch.upgrade_pair``: check that the pair can be upgraded, change nothing.

    Returns a report ``{"pair", "nodes", "inhibitors", "ok"}``; any inhibitor makes the
    runner fail so the orchestration stops before its first change.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.preflight pair=oss1
    """
    config = _pillar().get("lustre_upgrade")
    inhibitors = validate_pair(pair, config)
    nodes = []
    if not inhibitors:
        nodes = [dict(node) for node in config["pairs"][pair]["nodes"]]
        inhibitors += _check_reachable(nodes)
    report = {"pair": pair, "nodes": nodes, "inhibitors": inhibitors, "ok": not inhibitors}
    if inhibitors:
        __context__["retcode"] = 1
    return report


def _pillar():
    return __salt__["pillar.show_pillar"]()


def _check_reachable(nodes):
    minions = [node["minion"] for node in nodes]
    client = salt.client.get_local_client(__opts__["conf_file"])
    grains = client.cmd(
        minions, "grains.item", ["os_family", "osmajorrelease", "fqdn"], tgt_type="list", timeout=30
    )
    findings = []
    for node in nodes:
        answer = grains.get(node["minion"])
        if not isinstance(answer, dict):
            findings.append(
                f"minion {node['minion']} did not answer: start its salt-minion and check "
                f"`salt-key -L` on the master"
            )
            continue
        node["os_family"] = answer.get("os_family")
        node["osmajorrelease"] = answer.get("osmajorrelease")
    return findings
