"""
The ``lustre_upgrade`` pillar of one HA pair: what makes it unusable, and each node's OSD
flavour.

Validation returns findings (sentences, each naming the pillar key to fix) instead of
raising at the first one, so the preflight report lists them all. A node is named as the
pillar's comments name it, "node 1" and "node 2" in upgrade order, with its minion id.
"""

EXAMPLE_FILE = "pillar.example/lustre_upgrade/init.sls"

OSD_FLAVOURS = ("ldiskfs", "zfs", "ldiskfs-zfs")
NODE_KEYS = ("minion", "old_name", "fqdn")
REBUILD_HOOKS = ("manual", "command")
CUTOVER_MODES = ("per-target", "all-at-once")


def node_osd(config, pair, node):
    """The OSD flavour of ``node``: its own ``osd``, else the pair's, else the default."""
    pair_config = (config.get("pairs") or {}).get(pair) or {}
    return node.get("osd", pair_config.get("osd", config.get("osd")))


def node_label(index, node):
    """``node 2 (oss1-b)``: the node's place in upgrade order, counted from 1, and its minion."""
    minion = node.get("minion") if isinstance(node, dict) else None
    return f"node {index + 1} ({minion})" if minion else f"node {index + 1}"


def validate_pair(pair, config, source=None):
    """
    The findings (strings, each naming a pillar key) that make ``pair`` unusable; empty
    when the pair can be upgraded. ``config`` is the ``lustre_upgrade`` pillar dictionary;
    ``source``, the pillar file that defines it where known, is named in each finding.
    """
    if not pair:
        return ["no pair given: run salt-run state.orch orch.upgrade_pair pillar='{pair: <name>}'"]
    if not isinstance(config, dict):
        return [f"pillar key lustre_upgrade is missing: see {EXAMPLE_FILE}"]
    findings = _pair_findings(pair, config)
    if source:
        findings = [f"{finding} (in {source})" for finding in findings]
    return findings


def _pair_findings(pair, config):
    pairs = config.get("pairs")
    if not isinstance(pairs, dict) or pair not in pairs:
        known = ", ".join(sorted(pairs)) if isinstance(pairs, dict) else "none"
        return [f"pillar key lustre_upgrade:pairs:{pair} is missing (pairs defined: {known})"]
    prefix = f"lustre_upgrade:pairs:{pair}"
    nodes = pairs[pair].get("nodes") if isinstance(pairs[pair], dict) else None
    if not isinstance(nodes, list) or len(nodes) != 2:
        return [f"pillar key {prefix}:nodes must list exactly the pair's two nodes"]
    findings = []
    for index, node in enumerate(nodes):
        where = f"{prefix}:nodes, {node_label(index, node)}"
        findings += _node_findings(config, pair, where, node)
    for key in NODE_KEYS:
        values = [n.get(key) for n in nodes if isinstance(n, dict)]
        if len(values) == 2 and values[0] and values[0] == values[1]:
            findings.append(f"pillar key {prefix}:nodes: both nodes have {key} {values[0]!r}")
    return findings + _run_findings(config, pair)


def _run_findings(config, pair):
    """The settings of the run itself: the rebuild hook and the cutover mode."""
    findings = rebuild_findings(config)
    mode = ((config.get("pairs") or {}).get(pair) or {}).get("cutover", config.get("cutover"))
    if mode is not None and mode not in CUTOVER_MODES:
        findings.append(
            f"pillar key lustre_upgrade:pairs:{pair}:cutover (or lustre_upgrade:cutover) is "
            f"{mode!r}; expected one of {', '.join(CUTOVER_MODES)}"
        )
    return findings


def rebuild_findings(config):
    """The rebuild hand-off's settings (``lustre_upgrade:rebuild``), a pair's or the
    manager's."""
    findings = []
    rebuild = config.get("rebuild", {})
    if not isinstance(rebuild, dict):
        return ["pillar key lustre_upgrade:rebuild must be a mapping (hook, command, ...)"]
    hook = rebuild.get("hook", "manual")
    if hook not in REBUILD_HOOKS:
        findings.append(
            f"pillar key lustre_upgrade:rebuild:hook is {hook!r}; expected one of "
            f"{', '.join(REBUILD_HOOKS)}"
        )
    command = rebuild.get("command")
    if hook == "command" and (
        not isinstance(command, list)
        or not command
        or not all(isinstance(arg, str) and arg for arg in command)
    ):
        findings.append(
            "pillar key lustre_upgrade:rebuild:command must be the hook's argv, a list of "
            "strings ({minion} becomes the minion id), with hook: command"
        )
    timeout = rebuild.get("timeout", 3600)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        findings.append("pillar key lustre_upgrade:rebuild:timeout must be seconds (> 0)")
    if not isinstance(rebuild.get("auto_resume", False), bool):
        findings.append("pillar key lustre_upgrade:rebuild:auto_resume must be true or false")
    return findings


def _node_findings(config, pair, where, node):
    if not isinstance(node, dict):
        return [f"pillar key {where} must be a mapping with {', '.join(NODE_KEYS)}"]
    findings = [f"pillar key {where}: {key} is missing" for key in NODE_KEYS if not node.get(key)]
    fqdn = node.get("fqdn") or ""
    old_name = node.get("old_name") or ""
    if fqdn and "." not in fqdn:
        findings.append(f"pillar key {where}: fqdn ({fqdn}) is not a fully qualified name")
    if fqdn != fqdn.lower() or old_name != old_name.lower():
        findings.append(f"pillar key {where}: node names must be lowercase for Pacemaker")
    osd = node_osd(config, pair, node)
    if osd not in OSD_FLAVOURS:
        findings.append(
            f"pillar key {where}: osd (or lustre_upgrade:pairs:{pair}:osd, lustre_upgrade:osd) "
            f"is {osd!r}; expected one of {', '.join(OSD_FLAVOURS)}"
        )
    return findings
