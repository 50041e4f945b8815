"""
Whether a cluster is fit for an online upgrade step, read from one ``crm_mon`` XML
snapshot (Pacemaker 1.1's ``--as-xml`` or 2.x's ``--output-as=xml``, which keep these
elements alike): quorum, the nodes' states, failed actions, cluster-wide maintenance.

Findings are records ``{"check", "severity", "message", "remedy"}`` rather than
exceptions, so a preflight reports every problem at once; an ``inhibitor`` stops the run
before any change, a ``warning`` is reported and lets it go on.
"""

from salt.exceptions import CommandExecutionError

from . import cib

INHIBITOR = "inhibitor"
WARNING = "warning"
_TRUE = ("true", "1")


def _flag(element, name):
    return (element.get(name) or "").lower() in _TRUE


def read_crm_mon(xml, source="crm_mon"):
    """
    ``{"quorum", "dc", "maintenance_mode", "nodes": {name: {"online", "standby",
    "maintenance", "unclean", "shutdown"}}, "failures": [{"op_key", "node", "task",
    "exitstatus", "exitreason"}]}`` from crm_mon XML. ``quorum`` is None where crm_mon
    shows no DC (no partition has one).
    """
    root = cib.parse_xml(xml, source)
    if root.tag not in ("crm_mon", "pacemaker-result"):
        raise CommandExecutionError(
            f"{source}: <{root.tag}> is not crm_mon XML; give `crm_mon --one-shot --as-xml` "
            "(or --output-as=xml) output"
        )
    cib.parse_root(root, source)  # crm_mon's own error report becomes the error
    summary = root.find("summary")
    dc = summary.find("current_dc") if summary is not None else None
    options = summary.find("cluster_options") if summary is not None else None
    present = dc is not None and _flag(dc, "present")
    health = {
        "quorum": _flag(dc, "with_quorum") if present else None,
        "dc": dc.get("name") if present else None,
        "maintenance_mode": options is not None and _flag(options, "maintenance-mode"),
        "nodes": {},
        "failures": [],
    }
    nodes = root.find("nodes")
    for node in nodes.iterchildren("node") if nodes is not None else ():
        health["nodes"][node.get("name")] = {
            flag: _flag(node, flag)
            for flag in ("online", "standby", "maintenance", "unclean", "shutdown")
        }
    failures = root.find("failures")
    for failure in failures.iterchildren("failure") if failures is not None else ():
        health["failures"].append(
            {
                key: failure.get(key)
                for key in ("op_key", "node", "task", "exitstatus", "exitreason")
            }
        )
    return health


def finding(check, message, remedy, severity=INHIBITOR):
    return {"check": check, "severity": severity, "message": message, "remedy": remedy}


def findings(health, nodes):
    """
    What keeps the cluster of ``nodes`` (its members' names, as crm_mon shows them) from
    an online upgrade step: no quorum, a member missing, offline, in standby or in
    maintenance, cluster-wide maintenance-mode, failed actions.
    """
    found = []
    if health["quorum"] is not True:
        found.append(
            finding(
                "quorum",
                "the cluster has no quorum"
                + (f" (DC {health['dc']})" if health["dc"] else " and no DC"),
                "bring every node of the pair online (`crm_mon -1` shows which is missing)",
            )
        )
    if health["maintenance_mode"]:
        found.append(
            finding(
                "maintenance-mode",
                "the cluster is in maintenance-mode: Pacemaker does not move targets",
                "crm_attribute --type crm_config --name maintenance-mode --update false",
            )
        )
    for name in nodes:
        state = health["nodes"].get(name)
        if state is None:
            found.append(
                finding(
                    "membership",
                    f"node {name} is not a member of the cluster "
                    f"(members: {', '.join(sorted(health['nodes'])) or 'none'})",
                    "check the pillar's old_name against `crm_node -l` on the node",
                )
            )
            continue
        if not state["online"] or state["unclean"]:
            found.append(
                finding(
                    "online",
                    f"node {name} is " + ("unclean" if state["unclean"] else "offline"),
                    f"start the cluster on {name} (service pacemaker start) and wait until "
                    "crm_mon shows it online",
                )
            )
        if state["standby"]:
            found.append(
                finding(
                    "standby",
                    f"node {name} is in standby",
                    f"crm_attribute --type nodes --node {name} --name standby --update off",
                )
            )
        if state["maintenance"]:
            found.append(
                finding(
                    "maintenance",
                    f"node {name} is in maintenance",
                    f"crm_attribute --type nodes --node {name} --name maintenance --update off",
                )
            )
    for failure in health["failures"]:
        resource = (failure["op_key"] or "").rsplit("_", 2)[0]
        found.append(
            finding(
                "failed-action",
                f"failed action {failure['op_key']} on {failure['node']}: "
                f"{failure['exitstatus']}"
                + (f" ({failure['exitreason']})" if failure["exitreason"] else ""),
                f"fix the cause, then crm_resource --cleanup --resource {resource} "
                f"--node {failure['node']}",
            )
        )
    return found


