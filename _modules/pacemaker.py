"""
Pacemaker clusters through pcs, cibadmin, crm_mon and crm_diff: the live verbs.

The logic lives in the library ``lustre_upgrade_lib`` (``_utils/``): ``cib`` (the CIB
model: CIB, CIB section and crm_mon XML read into one data shape), ``cib_restore`` (the
new cluster's CIB and fencing plan from an old cluster's backup) and ``pcs_dialects``
(argv builders per pcs dialect). This module detects the dialect of the local pcs once
(cached in ``__context__``), runs the argv lists through ``cmd.run_all`` (never a
shell), waits for the cluster to reach a placement and writes CIB files. Each
``*_command`` function returns the argv for the detected dialect, or for a
``dialect=`` given for offline planning (``"0.9"``, ``"0.10"``, ``"0.12"`` or a pcs
version).

Every command runs with a timeout (``timeout=``, default ``COMMAND_TIMEOUT`` seconds);
a wait has one overall deadline and each of its polls gets only the time left.

Secrets (``masking``: passwords, keys, communities, fence agents' secret parameters)
read ``"********"`` in what this module returns, ``diff_cib``'s patch included. They
travel on stdin, never on a command line: the hacluster password goes to pcs on stdin
(pcs reads it from stdin when stdin is not a terminal), fencing passwords go to the CIB
on cibadmin's stdin. A command that carries a secret (on stdin, or in its output: the
CIB) runs with ``output_loglevel="quiet"``, and the output of a command that carried a
secret is never shown in an error: the message names the command and says to run it by
hand.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    import lustre_upgrade_lib
    from lustre_upgrade_lib import (
        cib,
        cib_restore,
        cli_args,
        commandline,
        fileio,
        masking,
        pcs_dialects,
    )
    from lustre_upgrade_lib import corosync_conf as corosync_lib
except ImportError as exc:
    if (exc.name or "").startswith("lxml"):
        _MISSING = f"{exc}: install python3-lxml (EL7: python36-lxml) or pip install lxml"
    else:
        _MISSING = f"{exc}: sync _utils/ with saltutil.sync_all, or pip install the extension"
    # Defaults of the signatures below; the module does not load (see __virtual__).
    TARGET_AGENT = DEFAULT_CLUSTER_NAME = TOKEN_MS = FAIL_RECV_CONST = None
    COMMAND_TIMEOUT = HACLUSTER_PILLAR = None
else:
    _MISSING = None
    TARGET_AGENT = cib.TARGET_AGENT
    DEFAULT_CLUSTER_NAME = pcs_dialects.DEFAULT_CLUSTER_NAME
    TOKEN_MS = pcs_dialects.TOKEN_MS
    FAIL_RECV_CONST = pcs_dialects.FAIL_RECV_CONST
    COMMAND_TIMEOUT = commandline.DEFAULT_TIMEOUT
    HACLUSTER_PILLAR = pcs_dialects.HACLUSTER_PILLAR

__virtualname__ = "pacemaker"
_cli_example = commandline.cli_example if not _MISSING else (lambda *_: lambda func: func)

_CONTEXT_KEY = "pacemaker.dialect"


def __virtual__():
    if _MISSING:
        return (False, f"pacemaker needs the library lustre_upgrade_lib: {_MISSING}")
    lustre_upgrade_lib.reload_changed()
    return __virtualname__


# --------------------------------------------------------------------------- running


def _run(argv, stdin=None, secret=False, timeout=None, ok_codes=(0,), env=None):
    """
    Run ``argv`` (no shell) within ``timeout`` seconds (default ``COMMAND_TIMEOUT``).
    ``secret``: the command carries a secret on stdin or in its output: nothing of it is
    logged, and its output is left out of the error.
    """
    timeout = timeout or COMMAND_TIMEOUT
    kwargs = {"python_shell": False, "ignore_retcode": True, "timeout": timeout}
    if stdin is not None:
        kwargs["stdin"] = stdin
    if secret:
        kwargs["output_loglevel"] = "quiet"
    if env:
        kwargs["env"] = env
    res = __salt__["cmd.run_all"](argv, **kwargs)
    if res["retcode"] not in ok_codes or commandline.timed_out(res):
        raise CommandExecutionError(
            commandline.failure_message(argv, res, timeout, secret),
            info={"retcode": res["retcode"]},
        )
    return res


def _cib_env(cib_file):
    return {"CIB_file": cib_file} if cib_file else None


def _query(cib_file=None, scope=None, timeout=None):
    """``cibadmin --query`` (of ``scope``) as an element; its output holds secrets."""
    argv = ["cibadmin", "--query", *(["--scope", scope] if scope else [])]
    res = _run(argv, secret=True, env=_cib_env(cib_file), timeout=timeout)
    return cib.parse_xml(res["stdout"], " ".join(argv)), res["stdout"]


# --------------------------------------------------------------------------- reading


@_cli_example("salt '*' pacemaker.parse_cib \"$(cibadmin --query)\"")
def parse_cib(xml, source="<xml>"):
    """Parse CIB or crm_mon XML text into data (see ``read_cib`` for the shape)."""
    return cib.parse_cib(xml, source)


@_cli_example(
    "salt '*' pacemaker.read_cib",
    "salt '*' pacemaker.read_cib /root/bck-mds1-20170418/cluster-cfg-mds1.xml",
)
def read_cib(path=None):
    """
    Read a CIB as data: a file, or the live CIB (``cibadmin --query``) when ``path`` is None.

    Returns exactly ``{"properties": {name: value}, "rsc_defaults": {…}, "nodes": [{"id",
    "uname", "attributes"}], "resources": [{"id", "class", "provider", "type",
    "attributes", "meta", "operations": [{"name", "interval", "timeout"}]}], "stonith":
    [{"id", "type", "attributes"}], "locations": [{"id", "rsc", "node", "score", "role"}],
    "placement": {rsc_id: [node, …]}}``; lists of records are sorted by id, operations by
    name and interval, values are the strings the XML holds. Secrets (attributes named
    like a password, key, community…) read ``"********"``.

    Accepted input:

    - a whole CIB (``<cib>``): every key. ``placement`` comes from the status section
      (the nodes where each resource's latest operation left it active; every configured
      resource has an entry, ``[]`` when stopped); it is ``{}`` without a status section.
      Resources inside groups and clones are listed as their primitives; a primitive
      built from a ``<template>`` gets the template's agent, attributes and operations.
    - a CIB section (``<resources>``, ``<constraints>``, ``<configuration>``,
      cibadmin's ``<xpath-query>``, a single ``<primitive>``…): what that section holds.
    - crm_mon XML, Pacemaker 1.1 ``crm_mon --as-xml`` (``<crm_mon>``) and 2.x
      ``crm_mon --output-as=xml`` (``<pacemaker-result>``), plain or ``--group-by-node``:
      ``nodes`` (with ``node_attributes``), ``placement`` (from where crm_mon shows each
      resource active, in any role), ``resources``/``stonith`` with their agent only
      (crm_mon shows no attributes, meta or operations: those are empty) and
      ``locations`` from ``<bans>``. ``properties`` and ``rsc_defaults`` stay empty:
      crm_mon does not show them as such.
    """
    if path is None:
        # The CIB holds fencing passwords: keep cibadmin's output out of the minion log.
        root, _ = _query()
        return cib.parse_root(root, "cibadmin --query")
    return cib.read_cib_file(path)


@_cli_example("salt mds1 pacemaker.preferred_nodes")
def preferred_nodes(cib_file=None, agents=(TARGET_AGENT,)):
    """
    The node each target prefers: the node of its ``<resource>-primary`` location (IML's
    id), else the node of its single highest positive score; None when neither exists.
    """
    return cib.preferred(read_cib(cib_file), tuple(cli_args.as_list(agents)))


# --------------------------------------------------------------------------- restore


@_cli_example(
    "salt mds1 pacemaker.build_restore_cib /root/bck/cluster-cfg-mds1.xml"
    " '{mds1: mds1.lfs.intl, mds2: mds2.lfs.intl}' /root/restore.xml",
)
def build_restore_cib(backup, node_map, output, base=None, agents=(TARGET_AGENT,)):
    """
    Write the new cluster's CIB from an old cluster's CIB backup.

    ``backup`` is ``cibadmin --query`` of the old cluster (EL6 or EL7); ``node_map`` maps
    each old node name to its new FQDN; ``base`` is a copy of the new cluster's CIB
    (``cibadmin --query``), or None to start from ``cibadmin --empty``. The backup's own
    XML elements are copied (never regenerated: IML finds constraints by their ids):

    - every primitive whose agent is in ``agents`` (default ``ocf:chroma:Target``), with
      its id, ``target`` uuid, operations and meta, and ``target-role=Stopped``;
    - the ``st-fencing`` stonith resource (created as ``stonith:fence_chroma`` if the
      backup has none: the runbook creates it unconditionally);
    - every location constraint of those resources, id and score kept, node renamed;
      ``cli-ban-*``/``cli-prefer-*``/``cli-standby-*`` are dropped and reported;
    - the backup's resource defaults, plus the runbook's (resource-stickiness=1000,
      failure-timeout=20m, migration-threshold=3) where the backup lacks them;
    - properties no-quorum-policy=ignore (``stop`` for more than 2 nodes),
      stonith-enabled, symmetric-cluster and maintenance-mode all true.

    Node attributes (fencing) are not copied: ``fencing_attributes`` gives them for the
    last step. An element whose id already exists in ``base`` is left as the base has it
    and listed under ``kept``, so building again from a restored CIB changes no resource.
    Any error (not XML, not a CIB, a primitive without id, a location without node, a
    node missing from node_map) is raised before ``output`` is written. ``output`` is
    written atomically, mode 0600.

    Returns ``{"output", "resources", "stonith", "constraints", "dropped_constraints",
    "kept", "rsc_defaults", "properties", "warnings"}``.
    """
    backup_root = cib.load_xml_file(backup)
    if base is None:
        base_root = cib.parse_xml(_run(["cibadmin", "--empty"])["stdout"], "cibadmin --empty")
    else:
        base_root = cib.load_xml_file(base)
    new_root, summary = cib_restore.restore_cib(backup_root, node_map, base_root, backup, agents)
    fileio.atomic_write(output, cib.to_bytes(new_root), mode=0o600)
    summary["output"] = output
    return summary


def _fencing_plan(backup, node_map):
    return cib_restore.fencing_plan(cib.load_xml_file(backup), node_map, backup)


@_cli_example(
    "salt mds1 pacemaker.fencing_attributes /root/bck/cluster-cfg-mds1.xml"
    " '{mds1: mds1.lfs.intl, mds2: mds2.lfs.intl}'",
)
def fencing_attributes(backup, node_map):
    """
    The fencing node attributes a CIB backup holds, renamed and ordered (agent last).

    Secrets read ``"********"``; ``apply_fencing_attributes`` sets the real values.
    """
    return cib_restore.masked_plan(_fencing_plan(backup, node_map))


def _current_node_attributes(cib_file=None):
    """uname -> {name: real value} of the nodes section (secrets included: never return)."""
    nodes, _ = _query(cib_file, scope="nodes")
    return cib.node_attributes(nodes)


@_cli_example(
    "salt mds1 pacemaker.pending_fencing_attributes /root/bck/cluster-cfg-mds1.xml"
    " '{mds1: mds1.lfs.intl, mds2: mds2.lfs.intl}'",
)
def pending_fencing_attributes(backup, node_map, cib_file=None):
    """
    The fencing node attributes of a CIB backup that the CIB (live, or ``cib_file``) lacks
    or holds with another value: ``[{"node", "attributes": [name, …]}]``, names only, in
    the order ``apply_fencing_attributes`` sets them. A node of the plan missing from the
    CIB is an error.
    """
    plan = _fencing_plan(backup, node_map)
    pending = cib_restore.pending_plan(plan, _current_node_attributes(cib_file))
    return [
        {"node": entry["node"], "attributes": [name for name, _ in entry["attributes"]]}
        for entry in pending
    ]


@_cli_example(
    "salt mds1 pacemaker.apply_fencing_attributes /root/bck/cluster-cfg-mds1.xml"
    " '{mds1: mds1.lfs.intl, mds2: mds2.lfs.intl}'",
)
def apply_fencing_attributes(backup, node_map, dialect=None, cib_file=None, pending_only=False):
    """
    Set the fencing node attributes of a CIB backup on the new cluster (runbook "Cluster
    Power Management"): per node, every ``N_fence_*`` first, then the agents. With
    ``pending_only`` only those ``pending_fencing_attributes`` lists are set.
    """
    plan = _fencing_plan(backup, node_map)
    if cli_args.is_true(pending_only):
        plan = cib_restore.pending_plan(plan, _current_node_attributes(cib_file))
    for entry in plan:
        for chunk in cib_restore.agents_last(entry["attributes"]):
            if chunk:
                set_node_attributes(entry["node"], chunk, dialect, cib_file=cib_file)
    return cib_restore.masked_plan(plan)


@_cli_example("salt mds1 pacemaker.set_node_attributes mds1.lfs.intl '[[0_fence_plug, mds1]]'")
def set_node_attributes(node, attributes, dialect=None, cib_file=None, timeout=COMMAND_TIMEOUT):
    """
    Set node attributes (dict or ordered ``[name, value]`` pairs) in one CIB update.

    The values travel on ``cibadmin --modify --xml-pipe``'s standard input, never on a
    command line (``pcs property set --node``/``pcs node attribute`` would put fence
    passwords in the process list); an attribute that exists keeps its id and block.
    """
    items = list(attributes.items()) if isinstance(attributes, dict) else list(attributes)
    nodes, _ = _query(cib_file, scope="nodes", timeout=timeout)
    update = cib.node_attributes_update(nodes, node, items)
    _run(
        ["cibadmin", "--modify", "--scope", "nodes", "--xml-pipe"],
        stdin=update,
        secret=any(masking.is_secret(name) for name, _ in items),
        env=_cib_env(cib_file),
        timeout=timeout,
    )
    return {"node": node, "attributes": [[n, masking.masked(n, v)] for n, v in items]}


# --------------------------------------------------------------------------- dialect


@_cli_example("salt '*' pacemaker.dialect_of_version 0.9.169")
def dialect_of_version(version):
    """The dialect ("0.9", "0.10", "0.12") of a pcs version string such as ``0.11.5``."""
    return pcs_dialects.dialect_of_version(version)


@_cli_example("salt '*' pacemaker.detect_dialect")
def detect_dialect(refresh=False, timeout=COMMAND_TIMEOUT):
    """
    The pcs dialect of this host, detected once and cached in ``__context__``.

    The version (``pcs --version``) picks the dialect and a capability confirms it:
    pcs ≥0.10 must list ``node.attributes`` in ``pcs --version --full``; pcs 0.9 must
    offer ``property set --node`` in its help. A pcs that fails either is an error.
    """
    if not refresh and _CONTEXT_KEY in __context__:
        return __context__[_CONTEXT_KEY]
    budget = commandline.Deadline(timeout)
    version = _run(["pcs", "--version"], timeout=budget.left())["stdout"].strip()
    try:
        pcs = pcs_dialects.syntax(pcs_dialects.dialect_of_version(version))
    except SaltInvocationError as exc:
        raise CommandExecutionError(f"the installed {exc}") from None
    res = _run(list(pcs.probe), ok_codes=pcs.probe_ok_codes, timeout=budget.timeout("pcs's probe"))
    if not pcs.confirms(res["stdout"], res.get("stderr") or ""):
        raise CommandExecutionError(f"pcs {version} {pcs.unconfirmed}")
    __context__[_CONTEXT_KEY] = pcs.name
    return pcs.name


def _dialect(dialect, timeout=COMMAND_TIMEOUT):
    return detect_dialect(timeout=timeout) if dialect is None else dialect


# --------------------------------------------------------------------------- builders


@_cli_example("salt '*' pacemaker.auth_command '[mds1.lfs.intl, mds2.lfs.intl]' dialect=0.9")
def auth_command(nodes, user="hacluster", dialect=None):
    """
    argv that authenticates pcs against ``nodes``; the password goes on stdin.

    pcs reads the password from stdin when stdin is not a terminal (pcs 0.9 to 0.12), so
    it never appears on a command line.
    """
    return pcs_dialects.auth_command(nodes, user, dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.standby_command mds1.lfs.intl")
def standby_command(node=None, dialect=None, cib_file=None):
    """argv that puts ``node`` (the local node when None) in standby."""
    return pcs_dialects.standby_command(node, cib_file, dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.unstandby_command mds1.lfs.intl")
def unstandby_command(node=None, dialect=None, cib_file=None):
    """argv that takes ``node`` (the local node when None) out of standby."""
    return pcs_dialects.unstandby_command(node, cib_file, dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.cluster_command disable")
def cluster_command(action, node=None, all_nodes=False, dialect=None):
    """
    argv of ``pcs cluster start|stop|enable|disable`` for the local node (default),
    ``node``, or every node (``all_nodes=True``). The same in every dialect.
    """
    return pcs_dialects.cluster_command(action, node, all_nodes, dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.property_set_command '{no-quorum-policy: ignore}'")
def property_set_command(properties, dialect=None, cib_file=None):
    """argv of ``pcs property set name=value…`` (``properties``: a dict)."""
    return pcs_dialects.property_set_command(properties, cib_file, dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.maintenance_mode_command false")
def maintenance_mode_command(enabled, dialect=None, cib_file=None):
    """argv that sets the ``maintenance-mode`` property."""
    return pcs_dialects.maintenance_mode_command(enabled, cib_file, dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.resource_enable_command '[MGS_32834e, demo-MDT0000_802c1b]'")
def resource_enable_command(resources, dialect=None, cib_file=None):
    """argv of ``pcs resource enable ID…``."""
    return pcs_dialects.resource_enable_command(resources, cib_file, dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.resource_disable_command MGS_32834e")
def resource_disable_command(resources, dialect=None, cib_file=None):
    """argv of ``pcs resource disable ID…``."""
    return pcs_dialects.resource_disable_command(resources, cib_file, dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.node_attribute_command mds1.lfs.intl '{0_fence_plug: mds1}'")
def node_attribute_command(node, attributes, dialect=None, cib_file=None):
    """
    argv that sets node attributes: ``property set --node`` (0.9), ``node attribute`` (≥0.10).

    ``attributes``: a dict or a list of ``[name, value]`` pairs (order kept). Secrets
    read ``name=********``: a command line would show them to every user of the node;
    ``set_node_attributes`` sets them through cibadmin's stdin instead.
    """
    argv = pcs_dialects.node_attribute_command(
        node, attributes, cib_file, dialect=_dialect(dialect)
    )
    return masking.masked_argv(argv)


@_cli_example(
    "salt mds1 pacemaker.node_add_command mds2.lfs.intl '[10.128.0.22, 10.73.10.22]' start=True",
)
def node_add_command(node, addrs=(), start=False, enable=False, dialect=None):
    """
    argv of ``pcs cluster node add``: with ``addr=`` per ring for pcs ≥0.10.

    pcs 0.9 (udp rings) takes the rings from the cluster's interface settings and
    ignores ``addrs``.
    """
    return pcs_dialects.node_add_command(node, addrs, start, enable, dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.relocate_command show")
def relocate_command(action="run", resources=(), dialect=None, cib_file=None):
    """argv of ``pcs resource relocate show|dry-run|run|clear [ID…]``."""
    return pcs_dialects.relocate_command(action, resources, cib_file, dialect=_dialect(dialect))


@_cli_example("salt mds1 pacemaker.cib_push_command /root/restore.xml")
def cib_push_command(path, diff_against=None, dialect=None):
    """
    argv of ``pcs cluster cib-push FILE``: the configuration section (``--config``), or
    the difference between ``diff_against`` and FILE (``diff-against=``).
    """
    return pcs_dialects.cib_push_command(path, diff_against, dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.crm_diff_command /root/live.xml /root/restore.xml")
def crm_diff_command(original, new):
    """argv of ``crm_diff`` producing the patch from ``original`` to ``new`` (exit 1 = differ)."""
    return pcs_dialects.crm_diff_command(original, new)


@_cli_example("salt '*' pacemaker.cib_patch_command /root/restore.patch")
def cib_patch_command(patch):
    """argv of ``cibadmin --patch`` applying a ``crm_diff`` patch file to the live CIB."""
    return pcs_dialects.cib_patch_command(patch)


@_cli_example("salt '*' pacemaker.crm_mon_command")
def crm_mon_command(dialect=None):
    """
    argv of crm_mon's XML status: ``--as-xml`` (Pacemaker 1.1, with pcs 0.9) or
    ``--output-as=xml`` (Pacemaker 2, with pcs ≥0.10).
    """
    return pcs_dialects.crm_mon_command(dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.resource_defaults_command")
def resource_defaults_command(defaults=None, dialect=None, cib_file=None):
    """argv that sets resource defaults (default: the runbook's three)."""
    return pcs_dialects.resource_defaults_command(defaults, cib_file, dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.stonith_create_command")
def stonith_create_command(dialect=None, cib_file=None):
    """argv that creates IML's ``st-fencing`` (``stonith:fence_chroma``)."""
    return pcs_dialects.stonith_create_command(cib_file, dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.resource_config_command")
def resource_config_command(dialect=None, cib_file=None):
    """argv that shows the resources' configuration (``resource show --full`` / ``config``)."""
    return pcs_dialects.resource_config_command(cib_file, dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.constraint_config_command")
def constraint_config_command(dialect=None, cib_file=None):
    """argv that shows constraints with their ids (``constraint show|config --full``)."""
    return pcs_dialects.constraint_config_command(cib_file, dialect=_dialect(dialect))


@_cli_example("salt '*' pacemaker.property_config_command")
def property_config_command(dialect=None, cib_file=None):
    """argv that shows cluster properties (``property show`` / ``property config``)."""
    return pcs_dialects.property_config_command(cib_file, dialect=_dialect(dialect))


@_cli_example(
    "salt mds1 pacemaker.setup_command /root/bck/etc/corosync/corosync.conf"
    " '{mds1.lfs.intl: [10.128.0.21, 10.73.10.21]}'",
)
def setup_command(
    corosync_conf,
    nodes,
    cluster_name=DEFAULT_CLUSTER_NAME,
    dialect=None,
    token=TOKEN_MS,
    fail_recv_const=FAIL_RECV_CONST,
    corosync_conf_out=None,
):
    """
    argv of ``pcs cluster setup`` for the new cluster, from the old cluster's corosync.conf.

    ``corosync_conf``: the backed-up corosync.conf (a path) or what
    ``corosync.read_conf`` returned; any generation. ``nodes``: the new cluster's nodes
    (FQDNs), as ``{name: [ring0_addr, ring1_addr…]}`` (one address per ring of the old
    config) or a list of names.

    - pcs 0.9: ``--name NAME NODE… --transport udp --rrpmode passive --addr0 BINDNETADDR
      --mcast0 MCASTADDR --mcastport0 PORT [--addr1 …] --token 17000 --fail_recv_const 10``,
      the old rings kept as they were (multicast, ``bindnetaddr`` a network address);
      a udpu config (nodelist only) gives ``--transport udpu`` with ``name,ring1_addr``.
    - pcs ≥0.10: ``NAME NODE addr=A0 addr=A1 … transport knet link_mode=passive link
      linknumber=0 mcastport=PORT … totem token=17000 fail_recv_const=10``. knet is
      unicast: it needs each node's own address on each link, which ``bindnetaddr`` (a
      network, or any address inside it, that corosync matched against the local
      interfaces) does not give. So the per-node addresses come from ``nodes`` (pillar),
      one per old ring, in ring order; the old ``mcastport`` of each ring is kept as its
      link's port and the multicast address is dropped (knet has none).

    ``corosync_conf_out`` (pcs ≥0.10) adds ``--corosync_conf FILE``: pcs writes the new
    corosync.conf there instead of setting up the cluster (offline planning).
    """
    conf = corosync_conf
    if isinstance(conf, str):
        conf = corosync_lib.read_conf(conf)
    return pcs_dialects.setup_command(
        conf,
        nodes,
        cluster_name,
        dialect=_dialect(dialect),
        token=token,
        fail_recv_const=fail_recv_const,
        corosync_conf_out=corosync_conf_out,
    )


# --------------------------------------------------------------------------- live


def _crm_mon_xml(dialect, timeout):
    budget = commandline.Deadline(timeout)
    argv = crm_mon_command(_dialect(dialect, timeout))
    ok = (0, 64) if "--output-as=xml" in argv else (0,)
    res = _run(argv, ok_codes=ok, timeout=timeout if dialect else budget.timeout("crm_mon"))
    if res["retcode"] == 64:  # Pacemaker 2.0.0–2.0.2 lacks --output-as: use the old flag
        argv = [*argv[:-1], "--as-xml"]
        res = _run(argv, timeout=budget.timeout(" ".join(argv)))
    return res["stdout"], " ".join(argv)


@_cli_example("salt '*' pacemaker.status")
def status(dialect=None, timeout=COMMAND_TIMEOUT):
    """The cluster's state from crm_mon XML, in ``read_cib``'s shape (nodes, placement…)."""
    xml, source = _crm_mon_xml(dialect, timeout)
    return cib.parse_cib(xml, source=source)


@_cli_example("salt '*' pacemaker.membership")
def membership(dialect=None, timeout=COMMAND_TIMEOUT):
    """
    Who is in the cluster now: ``{"dc": bool, "online": [node names], "offline": [...]}``
    from crm_mon XML (a DC is elected once the membership has formed).
    """
    xml, source = _crm_mon_xml(dialect, timeout)
    return cib.membership(cib.parse_xml(xml, source))


@_cli_example(
    "salt mds1 pacemaker.auth '[mds1.lfs.intl, mds2.lfs.intl]'",
    "salt mds1 pacemaker.auth '[mds1.lfs.intl]' password_file=/root/hacluster.pw",
)
def auth(
    nodes,
    password=None,
    user="hacluster",
    dialect=None,
    password_file=None,
    password_pillar=HACLUSTER_PILLAR,
    timeout=COMMAND_TIMEOUT,
):
    """
    Authenticate pcs against ``nodes``; the password is given to pcs on stdin.

    The password is ``password`` (for callers inside Salt; never type it on a command
    line: it would reach the job cache and the event bus), else the first line of
    ``password_file``, else the pillar key ``password_pillar`` of the minion's loaded
    pillar (``lustre_upgrade:secrets:hacluster_password``).
    """
    pillar = __pillar__ if password is None and not password_file else None
    secret = pcs_dialects.hacluster_password(password, password_file, pillar, password_pillar)
    argv = auth_command(nodes, user, dialect)
    res = _run(argv, stdin=f"{secret}\n", secret=True, timeout=timeout)
    return {"nodes": cli_args.as_list(nodes), "user": user, "stdout": res["stdout"].strip()}


@_cli_example("salt mds1 pacemaker.wait_for_placement '{MGS_32834e: mds1.lfs.intl}'")
def wait_for_placement(expected, timeout=300, interval=2, dialect=None):
    """
    Wait until every resource in ``expected`` runs where it says: a node name, a list of
    node names, or None / ``[]`` for stopped everywhere. Returns the placement seen.
    """
    wanted = cib.wanted_placement(expected)

    def check(left):
        placement = status(dialect, timeout=left)["placement"]
        seen = {rsc: placement.get(rsc, []) for rsc in wanted}
        return seen == wanted, seen

    return commandline.poll_until(check, timeout, interval, f"placement {wanted}")


@_cli_example("salt mds2 pacemaker.wait_until_node_empty mds1")
def wait_until_node_empty(node, timeout=300, interval=2, dialect=None):
    """Wait until no resource is active on ``node`` (after standby). Returns the placement."""

    def check(left):
        placement = status(dialect, timeout=left)["placement"]
        busy = sorted(rsc for rsc, nodes in placement.items() if node in nodes)
        return not busy, placement if not busy else {"still on " + node: busy}

    return commandline.poll_until(check, timeout, interval, f"{node} to run no resource")


@_cli_example("salt mds1 pacemaker.wait_for_cluster '[mds1.lfs.intl]'")
def wait_for_cluster(nodes=(), timeout=120, interval=2, dialect=None):
    """
    Wait until the local cluster stack has formed its membership (a DC is elected) and
    every node of ``nodes`` is online (after ``pcs cluster start``). Returns the
    membership, as ``membership`` does.
    """
    wanted = cli_args.as_list(nodes)

    def check(left):
        try:
            now = membership(dialect, timeout=left)
        except CommandExecutionError as exc:
            return False, str(exc)
        missing = sorted(set(wanted) - set(now["online"]))
        return now["dc"] and not missing, now

    what = "a DC to be elected" + (f" with {', '.join(wanted)} online" if wanted else "")
    return commandline.poll_until(check, timeout, interval, what)


@_cli_example("salt mds1 pacemaker.standby mds1")
def standby(node=None, wait=True, timeout=300, dialect=None, cib_file=None):
    """
    Put ``node`` (local node when None) in standby; with a node name, wait until it runs
    nothing. ``timeout`` covers both.

    With ``cib_file`` only the file changes (``pcs -f``) and nothing is waited for: no
    resource moves in a file.
    """
    deadline = commandline.Deadline(timeout)  # one for the command and the wait
    _run(standby_command(node, dialect, cib_file), timeout=min(COMMAND_TIMEOUT, deadline.left()))
    if cli_args.is_true(wait) and node and not cib_file:
        left = deadline.timeout(f"the wait for {node} to run nothing")
        wait_until_node_empty(node, timeout=left, dialect=dialect)
    return {"node": node, "standby": True}


@_cli_example("salt mds1 pacemaker.unstandby mds1.lfs.intl")
def unstandby(node=None, dialect=None, cib_file=None, timeout=COMMAND_TIMEOUT):
    """Take ``node`` (local node when None) out of standby (in ``cib_file`` when given)."""
    _run(unstandby_command(node, dialect, cib_file), timeout=timeout)
    return {"node": node, "standby": False}


@_cli_example("salt mds1 pacemaker.cluster start")
def cluster(action, node=None, all_nodes=False, timeout=300, dialect=None):
    """``pcs cluster start|stop|enable|disable`` (local node by default)."""
    argv = cluster_command(action, node, all_nodes, dialect)
    res = _run(argv, timeout=timeout)
    return {"action": action, "node": node, "all": bool(all_nodes), "stdout": res["stdout"]}


@_cli_example(
    "salt mds1 pacemaker.setup_cluster /root/bck/etc/corosync/corosync.conf"
    " '{mds1.lfs.intl: [10.128.0.21, 10.73.10.21]}'",
)
def setup_cluster(
    corosync_conf, nodes, cluster_name=DEFAULT_CLUSTER_NAME, dialect=None, timeout=600
):
    """
    ``pcs cluster setup`` of the new cluster, translated from the old corosync.conf (see
    ``setup_command``); run on the first node once pcs is authenticated to every node.
    """
    argv = setup_command(corosync_conf, nodes, cluster_name, dialect)
    res = _run(argv, timeout=timeout)
    names = list(nodes) if isinstance(nodes, dict) else cli_args.as_list(nodes)
    return {"name": cluster_name, "nodes": names, "stdout": res["stdout"]}


@_cli_example("salt mds1 pacemaker.node_add mds2.lfs.intl '[10.128.0.22, 10.73.10.22]'")
def node_add(node, addrs=(), start=True, enable=False, timeout=600, dialect=None):
    """Add ``node`` to the cluster (run on a member), with one address per ring for pcs ≥0.10."""
    res = _run(node_add_command(node, addrs, start, enable, dialect), timeout=timeout)
    return {"node": node, "stdout": res["stdout"]}


@_cli_example("salt mds1 pacemaker.set_properties '{stonith-enabled: \"true\"}'")
def set_properties(properties, dialect=None, cib_file=None, timeout=COMMAND_TIMEOUT):
    """Set cluster properties (a dict), in the live CIB or in ``cib_file``."""
    _run(property_set_command(properties, dialect, cib_file), timeout=timeout)
    return dict(properties)


@_cli_example("salt mds1 pacemaker.set_maintenance_mode false")
def set_maintenance_mode(enabled, dialect=None, cib_file=None, timeout=COMMAND_TIMEOUT):
    """Set or clear the ``maintenance-mode`` property (in ``cib_file`` when given)."""
    _run(maintenance_mode_command(enabled, dialect, cib_file), timeout=timeout)
    return {"maintenance-mode": cli_args.is_true(enabled)}


@_cli_example("salt mds1 pacemaker.set_resource_defaults '{resource-stickiness: 1000}'")
def set_resource_defaults(defaults=None, dialect=None, cib_file=None, timeout=COMMAND_TIMEOUT):
    """
    Set resource defaults (a dict; default: the runbook's three), in the live CIB or in
    ``cib_file``.
    """
    values = dict(defaults) if defaults else dict(cib.RUNBOOK_RSC_DEFAULTS)
    _run(resource_defaults_command(values, dialect, cib_file), timeout=timeout)
    return masking.masked_mapping({name: str(value) for name, value in values.items()})


@_cli_example("salt mds1 pacemaker.enable_resources '[MGS_32834e]'")
def enable_resources(resources, dialect=None, cib_file=None, timeout=COMMAND_TIMEOUT):
    """``pcs resource enable ID…`` (in ``cib_file`` when given)."""
    _run(resource_enable_command(resources, dialect, cib_file), timeout=timeout)
    return {"enabled": pcs_dialects.resource_ids(resources)}


@_cli_example("salt mds1 pacemaker.disable_resources '[MGS_32834e]'")
def disable_resources(resources, dialect=None, cib_file=None, timeout=COMMAND_TIMEOUT):
    """``pcs resource disable ID…`` (in ``cib_file`` when given)."""
    _run(resource_disable_command(resources, dialect, cib_file), timeout=timeout)
    return {"disabled": pcs_dialects.resource_ids(resources)}


@_cli_example("salt mds1 pacemaker.relocate show")
def relocate(action="run", resources=(), timeout=600, dialect=None):
    """``pcs resource relocate show|dry-run|run`` (rebalance onto preferred nodes)."""
    res = _run(relocate_command(action, resources, dialect), timeout=timeout)
    return {"action": action, "stdout": res["stdout"]}


@_cli_example("salt mds1 pacemaker.push_cib /root/restore.xml diff_against=/root/live.xml")
def push_cib(path, diff_against=None, dialect=None, timeout=COMMAND_TIMEOUT):
    """Push a CIB file: its configuration section, or only its difference to ``diff_against``."""
    argv = cib_push_command(path, diff_against, dialect)
    res = _run(argv, secret=cib.file_holds_secret(path), timeout=timeout)
    return {"pushed": path, "diff_against": diff_against, "stdout": res["stdout"]}


@_cli_example("salt mds1 pacemaker.diff_cib /root/live.xml /root/restore.xml")
def diff_cib(original, new, output=None, timeout=COMMAND_TIMEOUT):
    """
    The ``crm_diff`` patch (XML text) from ``original`` to ``new``, secrets masked; ""
    when they match. With ``output`` the real patch (for ``patch_cib``) is also written
    there, atomically, mode 0600.
    """
    argv = crm_diff_command(original, new)
    res = _run(argv, ok_codes=(0, 1), secret=True, timeout=timeout)
    patch = res["stdout"] if res["retcode"] == 1 else ""
    if output:
        fileio.atomic_write(output, patch.encode("utf-8"), mode=0o600)
    return cib.masked_xml(patch, " ".join(argv))


@_cli_example("salt mds1 pacemaker.patch_cib /root/restore.patch")
def patch_cib(patch, cib_file=None, timeout=COMMAND_TIMEOUT):
    """
    Apply a ``crm_diff`` patch file to the live CIB (``cibadmin --patch``), or to
    ``cib_file``; one CIB transaction either way.
    """
    secret = cib.file_holds_secret(patch)
    _run(cib_patch_command(patch), env=_cib_env(cib_file), secret=secret, timeout=timeout)
    return {"patched": patch, "cib_file": cib_file}


@_cli_example("salt mds1 pacemaker.save_cib /root/live-cib.xml")
def save_cib(output, cib_file=None, timeout=COMMAND_TIMEOUT):
    """
    Write the current CIB (``cibadmin --query``: the live one, or ``cib_file``'s) to
    ``output``, atomically, mode 0600 (it holds the fencing passwords).
    """
    _, text = _query(cib_file, timeout=timeout)
    fileio.atomic_write(output, text.encode("utf-8"), mode=0o600)
    return {"output": output}
