"""
What the pair's run would do (``test=True`` of ``orch.upgrade_pair``), where it stands
(``lustre_upgrade.status``) and what it leaves to the admin, read from the ledger alone:
nothing here touches a node or the ledger.
"""

import time

from . import upgrade_ledger

# What status shows of a node's rebuild (never a backup path or a checksum).
STATUS_NODE_KEYS = ("rebuild", "handed_off", "new_fingerprint", "key_accepted", "verified")


def _steps(pair, config):
    """Per phase, the commands and states it runs, with the pair's names."""
    first, second = config["pairs"][pair]["nodes"]
    rebuild = config.get("rebuild") or {}
    hook = rebuild.get("hook", "manual")
    mode = config["pairs"][pair].get("cutover", config.get("cutover", "per-target"))
    m1, m2, o1, o2 = first["minion"], second["minion"], first["old_name"], second["old_name"]

    def rebuild_steps(minion):
        how = (
            f"run the hook {rebuild.get('command')} ({{minion}} = {minion})"
            if hook == "command"
            else "stop and wait for the admin's reinstall (hook: manual)"
        )
        return [
            f"master: record the fingerprint of {minion}'s key, then salt-key -d {minion}",
            f"master: {how}",
            f"master: accept {minion}'s new key once (pending, another fingerprint)",
            f"master: wait for {minion} to answer and check it runs EL7",
        ]

    def install_steps(minion):
        run = f"pillar lustre_upgrade_run:evacuated_node={minion}"
        return [
            f"{minion}: state.apply lustre.extension ({run}); saltutil.sync_all",
            f"master: lustre_upgrade.deliver_backup {minion} (sealed for its new key)",
            f"{minion}: state.apply lustre.restore (backup, sha256, archive_sha256, {run})",
            f"{minion}: state.highstate ({run}); reboot into the Lustre kernel; highstate again",
        ]

    return {
        "preflight": [
            "master: pillar of the pair, both minions answer, disk space for the backups",
            f"{m1}: cibadmin --query --no-children and --scope crm_config, status, resources, "
            "constraints; crm_attribute --query standby, maintenance (health, targets, bans)",
            f"{m1}, {m2}: curl each repository of lustre_upgrade:repos",
        ],
        "backup": [
            f"master: lustre_upgrade.backup_node {m}, verified on the master" for m in (m1, m2)
        ],
        "evacuate-node1": [
            f"{m2}: crm_attribute --type nodes --node {o1} --name standby --update on",
            f"{m2}: wait until every target runs on {o2}; {m1}: no target mount point mounted",
            f"{m1}: service pacemaker stop; service corosync stop; chkconfig pacemaker/corosync off",
        ],
        "rebuild-node1": rebuild_steps(m1),
        "install-node1": install_steps(m1),
        "new-cluster": [
            f"{m1}: pacemaker.cluster_present {config.get('cluster_name', 'lustre-ha-cluster')} "
            f"nodes=[{first['fqdn']}] from the backed-up corosync.conf",
            f"{m1}: pacemaker.cib_restored (targets disabled, maintenance-mode on, "
            f"node map {o1}->{first['fqdn']}, {o2}->{second['fqdn']})",
        ],
        "cutover": (
            [
                f"per target: {m2}: crm_resource --resource T --meta --set-parameter target-role "
                f"--parameter-value Stopped; wait stopped and unmounted; {m1}: pacemaker."
                "enable_resources T; wait started on " + first["fqdn"],
            ]
            if mode == "per-target"
            else [
                f"{m2}: every target target-role=Stopped, wait stopped and unmounted",
                f"{m2}: old cluster stopped; {m1}: every target enabled, wait started",
            ]
        )
        + [f"{m2}: service pacemaker stop; service corosync stop; chkconfig off; verified"],
        "rebuild-node2": rebuild_steps(m2),
        "install-node2": install_steps(m2),
        "join-node2": [
            f"{m1}: pacemaker.cluster_present nodes=[{first['fqdn']}, {second['fqdn']}] "
            "(pcs auth, cluster node add, start)"
        ],
        "rebalance": [f"{m1}: pacemaker.rebalanced (every target on its -primary node)"],
        "fencing": [f"{m1}: pacemaker.fencing_attributes_restored (agent attribute last)"],
        "verify": [f"{m1}: both nodes online, targets on -primary, no cli-*, report"],
    }


