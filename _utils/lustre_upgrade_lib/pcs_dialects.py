"""
pcs command lines, per pcs dialect, as argv lists (DESIGN.md "pcs dialects").

Dialects: ``"0.9"`` (EL7), ``"0.10"`` (pcs 0.10 and 0.11), ``"0.12"``. Each is one small
class below; a builder never branches on the version itself. Every builder takes the
dialect explicitly (``dialect=``: a dialect name or a pcs version such as ``0.11.5``):
nothing here runs ``pcs --version``, so the master can plan for any node. The Pacemaker
low-level commands (``crm_diff``, ``cibadmin``) are the same everywhere.

Bad arguments raise SaltInvocationError; an input the dialect cannot express (a knet
corosync.conf for pcs 0.9) raises CommandExecutionError.
"""

import re

from salt.exceptions import CommandExecutionError, SaltInvocationError

from . import cib, cli_args, corosync_conf, fileio

DIALECTS = ("0.9", "0.10", "0.12")
DEFAULT_CLUSTER_NAME = "lustre-ha-cluster"
# Where the hacluster password is (pillar.example: GPG-encrypted, given only to the nodes).
HACLUSTER_PILLAR = "lustre_upgrade:secrets:hacluster_password"
# The units `pcs cluster enable` enables at boot (and `systemctl is-enabled` reads).
CLUSTER_UNITS = ("corosync", "pacemaker")
# Runbook "Configure the High Availability Framework": totem.
TOKEN_MS = 17000
FAIL_RECV_CONST = 10
CLUSTER_ACTIONS = ("start", "stop", "enable", "disable")
RELOCATE_ACTIONS = ("show", "dry-run", "run", "clear")


def _kv(values):
    items = values.items() if isinstance(values, dict) else values
    return [f"{name}={value}" for name, value in items]


def _flags(start, enable):
    return (["--start"] if start else []) + (["--enable"] if enable else [])


class Pcs09:
    """pcs 0.9 (EL7: Pacemaker 1.1, corosync 2)."""

    name = "0.9"
    crm_mon_xml = ("crm_mon", "--one-shot", "--inactive", "--as-xml")
    # What confirms a pcs of this dialect beyond its version (``confirms``).
    probe = ("pcs", "property", "--help")
    probe_ok_codes = (0, 1)
    unconfirmed = "does not offer `property set --node`; it is not a pcs 0.9 this module knows"

    def confirms(self, stdout, stderr):
        return "--node" in stdout + stderr

    def auth(self, nodes, user):
        return ["pcs", "cluster", "auth", *nodes, "-u", user]

    def standby(self, node, undo=False):
        return ["pcs", "cluster", "unstandby" if undo else "standby", *([node] if node else [])]

    def node_attribute(self, node, attrs):
        return ["pcs", "property", "set", "--node", node, *_kv(attrs)]

    def node_add(self, node, addrs, start, enable):
        # pcs 0.9 takes the rings of a udp cluster from its interface settings.
        return ["pcs", "cluster", "node", "add", node, *_flags(start, enable)]

    def resource_defaults(self, values):
        return ["pcs", "resource", "defaults", *_kv(values)]

    def resource_config(self):
        return ["pcs", "resource", "show", "--full"]

    def constraint_config(self):
        return ["pcs", "constraint", "show", "--full"]

    def property_config(self):
        return ["pcs", "property", "show"]

    def setup(self, name, conf, nodes, token, fail_recv_const):
        interfaces = conf["interfaces"]
        argv = ["pcs", "cluster", "setup", "--name", name]
        if interfaces:
            argv += list(nodes)
            argv += ["--transport", "udp", "--rrpmode", "passive"]
            for iface in interfaces:
                ring = iface["ringnumber"]
                if iface["bindnetaddr"]:
                    argv += [f"--addr{ring}", iface["bindnetaddr"]]
                if iface["mcastaddr"]:
                    argv += [f"--mcast{ring}", iface["mcastaddr"]]
                if iface["mcastport"] is not None:
                    argv += [f"--mcastport{ring}", str(iface["mcastport"])]
        else:
            # udpu: the node name is ring 0, a second ring address follows a comma.
            for node, addrs in nodes.items():
                argv.append(",".join([node, *addrs[1:]]))
            argv += ["--transport", "udpu"]
            if any(len(addrs) > 1 for addrs in nodes.values()):
                argv += ["--rrpmode", "passive"]
        argv += ["--token", str(token), "--fail_recv_const", str(fail_recv_const)]
        return argv


