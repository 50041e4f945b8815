"""
What the orchestration reads from, and does to, a server still in its old life (EL6), over
a site adapter that sends argv lists with core functions (``cmd.run_all``).

The adapter (the runner's) has ``run_argv(minion, argv, timeout)`` returning
``cmd.run_all``'s dict, or raising ``CommandExecutionError`` when the minion does not
answer. Every check here reads what the node itself reports: Pacemaker's XML, ``pidof``,
``/proc/mounts`` and IML's target store.
"""

from salt.exceptions import CommandExecutionError

from . import cib, cluster_health, old_cluster


def checked(site, minion, argv, timeout=120, allowed=(0,)):
    """``cmd.run_all`` of ``argv`` on ``minion``; a failure names the command and the node."""
    ret = site.run_argv(minion, argv, timeout=timeout)
    if ret.get("retcode") not in allowed:
        raise CommandExecutionError(
            f"`{' '.join(argv)}` on {minion} failed (exit {ret.get('retcode')}): "
            # One line: a finding or a phase's comment holds it.
            f"{' '.join((ret.get('stderr') or ret.get('stdout') or '').split())[:500]}"
        )
    return ret


def cib_xml(site, minion):
    """The old cluster's resources, constraints and status as one ``<cib>`` (never its
    node attributes, which hold the fence passwords)."""
    return old_cluster.assemble_cib(
        {
            scope: checked(site, minion, old_cluster.cib_query_argv(scope))["stdout"]
            for scope in old_cluster.QUERIED_SCOPES
        }
    )


def health(site, minion, node_names):
    """``cluster_health``'s record of the old cluster as ``minion`` sees it, read without
    crm_mon, whose XML carries the node attributes (the fence passwords)."""
    root = checked(site, minion, old_cluster.cib_root_argv())["stdout"]
    crm_config = checked(site, minion, old_cluster.crm_config_argv())["stdout"]
    status = checked(site, minion, old_cluster.cib_query_argv("status"))["stdout"]
    flags = {
        node: {
            name: checked(site, minion, old_cluster.node_flag_argv(node, name))["stdout"].strip()
            for name in ("standby", "maintenance")
        }
        for node in node_names
    }
    return cluster_health.read_cib_health(
        root,
        crm_config,
        status,
        flags,
        source=f"cibadmin on {minion}",
    )


def read_cluster(site, minion):
    """The old cluster as ``minion`` sees it (``cib.parse_cib`` of ``cibadmin --query``)."""
    return cib.parse_cib(cib_xml(site, minion), f"cibadmin --query on {minion}")


def targets(cluster):
    """The ``ocf:chroma:Target`` resources of a parsed CIB: ``{id: record}``."""
    return {rsc["id"]: rsc for rsc in cluster["resources"] if cib.agent_of(rsc) == cib.TARGET_AGENT}


def placement(cluster, ids):
    """``{target: sorted nodes where it is active}`` from the CIB's status section."""
    found = cluster.get("placement") or {}
    return {rsc: sorted(found.get(rsc, ())) for rsc in ids}


def placement_now(site, minion, ids):
    """``{target: sorted nodes where it is active}`` from the CIB's status section alone:
    one query, so a wait can poll it quickly."""
    argv = old_cluster.cib_query_argv("status")
    status = cib.parse_xml(checked(site, minion, argv)["stdout"], f"{' '.join(argv)} on {minion}")
    return {
        rsc: sorted(nodes) for rsc, nodes in cib.status_placement(status, ids).items() if rsc in ids
    }


def target_store(site, minion):
    """IML's target store on ``minion`` as ``{uuid: record}`` (empty when it has none)."""
    ret = checked(site, minion, old_cluster.target_store_argv(), allowed=(0, 1))
    return old_cluster.parse_target_store_listing(ret["stdout"], f"target store of {minion}")


def mountpoints_of(cluster, store, ids=None):
    """``{target: mount point}`` through each Target's ``target`` (uuid) attribute."""
    found = {}
    for rsc_id, rsc in targets(cluster).items():
        if ids is not None and rsc_id not in ids:
            continue
        record = store.get(rsc["attributes"].get("target") or "")
        if record:
            found[rsc_id] = record["mntpt"]
    return found


def mounted(site, minion, mountpoints):
    """The mount points of ``mountpoints`` that ``minion``'s ``/proc/mounts`` shows."""
    if not mountpoints:
        return []
    text = checked(site, minion, old_cluster.mounts_argv())["stdout"]
    return old_cluster.served_mountpoints(old_cluster.parse_proc_mounts(text), mountpoints)


def cluster_daemons(site, minion):
    """The old cluster's daemons running on ``minion`` (``pidof``)."""
    ret = site.run_argv(minion, old_cluster.daemons_argv(), timeout=60)
    return old_cluster.running_daemons(ret)


def stop_cluster(site, minion):
    """``service pacemaker stop``, ``service corosync stop``, ``chkconfig … off``; each
    is idempotent on EL6 (stopping a stopped service exits 0)."""
    for argv in old_cluster.stop_cluster_argvs() + old_cluster.disable_autostart_argvs():
        checked(site, minion, argv, timeout=600)


def set_target_role(site, minion, resource, role):
    checked(site, minion, old_cluster.target_role_argv(resource, role))


def set_standby(site, minion, node, standby=True):
    checked(site, minion, old_cluster.standby_argv(node, standby))
