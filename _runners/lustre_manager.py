"""
The IML manager's upgrade on the master: ``orch.upgrade_manager`` calls ``run_phase``
phase by phase; ``preflight``, ``plan``, ``status`` and ``report`` read where it stands;
``key_pending`` and ``minion_started`` are the reactor's hand-offs for the manager's
rebuilt minion.

The phases are the library's (``lustre_upgrade_lib.manager_upgrade``). They reach the
minions through the pair runner's site adapter (``lustre_upgrade``: LocalClient, wheel,
events, the rebuild hook, backups verified and sealed on the master), extended here by
what the manager needs: ``psql`` as postgres and its backup (kind ``manager``).
"""

import logging
import os
import socket

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    import lustre_upgrade_lib
    from lustre_upgrade_lib import manager_pillar, manager_upgrade, rebuild_handoff, upgrade_ledger
except ImportError as exc:
    _MISSING = f"{exc}: sync _utils/ with salt-run saltutil.sync_all, or pip install the extension"
else:
    _MISSING = None

log = logging.getLogger(__name__)

__virtualname__ = "lustre_manager"
LEDGER = "manager"


def __virtual__():
    if _MISSING:
        return (False, f"lustre_manager needs the library lustre_upgrade_lib: {_MISSING}")
    lustre_upgrade_lib.reload_changed()
    return __virtualname__


def _pair_runner():
    """The loaded ``lustre_upgrade`` runner module (its site adapter and backups)."""
    try:
        func = __salt__["lustre_upgrade.backup_node"]
    except KeyError:
        raise CommandExecutionError(
            "the lustre_upgrade runner is not loaded: sync the extension (salt-run "
            "saltutil.sync_all) and check the master's log for its import error"
        ) from None
    return getattr(func, "func", func).__globals__


def _site():
    pair = _pair_runner()

    class _Site(pair["_Site"]):
        """The pair runner's site, plus what the manager's phases need."""

        def run_as(self, minion, user, argv, timeout=60):
            ret = pair["_cmd"](
                minion,
                "cmd.run_all",
                [list(argv)],
                kwarg={"python_shell": False, "runas": user, "cwd": "/"},
                timeout=timeout,
            ).get(minion)
            if not isinstance(ret, dict):
                raise CommandExecutionError(f"minion {minion} did not answer `{' '.join(argv)}`")
            return ret

        def pillar_findings(self):
            return manager_pillar.validate(_config(), source=pair["_pillar_source"]())

        def backup_manager(self, minion):
            got = pair["backup_node"](minion, kind="manager")
            if got.get("result") is False:
                raise CommandExecutionError(got["error"])
            return got

    return _Site()


def _config():
    return __salt__["pillar.show_pillar"]("*").get("lustre_upgrade")


def _paths():
    # Beside the pairs' runs/, not in it: everything in runs/ is a pair's ledger.
    runs = os.path.join(__opts__["cachedir"], "lustre_upgrade", "manager")
    os.makedirs(runs, mode=0o700, exist_ok=True)
    base = os.path.join(runs, LEDGER)
    return base + ".json", base + ".lock"


def _run(site=None, run_id=None):
    site = site or _site()
    config = _config()
    found = site.pillar_findings()
    if found:
        raise SaltInvocationError(manager_upgrade.findings_text(found))
    run_id = run_id or f"{socket.gethostname()}:{os.getpid()}"
    return manager_upgrade.ManagerRun(config, site, *_paths(), run_id)


def _failed(ret):
    __context__["retcode"] = 1
    ret["retcode"] = 1
    return ret


def preflight():
    """
    Phase 0 of ``orch.upgrade_manager`` alone: check that the manager can be upgraded,
    change nothing. The pillar, the manager's minion, PostgreSQL, its health, disk space,
    the upstream repositories, the registered servers.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_manager.preflight
    """
    site = _site()
    inhibitors = site.pillar_findings()
    if not inhibitors:
        try:
            inhibitors = _run(site, "preflight").preflight_findings()
        except (CommandExecutionError, SaltInvocationError) as exc:
            inhibitors = [str(exc)]
    report = {"inhibitors": inhibitors, "ok": not inhibitors}
    return _failed(report) if inhibitors else report