class Pcs010(Pcs09):
    """pcs 0.10 and 0.11 (Pacemaker 2, corosync 3 with knet)."""

    name = "0.10"
    crm_mon_xml = ("crm_mon", "--one-shot", "--inactive", "--output-as=xml")
    probe = ("pcs", "--version", "--full")
    probe_ok_codes = (0,)
    unconfirmed = "does not list the node.attributes capability; it is not a pcs this module knows"

    def confirms(self, stdout, stderr):
        return "node.attributes" in stdout.split()

    def auth(self, nodes, user):
        return ["pcs", "host", "auth", *nodes, "-u", user]

    def standby(self, node, undo=False):
        return ["pcs", "node", "unstandby" if undo else "standby", *([node] if node else [])]

    def node_attribute(self, node, attrs):
        return ["pcs", "node", "attribute", node, *_kv(attrs)]

    def node_add(self, node, addrs, start, enable):
        addr_args = [f"addr={a}" for a in addrs]
        return ["pcs", "cluster", "node", "add", node, *addr_args, *_flags(start, enable)]

    def resource_config(self):
        return ["pcs", "resource", "config"]

    def constraint_config(self):
        return ["pcs", "constraint", "config", "--full"]

    def property_config(self):
        return ["pcs", "property", "config"]

    def setup(self, name, conf, nodes, token, fail_recv_const):
        argv = ["pcs", "cluster", "setup", name]
        for node, addrs in nodes.items():
            argv += [node, *[f"addr={a}" for a in addrs]]
        argv += ["transport", "knet"]
        if corosync_conf.link_count(conf) > 1:
            argv.append("link_mode=passive")
        for iface in conf["interfaces"]:
            if iface["mcastport"] is not None:
                argv += [
                    "link",
                    f"linknumber={iface['ringnumber']}",
                    f"mcastport={iface['mcastport']}",
                ]
        argv += ["totem", f"token={token}", f"fail_recv_const={fail_recv_const}"]
        return argv


class Pcs012(Pcs010):
    """pcs 0.12: deprecated forms of 0.10/0.11 removed."""

    name = "0.12"

    def resource_defaults(self, values):
        return ["pcs", "resource", "defaults", "update", *_kv(values)]


DIALECT_CLASSES = {cls.name: cls for cls in (Pcs09, Pcs010, Pcs012)}


def dialect_of_version(version):
    """The dialect ("0.9", "0.10", "0.12") of a pcs version string such as ``0.11.5``."""
    text = str(version).strip().splitlines()[0].strip() if str(version).strip() else ""
    parts = text.split(".")
    try:
        major, minor = int(parts[0]), int(re.match(r"\d+", parts[1]).group())
    except (IndexError, ValueError, AttributeError):
        raise SaltInvocationError(
            f"pcs version {text!r} is not a version number; pcs 0.9 to 0.12 are supported"
        ) from None
    if (major, minor) == (0, 9):
        return "0.9"
    if (major, minor) in ((0, 10), (0, 11)):
        return "0.10"
    if (major, minor) == (0, 12):
        return "0.12"
    raise SaltInvocationError(
        f"pcs {text} is not a supported version (0.9, 0.10, 0.11, 0.12); its command "
        "syntax is unknown. Install a supported pcs or plan with dialect='0.12'"
    )


def syntax(dialect):
    """The dialect object of a dialect name or a pcs version."""
    name = str(dialect)
    if name not in DIALECT_CLASSES:
        name = dialect_of_version(name)
    return DIALECT_CLASSES[name]()


# --------------------------------------------------------------------------- builders


def with_file(argv, cib_file):
    """Insert ``-f FILE`` (work on a CIB file instead of the live CIB) after ``pcs``."""
    if cib_file and argv and argv[0] == "pcs":
        return ["pcs", "-f", cib_file, *argv[1:]]
    return argv


def resource_ids(resources):
    """The resource ids of an argument; SaltInvocationError when there is none."""
    names = cli_args.as_list(resources)
    if not names:
        raise SaltInvocationError("no resource id given")
    return names


def auth_password(password, source):
    """
    The hacluster password as ``source`` (a pillar key) gave it, checked usable for
    ``pcs auth``: a non-empty string, not a GPG message the master failed to decrypt.
    """
    if not isinstance(password, str) or not password:
        raise CommandExecutionError(
            f"{source} is missing or empty: set the hacluster password there "
            "(GPG-encrypted, see pillar.example)"
        )
    if password.lstrip().startswith("-----BEGIN PGP MESSAGE-----"):
        raise CommandExecutionError(
            f"{source} is still GPG-encrypted: the master could not decrypt it; check its "
            "gpg_keydir"
        )
    return password


