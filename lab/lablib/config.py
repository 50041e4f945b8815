"""Lab settings (lab/lab.toml) and the lab pillar, checked into one typed LabSpec.

Every check runs before the lab creates anything; all findings are reported at once, each
naming the file and key to fix.
"""

import dataclasses
import hashlib
import ipaddress
import os
import re
import uuid
from pathlib import Path

import tomllib

LAB_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = LAB_DIR.parent
DEFAULT_SETTINGS = LAB_DIR / "lab.toml"

# Pacemaker/corosync node names and minion ids of the lab: lowercase RFC 1123 labels.
# Pacemaker warns on capitals and IML matches names case-sensitively.
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_TARGET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_TARGET_UUID_NS = uuid.UUID("5d0c3c53-8c1f-4b6e-9a55-3d1b2f3f7a10")


class ConfigError(Exception):
    """Bad lab input. `findings` holds one message per problem."""

    def __init__(self, findings):
        self.findings = list(findings)
        super().__init__("\n".join(f"  - {f}" for f in self.findings))


@dataclasses.dataclass(frozen=True)
class NodeSpec:
    index: int  # 1 = node 1 of the pair (upgraded first)
    minion: str
    old_name: str
    fqdn: str
    rings: tuple

    @property
    def short(self):
        return self.fqdn.split(".", 1)[0]


@dataclasses.dataclass(frozen=True)
class TargetSpec:
    name: str
    uuid: str
    resource: str  # IML's resource id: <name>_<6 hex>
    disk: str  # directory name on the shared storage (the "block device")
    mntpt: str
    primary: int  # node index
    secondary: int