def run_phase(phase=None):
    """
    Run one phase of ``orch.upgrade_manager`` unless the ledger has it done;
    ``{"result", "changes", "comment"}``.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_manager.run_phase phase=backup
    """
    try:
        ret = _run().attempt(phase)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret = {"result": False, "changes": {}, "comment": str(exc)}
    if not ret["result"]:
        __context__["retcode"] = 1
    return ret


def plan(phase=None):
    """
    What ``phase`` would do now (``test=True`` of the orchestration); changes nothing.
    The preflight's read-only checks run when no run started yet.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_manager.plan phase=database
    """
    site = _site()
    found = site.pillar_findings()
    if found:
        return {"result": False, "changes": {}, "comment": manager_upgrade.findings_text(found)}
    ledger_path, _lock = _paths()
    ledger = upgrade_ledger.load(ledger_path, manager_upgrade.PHASE_NAMES)
    if phase == "preflight" and ledger is None:
        found = _run(site, "plan").preflight_findings()
        if found:
            return {"result": False, "changes": {}, "comment": manager_upgrade.findings_text(found)}
    settings = manager_pillar.settings(_config())
    try:
        return manager_upgrade.plan(ledger, phase, settings)
    except SaltInvocationError as exc:
        return {"result": False, "changes": {}, "comment": str(exc)}


def status():
    """
    Where the manager's upgrade stands: each phase's status, the current one, its rebuild.
    Readable, and ``--out=json``.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_manager.status
    """
    ledger_path, lock_path = _paths()
    ledger = upgrade_ledger.load(ledger_path, manager_upgrade.PHASE_NAMES)
    data = manager_upgrade.status(ledger, upgrade_ledger.holder(lock_path))
    if __opts__.get("output") in (None, "nested", "txt", "text"):
        return manager_upgrade.render_status(data)
    return data


def report():
    """
    The manager's upgrade report: phases, rows counted with ``psql`` before the backup and
    after the migration, schema version, release, registered servers before and after,
    the HTTPS checks. ``--out=json`` gives the data; otherwise the text.

    CLI Example:

    .. code-block:: bash

        salt-run --out=json lustre_manager.report
    """
    ledger = upgrade_ledger.load(_paths()[0], manager_upgrade.PHASE_NAMES)
    if ledger is None:
        return _failed({"result": False, "error": "the manager has no upgrade run on this master"})
    built = manager_upgrade.report_data(ledger)
    if __opts__.get("output") in (None, "nested", "txt", "text"):
        return manager_upgrade.render_report(built)
    return built


def _awaiting(minion):
    """The manager's run when its ledger awaits ``minion``'s rebuild, else None."""
    ledger = upgrade_ledger.load(_paths()[0], manager_upgrade.PHASE_NAMES)
    state = ((ledger or {}).get("node_state") or {}).get(minion) or {}
    if state.get("rebuild") != rebuild_handoff.AWAITING:
        return None
    return _run(run_id="reactor")


def key_pending(minion=None):
    """
    The reactor's hand-off for ``salt/auth``: accept the manager's new key once if its
    ledger awaits the rebuild. Any other key is left alone.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_manager.key_pending iml
    """
    run = _awaiting(minion)
    if run is None:
        return {"minion": minion, "accepted": None}
    return {"minion": minion, "accepted": rebuild_handoff.accept_pending_key(run, minion)}


def minion_started(minion=None):
    """
    The reactor's hand-off for ``salt/minion/<id>/start``: the rebuilt manager is verified
    (EL7, the new key); with ``lustre_upgrade:rebuild:auto_resume`` the orchestration is
    started again when no run holds it.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_manager.minion_started iml
    """
    run = _awaiting(minion)
    if run is None:
        return {"minion": minion, "verified": None, "resumed": False}
    rebuild_handoff.accept_pending_key(run, minion)
    result = rebuild_handoff.verify_returned(run, minion)
    resumed = False
    auto = ((run.config.get("rebuild") or {}).get("auto_resume")) is True
    if result["result"] and auto and upgrade_ledger.holder(run.lock_path) is None:
        resumed = _resume(run.ledger.get("cwd"))
    return {"minion": minion, "verified": result, "resumed": resumed}


def _resume(cwd):
    """Start ``salt-run state.orch orch.upgrade_manager`` in the background."""
    log_path = os.path.join(os.path.dirname(_paths()[0]), f"{LEDGER}.resume.log")
    _pair_runner()["_start_orchestration"](["orch.upgrade_manager"], log_path, cwd)
    log.info("lustre_manager: resumed orch.upgrade_manager")
    return True
