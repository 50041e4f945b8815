"""
Commands for a server in its old life (EL6: Pacemaker 1.1, corosync 1.4, SysV init), and
the readings of what they print.

A node still on EL6 runs no modern Salt and none of this extension; the master builds
these argv lists and sends them with core functions (``cmd.run_all``). Only Pacemaker's
own low-level CLI is used (``crm_attribute``, ``crm_resource``, ``crm_mon``, ``cibadmin``),
whose options are the same on Pacemaker 1.1 and 2.x, plus ``service``/``chkconfig``,
``pidof`` and ``/proc/mounts``: never pcs, which EL6's IML servers may not have in the
version the runbook's commands assume.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

from . import iml_store

# Stop order: Pacemaker first (it stops the resources), then its messaging layer.
CLUSTER_SERVICES = ("pacemaker", "corosync")
# Daemons whose presence means the old cluster still runs on the node.
CLUSTER_DAEMONS = ("pacemakerd", "corosync")
SERVICE_ACTIONS = ("start", "stop", "status")
TARGET_ROLES = ("Started", "Stopped")


def crm_mon_argv():
    """One XML snapshot of the cluster: ``<crm_mon>`` on 1.1, the same legacy format on 2.x.
    Not for the orchestration: its XML carries the node attributes, the fence passwords
    among them (``cib_root_argv``, the ``--scope`` queries and ``node_flag_argv`` read the
    same health without them)."""
    return ["crm_mon", "--one-shot", "--as-xml"]


# The CIB sections the orchestration reads from an old cluster. Never `nodes`: IML keeps
# the fence agents' passwords in node attributes there, and whatever a node prints to
# cmd.run_all lands in the master's job cache.
QUERIED_SCOPES = ("resources", "constraints", "status")


def cib_query_argv(scope=None):
    """``cibadmin --query`` of the whole CIB, or of one section (``--scope``)."""
    if scope is None:
        return ["cibadmin", "--query"]
    if scope not in QUERIED_SCOPES:
        raise SaltInvocationError(f"CIB scope {scope!r}: use one of {', '.join(QUERIED_SCOPES)}")
    return ["cibadmin", "--query", "--scope", scope]


def cib_root_argv():
    """The CIB's root element alone: have-quorum, dc-uuid, epochs."""
    return ["cibadmin", "--query", "--no-children"]


def crm_config_argv():
    return ["cibadmin", "--query", "--scope", "crm_config"]


def node_flag_argv(node, name):
    """One node attribute that is never a secret (standby, maintenance), ``off`` if unset."""
    _name(node, "node")
    if name not in ("standby", "maintenance"):
        raise SaltInvocationError(f"node attribute {name!r}: only standby and maintenance")
    return [
        "crm_attribute", "--type", "nodes", "--node", node, "--name", name,
        "--query", "--default", "off", "--quiet",
    ]  # fmt: skip


def assemble_cib(sections):
    """One ``<cib>`` document from the ``--scope`` queries ``{scope: xml}``, for the CIB
    model (``cib.parse_cib``), without the sections that were not read."""
    parts = {scope: (sections.get(scope) or "").strip() for scope in QUERIED_SCOPES}
    for scope, text in parts.items():
        if text.startswith("<?xml"):
            parts[scope] = text.split("?>", 1)[1].strip()
    return (
        "<cib><configuration>"
        + parts["resources"]
        + parts["constraints"]
        + "</configuration>"
        + parts["status"]
        + "</cib>"
    )


def standby_argv(node, standby=True):
    """Put ``node`` in (or take it out of) standby, permanently, as ``pcs cluster standby``."""
    _name(node, "node")
    value = "on" if standby else "off"
    return [
        "crm_attribute",
        "--type",
        "nodes",
        "--node",
        node,
        "--name",
        "standby",
        "--update",
        value,
    ]


def target_role_argv(resource, role):
    """Set a resource's ``target-role`` meta attribute: ``Stopped`` stops it everywhere."""
    _name(resource, "resource")
    if role not in TARGET_ROLES:
        raise SaltInvocationError(f"target-role {role!r}: use one of {', '.join(TARGET_ROLES)}")
    return [
        "crm_resource",
        "--resource",
        resource,
        "--meta",
        "--set-parameter",
        "target-role",
        "--parameter-value",
        role,
    ]