def phase_plan(pair, config, ledger, name):
    """``{"result", "changes", "comment"}`` of phase ``name`` under ``test=True``."""
    title = upgrade_ledger.phase_title(name)
    if ledger is not None:
        record = upgrade_ledger.phase(ledger, name)
        if record["status"] == upgrade_ledger.DONE:
            return {"result": True, "changes": {}, "comment": f"{title}: done"}
    steps = _steps(pair, config)[name]
    return {
        "result": None,
        "changes": {name: steps},
        "comment": f"{title} would run:\n" + "\n".join(f"  - {step}" for step in steps),
    }


def status(pair, ledger, holder=None):
    """``{"pair", "started", "completed", "current", "phases", "nodes", "running"}``."""
    if ledger is None:
        return {
            "pair": pair,
            "started": False,
            "completed": False,
            "current": None,
            "phases": [],
            "nodes": {},
            "running": None,
        }
    upcoming = upgrade_ledger.next_phase(ledger)
    current = None
    if upcoming:
        record = upgrade_ledger.phase(ledger, upcoming)
        current = {
            "name": upcoming,
            "title": upgrade_ledger.phase_title(upcoming),
            "node": _node_of(ledger, upcoming),
            "status": record["status"],
            "detail": record["detail"],
        }
    return {
        "pair": pair,
        "started": True,
        "completed": bool(ledger["completed"]),
        "current": current,
        "phases": [
            dict(record, title=upgrade_ledger.phase_title(record["name"]))
            for record in ledger["phases"]
        ],
        "nodes": {
            minion: {k: v for k, v in state.items() if k in STATUS_NODE_KEYS}
            for minion, state in ledger.get("node_state", {}).items()
        },
        "running": holder,
    }


def _node_of(ledger, name):
    first, second = (node["minion"] for node in ledger["nodes"])
    if name.endswith("node1") or name == "new-cluster":
        return first
    if name.endswith("node2") or name == "cutover":
        return second
    return ledger["pair"]


def left_for_admin(ledger):
    """What the run leaves to the admin, by where it stands."""
    upcoming = upgrade_ledger.next_phase(ledger)
    if upcoming is None:
        return [
            "remove the old nodes' backups from the master when no longer needed "
            "(<cachedir>/lustre_upgrade/backups)",
            "check fencing with a test fence of each node in a maintenance window",
        ]
    record = upgrade_ledger.phase(ledger, upcoming)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record["end"] or time.time()))
    return [
        f"phase {upcoming} is {record['status']} ({when}): {record['detail'] or 'not started'}",
        f"run salt-run state.orch orch.upgrade_pair pillar='{{pair: {ledger['pair']}}}' again",
    ]


def render_status(data):
    """``status`` as text for the admin's terminal."""
    pair = data["pair"]
    if not data["started"]:
        return f"Pair {pair}: no upgrade run yet (the first phase is the preflight)\n"
    state = "completed" if data["completed"] else "in progress"
    lines = [f"Pair {pair}: upgrade {state}"]
    if data["running"]:
        lines.append(
            f"  running: {data['running'].get('run')} (process {data['running'].get('pid')})"
        )
    current = data["current"]
    if current:
        lines.append(f"  now: {current['title']} ({current['node']}): {current['status']}")
        if current["status"] in (upgrade_ledger.FAILED, upgrade_ledger.WAITING):
            lines.append(f"    {current['detail']}")
    lines.append("")
    for record in data["phases"]:
        start = (
            time.strftime("%H:%M:%S", time.localtime(record["start"])) if record["start"] else ""
        )
        took = (
            f"{record['end'] - record['start']:.1f} s" if record["start"] and record["end"] else ""
        )
        lines.append(f"  {record['title']:<34} {record['status']:<8} {start:>8} {took:>9}".rstrip())
    for minion, node in sorted(data["nodes"].items()):
        if node.get("rebuild"):
            lines.append(f"  {minion}: {node['rebuild']}")
    return "\n".join(lines) + "\n"