def _member(value):
    # in_ccm is "true"/"false" up to Pacemaker 2.1.6, a timestamp (or "0") after.
    return (value or "false").lower() not in ("false", "0", "")


def read_cib_health(root_xml, crm_config_xml, status_xml, node_flags, source="cibadmin"):
    """
    ``read_crm_mon``'s record, from what a node answers without its node attributes:
    ``cibadmin --query --no-children`` (quorum, DC), ``--scope crm_config``
    (maintenance-mode) and ``--scope status`` (membership, failed actions), plus
    ``node_flags`` ``{node: {"standby": "on"|"off", "maintenance": ...}}`` from
    ``crm_attribute --query``. crm_mon's XML would carry the node attributes, and IML
    keeps the fence passwords there.
    """
    root = cib.parse_xml(root_xml, f"{source} --no-children")
    config = cib.parse_xml(crm_config_xml, f"{source} --scope crm_config")
    status = cib.parse_xml(status_xml, f"{source} --scope status")
    properties = {}
    for cps in config.iter("cluster_property_set"):
        for name, value in cib.set_values(cps).items():
            properties.setdefault(name, value)
    by_id, nodes = {}, {}
    for state in status.iterchildren("node_state"):
        name = state.get("uname") or state.get("id")
        by_id[state.get("id")] = name
        flags = node_flags.get(name) or {}
        nodes[name] = {
            "online": _member(state.get("in_ccm"))
            and state.get("crmd") == "online"
            and state.get("join") == "member",
            "standby": (flags.get("standby") or "off").lower() in ("on", "true", "1", "yes"),
            "maintenance": (flags.get("maintenance") or "off").lower()
            in ("on", "true", "1", "yes"),
            "unclean": False,
            "shutdown": False,
        }
    dc = by_id.get(root.get("dc-uuid"))
    return {
        "quorum": (root.get("have-quorum") or "0").lower() in _TRUE if dc else None,
        "dc": dc,
        "maintenance_mode": (properties.get("maintenance-mode") or "").lower() in _TRUE,
        "nodes": nodes,
        "failures": _last_failures(status),
    }


def _last_failures(status):
    """Pacemaker keeps a resource's last failure per node as ``<rsc>_last_failure_0``."""
    failures = []
    for state in status.iterchildren("node_state"):
        node = state.get("uname") or state.get("id")
        for op in state.iterfind("lrm/lrm_resources/lrm_resource/lrm_rsc_op"):
            if not (op.get("id") or "").endswith("_last_failure_0"):
                continue
            rsc = op.getparent().get("id")
            interval = op.get("interval") or "0"
            failures.append(
                {
                    "op_key": f"{rsc}_{op.get('operation')}_{interval}",
                    "node": node,
                    "task": op.get("operation"),
                    "exitstatus": op.get("rc-code"),
                    "exitreason": op.get("exit-reason") or None,
                }
            )
    return failures
