"""
The steps of the upgrade orchestrations (``orch/``), run on the master.

Salt's ``salt.runner`` state reports every runner's return as a change and does not run
the runner at all with ``test=True``; these states call the ``lustre_upgrade`` runner
and say what happened as a state should: a check that passes changes nothing, a check
that fails lists its findings first, and the read-only checks also run in test mode, so
the plan shows them.
"""

__virtualname__ = "lustre_upgrade"


def __virtual__():
    # Orchestrations run states on the master, where the runner lives.
    if "saltutil.runner" not in __salt__:
        return (False, "lustre_upgrade states run in an orchestration on the master")
    return __virtualname__


def preflight_passed(name, pair=None):
    """
    Phase 0: the pair passes the preflight (``lustre_upgrade.preflight``). Read-only: it
    runs with ``test=True`` too. Fails, listing every inhibitor, before any change.

    .. code-block:: yaml

        preflight:
          lustre_upgrade.preflight_passed:
            - pair: oss1
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    report = __salt__["saltutil.runner"]("lustre_upgrade.preflight", pair=pair)
    if not isinstance(report, dict) or "inhibitors" not in report:
        ret["result"] = False
        ret["comment"] = f"the preflight of pair {pair} did not run: {report}"
        return ret
    if report["inhibitors"]:
        ret["result"] = False
        lines = [f"pair {pair} cannot be upgraded; fix these first, nothing was changed:"]
        lines += [f"- {finding}" for finding in report["inhibitors"]]
        ret["comment"] = "\n".join(lines)
        return ret
    nodes = ", ".join(
        f"{node['minion']} ({node.get('os_family')} {node.get('osmajorrelease')})"
        for node in report["nodes"]
    )
    ret["comment"] = f"pair {pair} can be upgraded: {nodes} answer"
    return ret
