"""
States of the new Pacemaker cluster of a Lustre HA pair (runbook: "Configure the High
Availability Framework", "Migrate the Lustre Services", "Add Node 2", "Rebalance",
"Cluster Power Management").

Each state reads the CIB, compares it with what is wanted, predicts the change with
test=True (result None, nothing changed), applies it through the ``pacemaker`` execution
module and reads the CIB again to confirm; a second run reports no change.

``cib_file``: the states that only change the CIB's configuration (``properties``,
``resource_defaults``, ``cib_restored``, ``node_standby``, ``node_online``,
``resources_enabled``, ``resources_disabled``, ``fencing_attributes_restored``) work on a
CIB file instead of the live cluster when given one (``pcs -f``, ``CIB_file=``): plan
offline, or prepare a CIB to push. ``cluster_present``, ``placement_settled`` and
``rebalanced`` need the running cluster.

A state that fails after it changed something reports those changes (``changes`` is
what changed before the failure, result False). Each state's docstring has an SLS example.

Secrets: the hacluster password comes from the pillar (by key) and goes to pcs on stdin;
fencing passwords travel from the backup to the CIB on cibadmin's stdin. Neither appears
in a state's changes or comment: fencing changes list attribute names only.
"""

import os
import shutil
import tempfile

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    import lustre_upgrade_lib
    from lustre_upgrade_lib import cib, cib_restore, cli_args, commandline, pcs_dialects
    from lustre_upgrade_lib import corosync_conf as corosync_conf_lib
except ImportError as exc:
    if (exc.name or "").startswith("lxml"):
        _MISSING = f"{exc}: install python3-lxml (EL7: python36-lxml) or pip install lxml"
    else:
        _MISSING = f"{exc}: sync _utils/ with saltutil.sync_all, or pip install the extension"
    HACLUSTER_PILLAR = None
else:
    _MISSING = None
    HACLUSTER_PILLAR = pcs_dialects.HACLUSTER_PILLAR

__virtualname__ = "pacemaker"

LIVE_COROSYNC_CONF = "/etc/corosync/corosync.conf"
# What the execution module raises: a bad argument or a failed command.
_ERRORS = (CommandExecutionError, SaltInvocationError)


def __virtual__():
    if _MISSING:
        return (False, f"the pacemaker states need the library lustre_upgrade_lib: {_MISSING}")
    if "pacemaker.read_cib" not in __salt__:
        return (False, "the pacemaker execution module of this extension is not loaded")
    lustre_upgrade_lib.reload_changed()
    return __virtualname__


# --------------------------------------------------------------------------- helpers


def _ret(name):
    return {"name": name, "result": True, "changes": {}, "comment": ""}


def _testing():
    return bool(__opts__["test"])


def _failed(ret, message, changes=None):
    """result False; ``changes``, when given, replaces what the state reports as changed."""
    ret.update(result=False, **({} if changes is None else {"changes": changes}))
    return _done(ret, str(message))


def _done(ret, comment):
    ret["comment"] = comment
    return ret


def _would(ret, changes, comment):
    """The return of test=True: what would change; nothing changed."""
    ret.update(result=None, changes=changes, comment=comment)
    return ret


def _where(cib_file):
    return f"CIB file {cib_file}" if cib_file else "the live CIB"


def _changed_since(current, cib_file, key, names):
    """What a failed setter changed after all: ``value_changes`` re-read, {} if unreadable."""
    try:
        return cib.value_changes(current, __salt__["pacemaker.read_cib"](cib_file)[key], names)
    except _ERRORS:
        return {}


# read_cib's key of an nvpair section -> its setter, its name, the command that shows it.
_NVPAIR_SECTIONS = {
    "properties": ("pacemaker.set_properties", "properties", "pcs property config --all"),
    "rsc_defaults": (
        "pacemaker.set_resource_defaults",
        "resource defaults",
        "pcs resource defaults config",
    ),
}


