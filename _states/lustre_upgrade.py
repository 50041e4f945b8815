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


def phase_done(name, pair=None):
    """
    One phase of ``orch.upgrade_pair`` (``name``: a phase of the ledger, e.g. ``cutover``)
    is done for ``pair``: run it unless the pair's ledger has it done, resuming where a
    killed or stopped run left it. A phase done before changes nothing.

    With ``test=True`` nothing runs: the state returns the phase's plan (its steps on the
    pair's nodes) as the predicted changes, or says it is done; the preflight's read-only
    checks run.

    .. code-block:: yaml

        cutover:
          lustre_upgrade.phase_done:
            - pair: oss1
    """
    if __opts__.get("test"):
        ret = __salt__["saltutil.runner"]("lustre_upgrade.plan", pair=pair, phase=name)
    else:
        ret = __salt__["saltutil.runner"]("lustre_upgrade.run_phase", pair=pair, phase=name)
    if not isinstance(ret, dict) or "result" not in ret:
        return {
            "name": name,
            "result": False,
            "changes": {},
            "comment": f"phase {name} of pair {pair} did not run: {ret}",
        }
    return {
        "name": name,
        "result": ret["result"],
        "changes": ret.get("changes") or {},
        "comment": ret.get("comment", ""),
    }
