"""
The steps of the upgrade orchestrations (``orch/``), run on the master.

Salt's ``salt.runner`` state reports every runner's return as a change and does not run
the runner at all with ``test=True``; this state calls the ``lustre_upgrade`` runner and
says what happened as a state should: a phase done before changes nothing, a failed one
says what to do, and with ``test=True`` it returns the phase's plan as its predicted
changes.
"""

__virtualname__ = "lustre_upgrade"


def __virtual__():
    # Orchestrations run states on the master, where the runner lives.
    if "saltutil.runner" not in __salt__:
        return (False, "lustre_upgrade states run in an orchestration on the master")
    return __virtualname__


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
    fun = "lustre_upgrade.plan" if __opts__.get("test") else "lustre_upgrade.run_phase"
    return _phase_state(name, f"pair {pair}", fun, pair=pair, phase=name)


def _phase_state(name, what, fun, **kwargs):
    """The state return of the runner function ``fun`` that runs (or plans) a phase."""
    ret = __salt__["saltutil.runner"](fun, **kwargs)
    if not isinstance(ret, dict) or "result" not in ret:
        return {
            "name": name,
            "result": False,
            "changes": {},
            "comment": f"phase {name} of {what} did not run: {ret}",
        }
    return {
        "name": name,
        "result": ret["result"],
        "changes": ret.get("changes") or {},
        "comment": ret.get("comment", ""),
    }


def manager_phase_done(name):
    """
    One phase of ``orch.upgrade_manager`` (``name``: a phase of the manager's ledger, e.g.
    ``database``) is done: run it unless the ledger has it done, resuming where a killed
    or stopped run left it. A phase done before changes nothing; with ``test=True`` the
    state returns the phase's plan.

    .. code-block:: yaml

        database:
          lustre_upgrade.manager_phase_done
    """
    fun = "lustre_manager.plan" if __opts__.get("test") else "lustre_manager.run_phase"
    return _phase_state(name, "the manager's upgrade", fun, phase=name)