def hacluster_password(password=None, password_file=None, pillar=None, key=HACLUSTER_PILLAR):
    """
    The hacluster password: ``password`` when given, else the first line of
    ``password_file``, else the pillar ``key`` of ``pillar`` (the loaded pillar: Salt
    3008's ``pillar.get`` masks secrets), checked by ``auth_password``.
    """
    if password is not None:
        return auth_password(password, "the password argument")
    if password_file:
        try:
            data = fileio.read_bytes(password_file)
        except OSError as exc:
            raise CommandExecutionError(
                f"cannot read password_file {password_file}: {exc.strerror}"
            ) from None
        if data is None:
            raise CommandExecutionError(
                f"password_file {password_file} does not exist: write the hacluster password "
                "there (mode 0600), or leave it out to read the pillar "
                f"{key}"
            )
        text = data.decode("utf-8").splitlines()
        return auth_password(text[0] if text else "", f"password_file {password_file}")
    return auth_password(cli_args.nested_value(pillar, key), f"pillar {key}")


def auth_command(nodes, user="hacluster", *, dialect):
    """argv that authenticates pcs against ``nodes``; pcs reads the password on stdin."""
    return syntax(dialect).auth(cli_args.as_list(nodes), user)


def standby_command(node=None, cib_file=None, *, dialect):
    """argv that puts ``node`` (the local node when None) in standby."""
    return with_file(syntax(dialect).standby(node), cib_file)


def unstandby_command(node=None, cib_file=None, *, dialect):
    """argv that takes ``node`` (the local node when None) out of standby."""
    return with_file(syntax(dialect).standby(node, undo=True), cib_file)


def cluster_command(action, node=None, all_nodes=False, *, dialect):
    """argv of ``pcs cluster start|stop|enable|disable`` (local node, ``node`` or all)."""
    syntax(dialect)
    if action not in CLUSTER_ACTIONS:
        raise SaltInvocationError(
            f"cluster action {action!r} is not one of {', '.join(CLUSTER_ACTIONS)}"
        )
    if node and all_nodes:
        raise SaltInvocationError("give a node or all_nodes=True, not both")
    return ["pcs", "cluster", action, *(["--all"] if all_nodes else [node] if node else [])]


def property_set_command(properties, cib_file=None, *, dialect):
    """argv of ``pcs property set name=value…`` (``properties``: a dict)."""
    syntax(dialect)
    if not properties:
        raise SaltInvocationError("no property to set")
    return with_file(["pcs", "property", "set", *_kv(properties)], cib_file)


def maintenance_mode_command(enabled, cib_file=None, *, dialect):
    """argv that sets the ``maintenance-mode`` property."""
    value = cli_args.cib_value(cli_args.is_true(enabled))
    return property_set_command({"maintenance-mode": value}, cib_file, dialect=dialect)


def resource_enable_command(resources, cib_file=None, *, dialect):
    """argv of ``pcs resource enable ID…``."""
    syntax(dialect)
    return with_file(["pcs", "resource", "enable", *resource_ids(resources)], cib_file)


def resource_disable_command(resources, cib_file=None, *, dialect):
    """argv of ``pcs resource disable ID…``."""
    syntax(dialect)
    return with_file(["pcs", "resource", "disable", *resource_ids(resources)], cib_file)


def node_attribute_command(node, attributes, cib_file=None, *, dialect):
    """argv that sets node attributes (a dict or ``[name, value]`` pairs, order kept)."""
    if not attributes:
        raise SaltInvocationError(f"no attribute to set on {node}")
    return with_file(syntax(dialect).node_attribute(node, attributes), cib_file)


def node_add_command(node, addrs=(), start=False, enable=False, *, dialect):
    """argv of ``pcs cluster node add``: with ``addr=`` per ring for pcs ≥0.10."""
    start, enable = cli_args.is_true(start), cli_args.is_true(enable)
    return syntax(dialect).node_add(node, cli_args.as_list(addrs), start, enable)


def relocate_command(action="run", resources=(), cib_file=None, *, dialect):
    """argv of ``pcs resource relocate show|dry-run|run|clear [ID…]``."""
    syntax(dialect)
    if action not in RELOCATE_ACTIONS:
        raise SaltInvocationError(
            f"relocate action {action!r} is not one of {', '.join(RELOCATE_ACTIONS)}"
        )
    names = cli_args.as_list(resources)
    return with_file(["pcs", "resource", "relocate", action, *names], cib_file)


def cib_push_command(path, diff_against=None, *, dialect):
    """argv of ``pcs cluster cib-push FILE`` (``--config``, or ``diff-against=``)."""
    syntax(dialect)
    if diff_against:
        return ["pcs", "cluster", "cib-push", path, f"diff-against={diff_against}"]
    return ["pcs", "cluster", "cib-push", path, "--config"]