def service_argv(service, action):
    _name(service, "service")
    if action not in SERVICE_ACTIONS:
        raise SaltInvocationError(
            f"service action {action!r}: use one of {', '.join(SERVICE_ACTIONS)}"
        )
    return ["service", service, action]


def chkconfig_argv(service, enabled):
    _name(service, "service")
    return ["chkconfig", service, "on" if enabled else "off"]


def stop_cluster_argvs():
    """Stop the old cluster on one node: ``service pacemaker stop``, then corosync."""
    return [service_argv(name, "stop") for name in CLUSTER_SERVICES]


def disable_autostart_argvs():
    """Keep the old cluster from starting at boot (the runbook's ``pcs cluster disable``)."""
    return [chkconfig_argv(name, False) for name in CLUSTER_SERVICES]


def daemons_argv():
    """``pidof`` of the cluster daemons: exit 1 and no output when none runs."""
    return ["pidof", *CLUSTER_DAEMONS]


def mounts_argv():
    return ["cat", "/proc/mounts"]


def target_store_argv(path=iml_store.TARGETS_DIR):
    """Every file of IML's target store, each line prefixed with its path (``grep -H``)."""
    return ["find", path, "-maxdepth", "1", "-type", "f", "-exec", "grep", "-H", "", "{}", "+"]


def running_daemons(pidof_result):
    """Whether the cluster daemons run, from ``pidof``'s exit code and output.

    ``pidof_result`` is ``cmd.run_all``'s return. Exit 1 with no output: none runs; exit 0:
    some do; anything else is not an answer (the command is missing, the node is gone).
    """
    code = pidof_result.get("retcode")
    out = (pidof_result.get("stdout") or "").split()
    if code == 1 and not out:
        return []
    if code == 0 and out:
        return out
    raise CommandExecutionError(
        f"`{' '.join(daemons_argv())}` gave exit {code}: {pidof_result.get('stderr', '').strip()}"
    )


def _unescape(field):
    # /proc/mounts escapes space, tab, newline and backslash as octal.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def parse_proc_mounts(text):
    """``/proc/mounts`` as ``[{"device", "mountpoint", "fstype"}]``, in mount order."""
    mounts = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) < 3:
            raise CommandExecutionError(f"/proc/mounts line {lineno} is not a mount: {line!r}")
        device, mountpoint, fstype = (_unescape(f) for f in fields[:3])
        mounts.append({"device": device, "mountpoint": mountpoint, "fstype": fstype})
    return mounts


def parse_target_store_listing(text, source="target store"):
    """The output of ``target_store_argv`` as ``{uuid: target record}`` (``iml_store``'s)."""
    contents = {}
    for line in text.splitlines():
        path, sep, content = line.partition(":")
        if not sep:
            raise CommandExecutionError(f"{source}: unexpected line {line!r}")
        contents.setdefault(path, []).append(content)
    targets, problems = {}, []
    for path, lines in sorted(contents.items()):
        uuid = path.rstrip("/").rsplit("/", 1)[-1]
        target, found = iml_store.parse_target("\n".join(lines), f"{source} {path}")
        problems += found
        if target is not None:
            targets[uuid] = target
    if problems:
        raise CommandExecutionError(
            "; ".join(problems) + ": repair or restore the file (IML writes it; see "
            "/var/lib/chroma/targets on the peer) before the upgrade continues"
        )
    return targets


def served_mountpoints(mounts, mountpoints):
    """The target mount points (from the target store) that ``mounts`` shows mounted."""
    wanted = {m.rstrip("/") or "/" for m in mountpoints}
    return sorted({m["mountpoint"] for m in mounts if m["mountpoint"] in wanted})


def _name(value, what):
    if not isinstance(value, str) or not value.strip() or value.startswith("-"):
        raise SaltInvocationError(f"{what} {value!r} is not a name")