def _nvpairs_state(name, wanted, cib_file, key):
    """properties / resource_defaults: one nvpair section, compared and set as a whole."""
    setter, what, shown_by = _NVPAIR_SECTIONS[key]
    ret = _ret(name)
    if not isinstance(wanted, dict) or not wanted:
        return _failed(ret, f"give {what} as a mapping of name: value (e.g. in the SLS)")
    want = {str(k): cli_args.cib_value(v) for k, v in wanted.items()}
    try:
        current = __salt__["pacemaker.read_cib"](cib_file)[key]
    except _ERRORS as exc:
        return _failed(ret, exc)
    todo = {k: v for k, v in want.items() if current.get(k) != v}
    if not todo:
        return _done(ret, f"{what.capitalize()} already set in {_where(cib_file)}")
    predicted = cib.value_changes(current, todo, todo)
    if _testing():
        return _would(ret, predicted, f"{len(todo)} {what} would be set in {_where(cib_file)}")
    try:
        __salt__[setter](todo, cib_file=cib_file)
        ret["changes"] = predicted  # set: reported even when reading back fails
        after = __salt__["pacemaker.read_cib"](cib_file)[key]
    except _ERRORS as exc:  # pcs 0.9 sets one value per command: some may be set
        ret["changes"] = ret["changes"] or _changed_since(current, cib_file, key, todo)
        return _failed(ret, exc)
    ret["changes"] = cib.value_changes(current, after, todo)
    wrong = sorted(k for k, v in todo.items() if after.get(k) != v)
    if wrong:
        return _failed(
            ret,
            f"{', '.join(wrong)} still differ in {_where(cib_file)} after setting them: an "
            f"earlier set of {what} may hold them too; look at `{shown_by}` and remove the "
            "duplicates",
        )
    return _done(ret, f"{len(todo)} {what} set in {_where(cib_file)}")


# --------------------------------------------------------------------------- CIB settings


def properties(name, properties, cib_file=None):
    """
    Cluster properties hold the given values (``pcs property set``).

    name
        A label for the state.
    properties
        ``{property: value}``; YAML booleans become ``true``/``false``.
    cib_file
        Work on this CIB file instead of the live cluster.

    .. code-block:: yaml

        cluster-properties:
          pacemaker.properties:
            - properties:
                no-quorum-policy: ignore
                stonith-enabled: true
                symmetric-cluster: true

        out-of-maintenance:
          pacemaker.properties:
            - properties: {maintenance-mode: false}
    """
    return _nvpairs_state(name, properties, cib_file, "properties")


def resource_defaults(name, defaults, cib_file=None):
    """
    Resource defaults hold the given values (``pcs resource defaults``).

    .. code-block:: yaml

        resource-defaults:
          pacemaker.resource_defaults:
            - defaults:
                resource-stickiness: 1000
                failure-timeout: 20m
                migration-threshold: 3
    """
    return _nvpairs_state(name, defaults, cib_file, "rsc_defaults")


# --------------------------------------------------------------------------- restore