@dataclasses.dataclass(frozen=True)
class LabSpec:
    settings_file: str
    pillar_dir: str
    venv: str
    run_base: str
    cache_dir: str
    pcsd: bool
    up_timeout: float
    cluster_name: str
    pair: str
    osd: str
    manager_fqdn: str
    domain: str
    nodes: tuple
    targets: tuple
    hub: str
    ring_networks: tuple
    repo_port: int
    pdu_port: int
    repos: dict
    hacluster_password: str
    token: int
    dc_deadtime: str
    start_delay: float
    stop_delay: float
    extra_packages: tuple = ()
    life: str = "el6"
    mmp_delay: float = 10.0
    fence_power_on_delay: float = 20.0
    # The IML manager node (not a node of the pair): minion id, address on the hub's
    # bridge, the life it starts in (lab.toml [manager]).
    manager_minion: str = "mgr"
    manager_address: str = "10.213.0.10"
    manager_life: str = "el6"

    @property
    def manager(self):
        """The manager node as a NodeSpec (index 0: not a node of the pair)."""
        return NodeSpec(
            index=0,
            minion=self.manager_minion,
            old_name=self.manager_fqdn.split(".", 1)[0],
            fqdn=self.manager_fqdn,
            rings=(self.manager_address,),
        )

    @property
    def machines(self):
        """Every node of the lab: the pair's, then the manager."""
        return (*self.nodes, self.manager)

    def machine(self, name):
        """A node of the pair (see node()) or the manager node (minion id or FQDN)."""
        if name in (self.manager_minion, self.manager_fqdn):
            return self.manager
        return self.node(name)

    def node(self, name):
        """A node by minion id, old name, FQDN or index."""
        for node in self.nodes:
            if name in (node.minion, node.old_name, node.fqdn, str(node.index)):
                return node
        raise KeyError(name)

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data):
        data = dict(data)
        data["nodes"] = tuple(NodeSpec(**{**n, "rings": tuple(n["rings"])}) for n in data["nodes"])
        data["targets"] = tuple(TargetSpec(**t) for t in data["targets"])
        data["ring_networks"] = tuple(data["ring_networks"])
        data["extra_packages"] = tuple(data.get("extra_packages", ()))
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def load_settings(path=None):
    path = Path(path or DEFAULT_SETTINGS)
    try:
        with open(path, "rb") as handle:
            return path, tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError([f"{path}: settings file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None


def resolve_venv(configured):
    if os.environ.get("LUSTRE_UPGRADE_VENV"):
        return os.environ["LUSTRE_UPGRADE_VENV"]
    if configured:
        return str((REPO_ROOT / configured).resolve())
    return str(REPO_ROOT / ".venv")


def _read_yaml(path, findings):
    import yaml  # the venv's PyYAML: labctl re-executes itself there when needed

    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle) or {}
    except FileNotFoundError:
        findings.append(f"{path}: missing (the lab pillar must have it)")
    except yaml.YAMLError as exc:
        findings.append(f"{path}: not valid YAML: {exc}")
    return {}


def _merge(a, b):
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_pillar(pillar_dir, findings):
    """The lab pillar's lustre_upgrade tree (init.sls merged with secrets.sls)."""
    base = Path(pillar_dir) / "lustre_upgrade"
    tree = {}
    for name in ("init.sls", "secrets.sls"):
        data = _read_yaml(base / name, findings)
        if data and not isinstance(data, dict):
            findings.append(f"{base / name}: top level must be a mapping")
            continue
        tree = _merge(tree, data or {})
    top = tree.get("lustre_upgrade")
    if not isinstance(top, dict):
        if tree:
            findings.append(f"{base}/init.sls: no `lustre_upgrade:` mapping")
        return {}
    return top


def check_name(value, key, what, findings):
    """One finding per way `value` is not a name Pacemaker and corosync take as given."""
    if not isinstance(value, str) or not value:
        findings.append(f"{key}: {what} is missing or not a string")
        return
    labels = value.split(".")
    if value != value.lower():
        findings.append(
            f"{key}: {what} {value!r} has uppercase letters; Pacemaker node names and minion "
            f"ids of the lab must be lowercase (use {value.lower()!r})"
        )
    bad = [label for label in labels if not _LABEL.match(label.lower())]
    if bad:
        findings.append(
            f"{key}: {what} {value!r} is not a valid host name (letters, digits and '-' "
            "only, not starting or ending with '-', at most 63 per label)"
        )


def target_identity(pair, name):
    """Stable UUID and IML-style resource id (<name>_<6 hex>) of a lab target."""
    target_uuid = str(uuid.uuid5(_TARGET_UUID_NS, f"{pair}/{name}"))
    suffix = hashlib.sha1(target_uuid.encode()).hexdigest()[:6]
    return target_uuid, f"{name}_{suffix}"


LIVES = ("el6", "el7")


def build_spec(settings_path=None, pillar_dir=None, venv=None, overrides=None):
    """Read lab.toml and the lab pillar; a LabSpec, or ConfigError listing every problem.
    overrides: {section: {key: value}} taken over lab.toml's (tests)."""
    findings = []
    settings_file, settings = load_settings(settings_path)
    settings = _merge(settings, overrides or {})
    lab = settings.get("lab", {})
    net = settings.get("network", {})
    old = settings.get("old_cluster", {})
    agent = settings.get("agent", {})
    power = settings.get("power", {})
    life = str(lab.get("life", "el6"))
    if life not in LIVES:
        findings.append(
            f"{settings_file}: [lab] life = {life!r}: give one of {', '.join(LIVES)} (the life "
            "the pair's nodes start in)"
        )
    delays = {}
    for section, key, default in (
        (agent, "start_delay", 1.0),
        (agent, "stop_delay", 1.0),
        (agent, "mmp_delay", 10.0),
        (power, "fence_power_on_delay", 20.0),
    ):
        try:
            delays[key] = float(section.get(key, default))
            if delays[key] < 0:
                raise ValueError
        except (TypeError, ValueError):
            findings.append(f"{settings_file}: {key} = {section.get(key)!r}: give seconds (>= 0)")
    pillar_dir = Path(pillar_dir or (LAB_DIR / lab.get("pillar", "pillar"))).resolve()
    tree = load_pillar(pillar_dir, findings)
    pkey = f"{pillar_dir}/lustre_upgrade:"
    pair_name = lab.get("pair", "oss1")
    pairs = tree.get("pairs") or {}
    pair = pairs.get(pair_name) if isinstance(pairs, dict) else None
    nodes = []
    if tree and not isinstance(pair, dict):
        findings.append(
            f"{pkey}pairs:{pair_name}: missing (lab.toml [lab] pair = {pair_name!r} names it)"
        )
    raw_nodes = (pair or {}).get("nodes") or []
    if pair is not None and len(raw_nodes) != 2:
        findings.append(
            f"{pkey}pairs:{pair_name}:nodes: the lab builds an HA pair: exactly 2 nodes, "
            f"found {len(raw_nodes)}"
        )
    for index, raw in enumerate(raw_nodes[:2], start=1):
        key = f"{pkey}pairs:{pair_name}:nodes:{index - 1}"
        if not isinstance(raw, dict):
            findings.append(f"{key}: must be a mapping with minion, old_name, fqdn, rings")
            continue
        for field, what in (("minion", "minion id"), ("old_name", "old (EL6) node name")):
            check_name(raw.get(field), f"{key}:{field}", what, findings)
        check_name(raw.get("fqdn"), f"{key}:fqdn", "FQDN", findings)
        if isinstance(raw.get("fqdn"), str) and "." not in raw["fqdn"]:
            findings.append(f"{key}:fqdn: {raw['fqdn']!r} is not fully qualified")
        if isinstance(raw.get("old_name"), str) and "." in raw["old_name"]:
            findings.append(
                f"{key}:old_name: {raw['old_name']!r}: EL6 node names are short (`uname -n`)"
            )
        rings = raw.get("rings") or []
        if not isinstance(rings, list) or not rings:
            findings.append(f"{key}:rings: give ring addresses, ring0 first")
            rings = []
        for ring_index, address in enumerate(rings):
            try:
                parsed = ipaddress.IPv4Address(str(address))
            except ValueError:
                findings.append(f"{key}:rings:{ring_index}: {address!r} is not an IPv4 address")
                continue
            if not parsed.is_private:
                findings.append(
                    f"{key}:rings:{ring_index}: {address} is not a private address; the lab "
                    "only uses private ranges inside its own namespaces"
                )
        nodes.append(
            NodeSpec(
                index=index,
                minion=str(raw.get("minion")),
                old_name=str(raw.get("old_name")),
                fqdn=str(raw.get("fqdn")),
                rings=tuple(str(r) for r in rings),
            )
        )
    _check_unique(nodes, pkey, pair_name, findings)
    hub = str(net.get("hub", "10.213.0.254"))
    ports = _ports(net, settings_file, findings)
    ring_networks = _check_rings(nodes, hub, settings_file, pkey, pair_name, findings)
    targets = _targets(settings.get("targets") or [], pair_name, settings_file, findings)
    secrets = tree.get("secrets") or {}
    password = secrets.get("hacluster_password") if isinstance(secrets, dict) else None
    if tree and not isinstance(password, str):
        findings.append(f"{pkey}secrets:hacluster_password: missing (lustre_upgrade/secrets.sls)")
    manager = tree.get("manager") or {}
    repos = tree.get("repos") or {}
    if tree and not isinstance(repos, dict):
        findings.append(f"{pkey}repos: must map repository names to URLs")
        repos = {}
    # A repository is its base URL, or a mapping with `baseurl` (and gpgkey/gpgcheck).
    repos = {k: v.get("baseurl") if isinstance(v, dict) else v for k, v in repos.items()}
    for name, url in repos.items():
        if not isinstance(url, str) or not url:
            findings.append(f"{pkey}repos:{name}: give its base URL (or a mapping with baseurl)")
    manager_section = settings.get("manager", {})
    manager_life = str(manager_section.get("life", "el6"))
    if manager_life not in LIVES:
        findings.append(
            f"{settings_file}: [manager] life = {manager_life!r}: give one of "
            f"{', '.join(LIVES)} (the life the manager node starts in)"
        )
    if not isinstance(manager, dict):
        findings.append(f"{pkey}manager: must be a mapping with minion and fqdn")
        manager = {}
    manager_minion = manager.get("minion", "mgr")
    check_name(manager_minion, f"{pkey}manager:minion", "minion id", findings)
    manager_fqdn = manager.get("fqdn")
    if tree and manager_fqdn is not None:
        check_name(manager_fqdn, f"{pkey}manager:fqdn", "FQDN", findings)
        if isinstance(manager_fqdn, str) and "." not in manager_fqdn:
            findings.append(f"{pkey}manager:fqdn: {manager_fqdn!r} is not fully qualified")
    for node in nodes:
        if manager_minion in (node.minion, node.old_name) or manager_fqdn == node.fqdn:
            findings.append(
                f"{pkey}manager: {manager_minion!r}/{manager_fqdn!r} is also a name of pair "
                f"node {node.index - 1}; the manager needs its own minion id and FQDN"
            )
    manager_address = str(manager_section.get("address", "10.213.0.10"))
    _check_manager_address(manager_address, hub, ring_networks, nodes, settings_file, findings)
    if findings:
        raise ConfigError(findings)
    domain = nodes[0].fqdn.split(".", 1)[1]
    return LabSpec(
        settings_file=str(settings_file),
        pillar_dir=str(pillar_dir),
        venv=venv or resolve_venv(lab.get("venv", "")),
        run_base=os.environ.get("LAB_RUN_BASE") or lab.get("run_base", "/tmp/lulab"),
        cache_dir=os.environ.get("LAB_CACHE_DIR")
        or lab.get("cache_dir", "/var/cache/lustre-upgrade-lab"),
        pcsd=bool(lab.get("pcsd", True)),
        up_timeout=float(lab.get("up_timeout", 150)),
        cluster_name=str(tree.get("cluster_name", "lustre-ha-cluster")),
        pair=pair_name,
        osd=str(pair.get("osd") or tree.get("osd") or "ldiskfs"),
        manager_fqdn=str(manager.get("fqdn", f"iml.{domain}")),
        domain=domain,
        nodes=tuple(nodes),
        targets=tuple(targets),
        hub=hub,
        ring_networks=ring_networks,
        repo_port=ports["repo_port"],
        pdu_port=ports["pdu_port"],
        repos={str(k): str(v) for k, v in repos.items()},
        hacluster_password=password,
        token=int(old.get("token", 5000)),
        dc_deadtime=str(old.get("dc_deadtime", "2s")),
        start_delay=delays["start_delay"],
        stop_delay=delays["stop_delay"],
        extra_packages=tuple(str(p) for p in lab.get("extra_packages", [])),
        life=life,
        mmp_delay=delays["mmp_delay"],
        fence_power_on_delay=delays["fence_power_on_delay"],
        manager_minion=str(manager_minion),
        manager_address=manager_address,
        manager_life=manager_life,
    )


def _check_manager_address(address, hub, ring_networks, nodes, settings_file, findings):
    """[manager] address: a host address of ring 0's network (the hub's bridge), not the
    hub's and no pair node's."""
    key = f"{settings_file}: [manager] address = {address!r}"
    try:
        parsed = ipaddress.IPv4Address(address)
    except ValueError:
        findings.append(f"{key}: not an IPv4 address")
        return
    if not ring_networks:
        return
    network = ipaddress.IPv4Network(ring_networks[0])
    if parsed not in network or parsed in (network.network_address, network.broadcast_address):
        findings.append(f"{key}: give a host address of ring 0's network {network} (the hub's)")
    if address == hub or any(address in n.rings for n in nodes):
        findings.append(f"{key}: the hub or a pair node has it")


def _ports(net, settings_file, findings):
    """[network] ports of the hub's servers: TCP ports, each its own."""
    ports = {}
    for key, default in (("repo_port", 8080), ("pdu_port", 7623)):
        value = net.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            findings.append(f"{settings_file}: [network] {key} = {value!r}: give a TCP port")
        elif value in ports.values():
            findings.append(f"{settings_file}: [network] {key} = {value}: another server has it")
        ports[key] = value
    return ports


def _check_unique(nodes, pkey, pair_name, findings):
    reported = set()
    for field in ("minion", "old_name", "fqdn"):
        seen = {}
        for node in nodes:
            value = getattr(node, field)
            if value in seen:
                reported.add(value)
                findings.append(
                    f"{pkey}pairs:{pair_name}:nodes: duplicate {field} {value!r} "
                    f"(nodes {seen[value]} and {node.index - 1}); each node needs its own"
                )
            seen.setdefault(value, node.index - 1)
    if len(nodes) == 2:
        names = [{n.minion, n.old_name, n.fqdn, n.short} for n in nodes]
        for value in sorted((names[0] & names[1]) - reported):
            findings.append(
                f"{pkey}pairs:{pair_name}:nodes: name {value!r} is used by both nodes (as "
                "minion id, old name or FQDN); the nodes must be distinguishable"
            )


def _check_rings(nodes, hub, settings_file, pkey, pair_name, findings):
    networks = []
    if len(nodes) != 2 or any(not n.rings for n in nodes):
        return tuple(networks)
    if len(nodes[0].rings) != len(nodes[1].rings):
        findings.append(f"{pkey}pairs:{pair_name}:nodes: both nodes need the same number of rings")
        return tuple(networks)
    try:
        hub_address = ipaddress.IPv4Address(hub)
    except ValueError:
        findings.append(f"{settings_file}: [network] hub = {hub!r} is not an IPv4 address")
        return tuple(networks)
    seen = set()
    for ring_index in range(len(nodes[0].rings)):
        try:
            pair_addresses = [ipaddress.IPv4Address(n.rings[ring_index]) for n in nodes]
        except ValueError:
            return tuple(networks)
        nets = {ipaddress.IPv4Interface(f"{a}/24").network for a in pair_addresses}
        if len(nets) != 1:
            findings.append(
                f"{pkey}pairs:{pair_name}:nodes:*:rings:{ring_index}: the two nodes' ring "
                f"{ring_index} addresses must share a /24"
            )
            continue
        network = nets.pop()
        if network in seen:
            findings.append(
                f"{pkey}pairs:{pair_name}: rings {ring_index} and an earlier ring share {network}"
            )
        seen.add(network)
        for address in pair_addresses:
            if address in (network.network_address, network.broadcast_address):
                findings.append(f"{pkey}...rings:{ring_index}: {address} is not a host address")
        if len(set(pair_addresses)) != len(pair_addresses):
            findings.append(f"{pkey}...rings:{ring_index}: both nodes have {pair_addresses[0]}")
        if ring_index == 0:
            if hub_address not in network:
                findings.append(
                    f"{settings_file}: [network] hub = {hub} must be on ring 0's network "
                    f"{network} (the nodes reach the master and the repository there)"
                )
            if hub_address in pair_addresses:
                findings.append(f"{settings_file}: [network] hub = {hub} is a node's ring address")
        networks.append(str(network))
    return tuple(networks)


def _targets(raw_targets, pair_name, settings_file, findings):
    targets = []
    names = set()
    if len(raw_targets) < 2:
        findings.append(f"{settings_file}: [[targets]] needs targets on both nodes")
    for position, raw in enumerate(raw_targets):
        name = str(raw.get("name", ""))
        primary = raw.get("primary")
        if not _TARGET_NAME.match(name):
            findings.append(f"{settings_file}: [[targets]] #{position + 1}: bad name {name!r}")
            continue
        if name in names:
            findings.append(f"{settings_file}: [[targets]]: duplicate target {name!r}")
            continue
        if primary not in (1, 2):
            findings.append(
                f"{settings_file}: [[targets]] {name}: primary must be 1 or 2 (node of the pair)"
            )
            continue
        names.add(name)
        target_uuid, resource = target_identity(pair_name, name)
        targets.append(
            TargetSpec(
                name=name,
                uuid=target_uuid,
                resource=resource,
                disk=f"scsi-0LAB_{name}",
                mntpt=f"/mnt/{name}",
                primary=primary,
                secondary=3 - primary,
            )
        )
    if targets and len({t.primary for t in targets}) < 2:
        findings.append(f"{settings_file}: [[targets]]: split the targets between both nodes")
    return targets