def crm_diff_command(original, new):
    """argv of ``crm_diff`` producing the patch from ``original`` to ``new``."""
    return ["crm_diff", "--original", original, "--new", new, "--no-version"]


def cib_patch_command(patch):
    """argv of ``cibadmin --patch`` applying a ``crm_diff`` patch file."""
    return ["cibadmin", "--patch", "--xml-file", patch]


def crm_mon_command(*, dialect):
    """argv of crm_mon's XML status (``--as-xml`` with pcs 0.9, else ``--output-as=xml``)."""
    return list(syntax(dialect).crm_mon_xml)


def resource_defaults_command(defaults=None, cib_file=None, *, dialect):
    """argv that sets resource defaults (default: the runbook's three)."""
    values = dict(defaults) if defaults else dict(cib.RUNBOOK_RSC_DEFAULTS)
    return with_file(syntax(dialect).resource_defaults(values), cib_file)


def stonith_create_command(cib_file=None, *, dialect):
    """argv that creates IML's ``st-fencing`` (``stonith:fence_chroma``)."""
    syntax(dialect)
    argv = ["pcs", "stonith", "create", cib.STONITH_ID, cib.STONITH_AGENT]
    return with_file(argv, cib_file)


def resource_config_command(cib_file=None, *, dialect):
    """argv that shows the resources' configuration."""
    return with_file(syntax(dialect).resource_config(), cib_file)


def constraint_config_command(cib_file=None, *, dialect):
    """argv that shows constraints with their ids."""
    return with_file(syntax(dialect).constraint_config(), cib_file)


def property_config_command(cib_file=None, *, dialect):
    """argv that shows cluster properties."""
    return with_file(syntax(dialect).property_config(), cib_file)


# --------------------------------------------------------------------------- setup


def _setup_nodes(nodes, links, needs_addrs):
    """``{node: [addr per ring]}`` of the ``nodes`` argument, checked against the rings."""
    if isinstance(nodes, dict):
        node_addrs = {name: cli_args.as_list(addrs) for name, addrs in nodes.items()}
    else:
        node_addrs = {name: [] for name in cli_args.as_list(nodes)}
    if not node_addrs:
        raise SaltInvocationError("no node given for the new cluster")
    for name, addrs in node_addrs.items():
        if not name:
            raise SaltInvocationError("a node of the new cluster has no name")
        if addrs and len(addrs) != links:
            raise SaltInvocationError(
                f"node {name} has {len(addrs)} address(es) but the old corosync.conf has "
                f"{links} ring(s): give one address per ring, in ring order"
            )
        if not addrs and needs_addrs and links > 1:
            raise SaltInvocationError(
                f"node {name} needs one address per ring ({links}) for this setup: give "
                "nodes as {name: [ring0_addr, ring1_addr]}"
            )
    return node_addrs


def setup_command(
    conf,
    nodes,
    cluster_name=DEFAULT_CLUSTER_NAME,
    *,
    dialect,
    token=TOKEN_MS,
    fail_recv_const=FAIL_RECV_CONST,
    corosync_conf_out=None,
):
    """
    argv of ``pcs cluster setup`` for the new cluster from the old cluster's corosync.conf.

    ``conf``: ``corosync_conf.parse_conf`` data of the old config (any generation);
    ``nodes``: the new cluster's nodes, ``{name: [ring0_addr, ring1_addr…]}`` (one address
    per ring of the old config) or a list of names. See ``pacemaker.setup_command`` for
    the argv of each dialect.
    """
    pcs = syntax(dialect)
    if not isinstance(conf, dict) or any(
        key not in conf for key in ("interfaces", "nodes", "generation")
    ):
        raise SaltInvocationError(
            "corosync_conf must be a path or what corosync.read_conf returns "
            "(with interfaces, nodes and generation)"
        )
    if pcs.name == "0.9" and corosync_conf_out:
        raise SaltInvocationError("pcs 0.9 cannot write a corosync.conf to a file")
    links = corosync_conf.link_count(conf)
    needs_addrs = pcs.name != "0.9" or not conf["interfaces"]
    node_addrs = _setup_nodes(nodes, links, needs_addrs)
    if pcs.name == "0.9" and conf["generation"] == "3.x":
        raise CommandExecutionError(
            "the old corosync.conf is corosync 3 (knet); pcs 0.9 cannot set up knet"
        )
    if pcs.name == "0.9" and not conf["interfaces"]:
        node_addrs = {name: addrs or [name] for name, addrs in node_addrs.items()}
    argv = pcs.setup(cluster_name, conf, node_addrs, int(token), int(fail_recv_const))
    if corosync_conf_out:
        argv += ["--corosync_conf", corosync_conf_out]
    return argv