def cib_restored(name, node_map, cib_file=None, agents=None):
    """
    The targets, ``st-fencing`` and location constraints of an old cluster's CIB backup
    exist in the new cluster's CIB, the targets disabled, the cluster in maintenance mode.

    The new configuration is built offline (``pacemaker.build_restore_cib``) on a copy
    of the current CIB, compared with ``crm_diff`` and applied as ONE patch
    (``cibadmin --patch``): the backup's XML is copied with its ids (IML finds
    constraints by ``<resource>-primary``/``-secondary``), node names rewritten through
    ``node_map``, new targets with ``target-role=Stopped``, properties
    ``maintenance-mode``, ``no-quorum-policy``, ``stonith-enabled``,
    ``symmetric-cluster`` and the resource defaults set as the runbook does. test=True
    reports what the patch adds and changes nothing.

    Safety (DESIGN.md invariant 3, targets disabled and maintenance mode on until the old
    cluster is verified stopped):

    - every target the patch creates is ``target-role=Stopped`` and the patch sets
      ``maintenance-mode=true``; both are checked on the built CIB before it is pushed
      and on the CIB after;
    - the state refuses (result False, nothing pushed) when a backup target already in
      the CIB is enabled or active while ``maintenance-mode`` is not true: that cluster
      may already run Lustre, and the restore's ``maintenance-mode=true`` would change a
      live cluster;
    - once every target, ``st-fencing`` and constraint of the backup exists, the restore
      is complete and the state changes nothing, whatever the properties are by then
      (the cutover turns maintenance mode off; running this again must not undo it).

    name
        The CIB backup (``cibadmin --query`` of the old cluster).
    node_map
        Old node name -> new FQDN, for every node the backup's constraints name.
    cib_file
        Restore into this CIB file instead of the live cluster.
    agents
        Resource agents restored (default ``ocf:chroma:Target``).

    .. code-block:: yaml

        targets-restored-disabled:
          pacemaker.cib_restored:
            - name: /var/lib/lustre-upgrade/restore/cluster-cfg-mds1.xml
            - node_map: {mds1: mds1.lfs.intl, mds2: mds2.lfs.intl}
    """
    ret = _ret(name)
    build_kwargs = {"agents": agents} if agents else {}
    # Copies of the CIB hold the fencing passwords: a private directory, removed after.
    workdir = tempfile.mkdtemp(prefix="pacemaker-restore-")
    try:
        current = cib_file or os.path.join(workdir, "current.xml")
        built = os.path.join(workdir, "restored.xml")

        def build():
            if not cib_file:
                __salt__["pacemaker.save_cib"](current)
            summary = __salt__["pacemaker.build_restore_cib"](
                name, node_map, built, base=current, **build_kwargs
            )
            return __salt__["pacemaker.read_cib"](current), summary

        try:
            before, summary = build()
        except _ERRORS as exc:
            return _failed(ret, exc)
        note = cib_restore.summary_note(summary)
        created = summary["resources"]
        if not (created or summary["stonith"] or summary["constraints"]):
            ret["comment"] = (
                f"{_where(cib_file)} already holds the targets, st-fencing and location "
                f"constraints of {name}{note}"
            )
            return ret
        live = cib_restore.blocking_targets(before, summary)
        if live:
            return _failed(ret, cib_restore.blocking_message(_where(cib_file), live, summary, name))
        patch_file = os.path.join(workdir, "restore.patch")
        try:  # the real patch goes to patch_file; what is returned is masked
            patch = __salt__["pacemaker.diff_cib"](current, built, output=patch_file)
            planned = __salt__["pacemaker.read_cib"](built)
        except _ERRORS as exc:
            return _failed(ret, exc)
        problems = cib_restore.invariant_problems(planned, created)
        if not patch:
            problems.append("crm_diff found no difference to push")
        if problems:
            return _failed(
                ret,
                f"the restore CIB built from {name} is not as planned ({'; '.join(problems)});"
                " nothing was pushed. Report this with the backup file",
            )
        names = (summary["properties"], summary["rsc_defaults"])
        what = (
            f"{len(created)} target(s) (disabled), {len(summary['constraints'])} location "
            f"constraint(s) and maintenance-mode=true into {_where(cib_file)} from {name}"
        )
        if _testing():
            predicted = cib_restore.restore_changes(before, planned, *names)
            return _would(ret, predicted, f"one patch would restore {what}{note}")
        try:
            __salt__["pacemaker.patch_cib"](patch_file, cib_file=cib_file)
            ret["changes"] = cib_restore.restore_changes(before, planned, *names)
            after = __salt__["pacemaker.read_cib"](cib_file)
        except _ERRORS as exc:
            return _failed(
                ret,
                f"{exc}. cibadmin applies a patch whole or not at all: run the state again "
                "once the cause is fixed",
            )
        ret["changes"] = cib_restore.restore_changes(before, after, *names)
        problems = cib_restore.invariant_problems(after, created)
        try:
            _, again = build()
        except _ERRORS as exc:
            return _failed(ret, exc)
        missing = cib_restore.missing_after(again)
        if problems or missing:
            return _failed(
                ret,
                f"after the patch {_where(cib_file)} is not as planned: "
                f"{'; '.join(problems + [f'still missing: {m}' for m in missing])}. Keep the "
                "old cluster running, inspect `pcs config` and run the state again",
            )
        return _done(ret, f"restored {what} in one patch{note}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def fencing_attributes_restored(name, node_map, cib_file=None):
    """
    The ``N_fence_*`` node attributes of an old cluster's CIB backup are set on the new
    cluster's nodes (runbook "Cluster Power Management"), renamed through ``node_map``;
    per node the agents (``N_fence_agent``) are set last. Only attributes missing or
    different are set. Changes name the attributes, never their values.

    .. code-block:: yaml

        fencing-restored:
          pacemaker.fencing_attributes_restored:
            - name: /var/lib/lustre-upgrade/restore/cluster-cfg-mds1.xml
            - node_map: {mds1: mds1.lfs.intl, mds2: mds2.lfs.intl}
    """
    ret = _ret(name)
    try:
        pending = __salt__["pacemaker.pending_fencing_attributes"](name, node_map, cib_file)
    except _ERRORS as exc:
        return _failed(ret, exc)
    if not pending:
        return _done(ret, f"{_where(cib_file)} holds every fencing attribute of {name}")
    predicted = {entry["node"]: {"set": entry["attributes"]} for entry in pending}
    count = sum(len(entry["attributes"]) for entry in pending)
    if _testing():
        return _would(
            ret, predicted, f"{count} fencing attribute(s) from {name} would be set (agents last)"
        )
    try:
        __salt__["pacemaker.apply_fencing_attributes"](
            name, node_map, cib_file=cib_file, pending_only=True
        )
        ret["changes"] = predicted  # set: reported even when reading back fails
        left = __salt__["pacemaker.pending_fencing_attributes"](name, node_map, cib_file)
    except _ERRORS as exc:  # per node, one update after another: some may be set
        if not ret["changes"]:
            try:
                left = __salt__["pacemaker.pending_fencing_attributes"](name, node_map, cib_file)
            except _ERRORS:
                return _failed(ret, f"{exc}; what was set before it could not be read back")
            ret["changes"] = cib_restore.fencing_changes(pending, left)
            exc = f"{exc}. Still to set: {cib_restore.pending_text(left)}"
        return _failed(ret, f"{exc}; run the state again once fixed")
    if left:
        still = cib_restore.pending_text(left)
        return _failed(ret, f"fencing attributes still differ after setting them: {still}")
    return _done(ret, f"{count} fencing attribute(s) from {name} set (agents last)")


# --------------------------------------------------------------------------- nodes


def _busy_on(node):
    placement = __salt__["pacemaker.status"]()["placement"]
    return sorted(rsc for rsc, nodes in placement.items() if node in nodes)


def node_standby(name, wait=True, timeout=300, cib_file=None):
    """
    Node ``name`` is in standby (``pcs node standby``) and, on the live cluster with
    ``wait``, runs no resource any more; a standby node that still runs something is
    waited for again on the next run.

    With ``cib_file`` only the file's standby attribute is set (nothing moves in a file).

    .. code-block:: yaml

        evacuate-node-1:
          pacemaker.node_standby:
            - name: mds1.lfs.intl
            - timeout: 900
    """
    ret, deadline = _ret(name), commandline.Deadline(timeout)  # one for all its steps
    live_wait = bool(wait) and not cib_file
    try:
        was = cib.in_standby(cib.node_record(__salt__["pacemaker.read_cib"](cib_file), name))
        busy = _busy_on(name) if live_wait and was else []
    except _ERRORS as exc:
        return _failed(ret, exc)
    empty = " and runs no resource" if live_wait else ""
    if was and not busy:
        return _done(ret, f"{name} is in standby in {_where(cib_file)}{empty}")
    if _testing():
        waits = f" and waited for (up to {timeout}s) until it runs no resource" if live_wait else ""
        comment = f"{name} would be put in standby{waits}"
        if was:
            comment = f"{name} is in standby; would wait up to {timeout}s until it no longer "
            comment += f"runs {', '.join(busy)}"
        return _would(ret, {} if was else {"standby": {"old": False, "new": True}}, comment)
    try:
        if not was:
            __salt__["pacemaker.standby"](
                name, wait=False, timeout=deadline.timeout("pcs node standby"), cib_file=cib_file
            )
            ret["changes"] = {"standby": {"old": False, "new": True}}
            if not cib.in_standby(cib.node_record(__salt__["pacemaker.read_cib"](cib_file), name)):
                return _failed(ret, f"{name} is not in standby after `pcs node standby`", {})
    except _ERRORS as exc:
        return _failed(ret, exc)
    if live_wait:
        try:
            left = deadline.timeout(f"the wait for {name} to run nothing")
            __salt__["pacemaker.wait_until_node_empty"](name, timeout=left)
        except _ERRORS as exc:
            return _failed(
                ret,
                f"{name} is in standby but still runs resources: {exc}. Check `pcs status` "
                "for failed stops; run the state again to keep waiting",
            )
    if was:
        return _done(ret, f"{name} was in standby; it now runs no resource")
    return _done(ret, f"{name} put in standby in {_where(cib_file)}{empty}")


def node_online(name, cib_file=None):
    """
    Node ``name`` is not in standby (``pcs node unstandby``). It does not start the
    cluster on the node.

    .. code-block:: yaml

        node-1-back:
          pacemaker.node_online:
            - name: mds1.lfs.intl
    """
    ret = _ret(name)
    try:
        node = cib.node_record(__salt__["pacemaker.read_cib"](cib_file), name)
    except _ERRORS as exc:
        return _failed(ret, exc)
    if not cib.in_standby(node):
        return _done(ret, f"{name} is not in standby in {_where(cib_file)}")
    change = {"standby": {"old": True, "new": False}}
    if _testing():
        return _would(ret, change, f"{name} would be taken out of standby")
    try:
        __salt__["pacemaker.unstandby"](name, cib_file=cib_file)
        ret["changes"] = change  # reported even when reading back fails
        now = cib.node_record(__salt__["pacemaker.read_cib"](cib_file), name)
    except _ERRORS as exc:
        return _failed(ret, exc)
    if cib.in_standby(now):
        return _failed(ret, f"{name} is still in standby after `pcs node unstandby`", {})
    return _done(ret, f"{name} taken out of standby in {_where(cib_file)}")


# --------------------------------------------------------------------------- resources


def _resources_state(name, resources, cib_file, enable):
    ret = _ret(name)
    verb, past = ("enable", "enabled") if enable else ("disable", "disabled")
    try:
        current = __salt__["pacemaker.read_cib"](cib_file)
    except _ERRORS as exc:
        return _failed(ret, exc)
    wanted = cli_args.as_list(resources) if resources is not None else cib.resource_ids(current)
    if not wanted and resources is None and enable:
        return _failed(
            ret,
            f"{_where(cib_file)} holds no {cib.TARGET_AGENT} resource to enable: restore "
            "them first (pacemaker.cib_restored)",
        )
    by_id = {r["id"]: r for r in current["resources"]}
    unknown = sorted(set(wanted) - set(by_id))
    if unknown:
        return _failed(ret, f"no such resource in {_where(cib_file)}: {', '.join(unknown)}")
    todo = sorted(i for i in wanted if cib.is_stopped(by_id[i]) == enable)
    if not todo:
        return _done(ret, f"{len(wanted)} resource(s) already {past} in {_where(cib_file)}")
    change = {past: todo}
    if _testing():
        return _would(ret, change, f"{len(todo)} resource(s) would be {past}")
    try:
        __salt__[f"pacemaker.{verb}_resources"](todo, cib_file=cib_file)
        ret["changes"] = change  # reported even when reading back fails
        after = {r["id"]: r for r in __salt__["pacemaker.read_cib"](cib_file)["resources"]}
    except _ERRORS as exc:
        return _failed(ret, exc)
    wrong = sorted(i for i in todo if cib.is_stopped(after[i]) == enable)
    if wrong:
        return _failed(ret, f"{', '.join(wrong)} not {past} after `pcs resource {verb}`")
    return _done(ret, f"{len(todo)} resource(s) {past} in {_where(cib_file)}")


def resources_enabled(name, resources=None, cib_file=None):
    """
    Resources are enabled (no ``target-role=Stopped``): ``resources``, or every
    ``ocf:chroma:Target`` when None (a CIB without one fails: nothing to start). Being
    enabled is not being started: ``placement_settled`` waits for that.

    .. code-block:: yaml

        targets-enabled:
          pacemaker.resources_enabled:
            - require:
              - pacemaker: out-of-maintenance
    """
    return _resources_state(name, resources, cib_file, enable=True)


def resources_disabled(name, resources=None, cib_file=None):
    """
    Resources are disabled (``target-role=Stopped``): ``resources``, or every
    ``ocf:chroma:Target`` when None.

    .. code-block:: yaml

        targets-disabled:
          pacemaker.resources_disabled: []
    """
    return _resources_state(name, resources, cib_file, enable=False)


# --------------------------------------------------------------------------- placement


def _placement(expected):
    """
    ``(want, off)``: ``{rsc: sorted nodes}`` of ``expected`` (or of every target's
    preferred node when None), and what runs elsewhere now (``cib.misplaced``).
    """
    if expected is None:
        want = cib.preferred_placement(__salt__["pacemaker.preferred_nodes"]())
    else:
        want = cib.wanted_placement(expected)
    return want, cib.misplaced(want, __salt__["pacemaker.status"]()["placement"])


def placement_settled(name, expected=None, timeout=300, interval=2):
    """
    Wait until every resource runs where expected: ``expected`` ``{resource: node}`` (a
    list of nodes, or None for stopped), or by default every target on its preferred
    node (its ``<resource>-primary`` location, else its single highest score). Changes
    nothing; with test=True it looks once (result None when it would wait). Live only.

    .. code-block:: yaml

        targets-on-node-1:
          pacemaker.placement_settled:
            - expected: {MGS_32834e: mds1.lfs.intl, demo-MDT0000_802c1b: mds1.lfs.intl}
            - timeout: 900
    """
    ret = _ret(name)
    try:
        want, off = _placement(expected)
    except _ERRORS as exc:
        return _failed(ret, exc)
    if not off:
        return _done(ret, f"{len(want)} resource(s) run where expected")
    waiting = cib.misplaced_text(off)
    if _testing():
        return _would(ret, {}, f"would wait up to {timeout}s for {waiting}")
    try:
        __salt__["pacemaker.wait_for_placement"](want, timeout=timeout, interval=interval)
    except _ERRORS as exc:
        return _failed(
            ret,
            f"{exc}. Check `pcs status` (failed actions, standby nodes, bans), fix the cause "
            "and run again",
        )
    return _done(ret, f"{len(want)} resource(s) run where expected (waited for {waiting})")


def rebalanced(name, timeout=600, interval=2):
    """
    Every target runs on its preferred node (runbook "Rebalance"): when some does not,
    ``pcs resource relocate run`` for those targets, then wait until all are there.
    Refuses while a preferred node is in standby or a move/ban/relocate constraint is
    left on a target. Live only.

    .. code-block:: yaml

        targets-rebalanced:
          pacemaker.rebalanced:
            - timeout: 900
    """
    ret, deadline = _ret(name), commandline.Deadline(timeout)  # one for all its steps
    try:
        current = __salt__["pacemaker.read_cib"]()
        want, off = _placement(None)
    except _ERRORS as exc:
        return _failed(ret, exc)
    if not off:
        return _done(ret, f"{len(want)} target(s) run on their preferred nodes")
    standby = sorted(n["uname"] for n in current["nodes"] if cib.in_standby(n))
    blocked = sorted({node for nodes in want.values() for node in nodes} & set(standby))
    if blocked:
        return _failed(
            ret,
            f"preferred node(s) {', '.join(blocked)} in standby: take them out first "
            "(pacemaker.node_online / pcs node unstandby). Nothing was moved",
        )
    leftovers = sorted(
        loc["id"] for loc in current["locations"] if loc["rsc"] in want and cib.is_temporary(loc)
    )
    if leftovers:
        return _failed(
            ret,
            f"temporary constraints left on targets: {', '.join(leftovers)}; remove them "
            "(`pcs resource clear <resource>`, `pcs resource relocate clear`) and run again. "
            "Nothing was moved",
        )
    if _testing():
        return _would(ret, off, f"{len(off)} target(s) would be relocated to their preferred nodes")
    advice = (
        "Check `pcs status`; if `pcs constraint` lists pcs-relocate-* constraints, run "
        "`pcs resource relocate clear`, then run again"
    )
    try:
        __salt__["pacemaker.relocate"](
            "run", sorted(off), deadline.timeout("pcs resource relocate")
        )
    except _ERRORS as exc:
        return _failed(ret, f"{exc}. {advice}")
    try:
        left = deadline.timeout("the wait for the placement")
        seen = __salt__["pacemaker.wait_for_placement"](want, timeout=left, interval=interval)
    except _ERRORS as exc:
        # The relocation ran: the cluster was changed even though the wait failed.
        moving = {rsc: {"old": v["old"], "new": "relocating"} for rsc, v in off.items()}
        return _failed(ret, f"{exc}. {advice}", changes=moving)
    ret["changes"] = {rsc: {"old": v["old"], "new": seen.get(rsc, [])} for rsc, v in off.items()}
    return _done(ret, f"{len(off)} target(s) relocated to their preferred nodes")


# --------------------------------------------------------------------------- cluster


def _live_conf(path):
    """This node's corosync.conf as data, or None when there is none."""
    return __salt__["corosync.read_conf"](path) if __salt__["corosync.exists"](path) else None


def _is_running(deadline):
    try:
        return __salt__["pacemaker.membership"](timeout=deadline.timeout("crm_mon"))["dc"]
    except CommandExecutionError:
        return False


def _disabled():
    """The cluster units not enabled at boot (``systemctl is-enabled``)."""
    return [u for u in pcs_dialects.CLUSTER_UNITS if not __salt__["service.enabled"](u)]


def cluster_present(
    name,
    nodes,
    corosync_conf,
    rings=None,
    password=None,
    password_pillar=HACLUSTER_PILLAR,
    enable=True,
    live_conf=LIVE_COROSYNC_CONF,
    timeout=600,
):
    """
    The new cluster ``name`` exists with ``nodes``, runs on this node and (``enable``)
    starts at boot (runbook "Configure the High Availability Framework", "Add Node 2").

    - no ``live_conf``: ``pcs host auth`` (``cluster auth``) of ``nodes``, ``pcs cluster
      setup`` translated from the backed-up ``corosync_conf`` (``pacemaker.setup_command``:
      rings, udp/knet, token 17000), ``pcs cluster start`` (and ``enable``);
    - ``live_conf`` of cluster ``name`` lacking some of ``nodes`` (node 2 after its
      rebuild): auth of all ``nodes``, ``pcs cluster node add`` of each missing one with
      its ``rings`` addresses, started;
    - present (``live_conf`` names the cluster and exactly those nodes) but not running:
      ``pcs cluster start``;
    - every run, with ``enable``: corosync or pacemaker not enabled at boot
      (``service.enabled``) is a change: ``pcs cluster enable``.

    A ``live_conf`` of another cluster, or with other nodes, fails: this state never
    replaces or shrinks a cluster. A step that fails leaves the steps done before it in
    ``changes``.

    name
        The cluster name (``lustre-ha-cluster`` in IML's runbook).
    nodes
        The new cluster's node names (FQDNs).
    corosync_conf
        The old cluster's corosync.conf from the node's backup.
    rings
        ``{node: [ring0_addr, ring1_addr…]}``, one address per ring of the old config
        (needed for knet, pcs ≥0.10).
    password, password_pillar
        The hacluster password, by default read from this pillar key when needed; give
        ``password`` only through a pillar/slot, never a literal in an SLS. It goes to
        pcs on stdin and never appears in the return.
    enable
        Also start the cluster at boot (``pcs cluster enable``, as the runbook does).
    live_conf
        This node's corosync.conf.
    timeout
        Seconds for the whole state, every step and the wait for the membership included.

    .. code-block:: yaml

        new-cluster:
          pacemaker.cluster_present:
            - name: lustre-ha-cluster
            - nodes: [mds1.lfs.intl]
            - corosync_conf: /var/lib/lustre-upgrade/restore/etc/corosync/corosync.conf
            - rings: {mds1.lfs.intl: [10.128.0.21, 10.73.10.21]}
    """
    ret = _ret(name)
    wanted = cli_args.as_list(nodes)
    if not wanted:
        return _failed(ret, "give the new cluster's nodes (FQDNs)")
    rings, missing = rings or {}, sorted(set(wanted) - set(rings or {}))
    if rings and missing:
        return _failed(ret, f"rings has no addresses for {', '.join(missing)}")
    setup_nodes = {n: rings[n] for n in wanted} if rings else wanted
    up = f"cluster {name} with {', '.join(wanted)} is set up and running" + (
        ", enabled at boot" if enable else ""
    )
    try:
        deadline = commandline.Deadline(timeout)
        present = _live_conf(live_conf)
        if present is None:
            argv = __salt__["pacemaker.setup_command"](corosync_conf, setup_nodes, name)
            plan = {"auth": wanted, "setup": " ".join(argv), "started": True}
        else:
            plan = corosync_conf_lib.membership_changes(present, name, wanted, live_conf)
            if not _is_running(deadline):
                plan["started"] = True
        if enable and _disabled():
            plan["enabled"] = True
    except _ERRORS as exc:
        return _failed(ret, exc)
    if not plan:
        return _done(ret, up)
    if _testing():
        steps = ", ".join(k for k in ("auth", "setup", "added", "started", "enabled") if k in plan)
        return _would(ret, plan, f"cluster {name} would be {steps}")
    done = ret["changes"]  # step by step: a failure reports what changed before it
    try:
        if "auth" in plan:
            # The loaded pillar, not pillar.get: Salt >= 3008 masks what pillar.get returns.
            secret = pcs_dialects.hacluster_password(password, None, __pillar__, password_pillar)
            __salt__["pacemaker.auth"](wanted, secret, timeout=deadline.timeout("pcs auth"))
            done["auth"] = plan["auth"]
        if "setup" in plan:
            __salt__["pacemaker.setup_cluster"](
                corosync_conf, setup_nodes, name, timeout=deadline.timeout("pcs cluster setup")
            )
            done["setup"] = plan["setup"]
        for node in plan.get("added", []):
            __salt__["pacemaker.node_add"](
                node, rings.get(node, []), start=True, enable=enable, timeout=deadline.timeout(node)
            )
            done.setdefault("added", []).append(node)
        for step, action in (("started", "start"), ("enabled", "enable")):
            if plan.get(step):
                timeout = deadline.timeout(f"pcs cluster {action}")
                __salt__["pacemaker.cluster"](action, timeout=timeout)
                done[step] = True
        left = min(deadline.timeout("the wait for the membership"), 300)
        __salt__["pacemaker.wait_for_cluster"](wanted, timeout=left)
        after = _live_conf(live_conf)
        unfinished = after is None or corosync_conf_lib.membership_changes(
            after, name, wanted, live_conf
        )
        disabled = _disabled() if enable else []
    except _ERRORS as exc:
        return _failed(ret, f"{exc}. Check `pcs status` and /var/log/pcsd; run again once fixed")
    if unfinished:
        return _failed(
            ret,
            f"{live_conf} does not describe cluster {name} with {', '.join(wanted)} after setup",
        )
    if disabled:
        return _failed(
            ret, f"{', '.join(disabled)} still not enabled at boot after pcs cluster enable"
        )
    return _done(ret, up)
