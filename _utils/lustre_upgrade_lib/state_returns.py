"""
Readings of what Salt returns to the orchestration: a node's state run (``state.apply``,
``state.single``: ``{"<mod>_|-<id>_|-<name>_|-<fun>": {"result", "changes", "comment",
"__id__"}}``) and the new cluster as the ``pacemaker`` module reads it.
"""

from . import cib


def failed(results):
    """The state keys whose result is False (or a render error, given as a list)."""
    if not isinstance(results, dict):
        return ["render"]
    return sorted(
        key
        for key, ret in results.items()
        if not isinstance(ret, dict) or ret.get("result") is False
    )


def failure_text(results, limit=3):
    if not isinstance(results, dict):
        return (
            "; ".join(str(line) for line in results) if isinstance(results, list) else str(results)
        )
    lines = []
    for key in failed(results)[:limit]:
        ret = results[key]
        ident = ret.get("__id__", key) if isinstance(ret, dict) else key
        comment = ret.get("comment", "") if isinstance(ret, dict) else ret
        lines.append(f"{ident}: {str(comment).strip()[:400]}")
    more = len(failed(results)) - limit
    return "; ".join(lines) + (f" (and {more} more)" if more > 0 else "")


def changed(results, state_id):
    """Whether the state with ``__id__`` ``state_id`` ran and changed something."""
    return any(
        isinstance(ret, dict) and ret.get("__id__") == state_id and ret.get("changes")
        for ret in (results or {}).values()
    )


def summary(results):
    """``{"states", "changed": [ids]}`` of a successful run, for the ledger and the plan."""
    if not isinstance(results, dict):
        return {"states": 0, "changed": []}
    return {
        "states": len(results),
        "changed": sorted(
            ret.get("__id__", key)
            for key, ret in results.items()
            if isinstance(ret, dict) and ret.get("changes")
        ),
    }


def new_cluster_problems(data, members, fqdns, pending_fencing):
    """
    What keeps the new cluster from the runbook's end state: both nodes online members;
    maintenance-mode off; no temporary (``cli-*``) constraint; every target on the node of
    its original ``<target>-primary`` constraint, once; fencing attributes complete.
    ``data`` is ``pacemaker.read_cib``'s, ``members`` ``pacemaker.membership``'s,
    ``pending_fencing`` ``pacemaker.pending_fencing_attributes``' (names only).
    """
    problems = []
    offline = sorted(set(fqdns) - set(members.get("online") or []))
    if offline:
        problems.append(f"not online in the cluster: {', '.join(offline)}")
    if (data.get("properties") or {}).get("maintenance-mode") == "true":
        problems.append("maintenance-mode is still true")
    temporary = sorted(loc["id"] for loc in data["locations"] if cib.is_temporary(loc))
    if temporary:
        problems.append(f"temporary constraints left: {', '.join(temporary)}")
    placement = data.get("placement") or {}
    for rsc in data["resources"]:
        if cib.agent_of(rsc) != cib.TARGET_AGENT:
            continue
        primary = [loc for loc in data["locations"] if loc["id"] == f"{rsc['id']}-primary"]
        if not primary or primary[0]["node"] not in fqdns:
            problems.append(f"{rsc['id']} has no {rsc['id']}-primary constraint on a new node")
            continue
        where = sorted(placement.get(rsc["id"], []))
        if where != [primary[0]["node"]]:
            problems.append(
                f"{rsc['id']} runs on {', '.join(where) or 'no node'}, not on {primary[0]['node']}"
            )
    for entry in pending_fencing or ():
        problems.append(
            f"fencing attributes not restored on {entry['node']}: {', '.join(entry['attributes'])}"
        )
    return problems
