"""
Restore planning: the new cluster's CIB and fencing attributes from an old cluster's
CIB backup (runbook "Configure the HA Framework", "Cluster Power Management").

The backup's own XML elements are copied, never regenerated: IML finds constraints by
their ids (``<resource>-primary``/``-secondary``). ``restore_cib`` runs the named steps

1. ``select``: the target primitives and ``st-fencing`` of the backup;
2. ``select_constraints``: their location constraints, nodes renamed through node_map;
3. ``merge``: both copied into a copy of the new cluster's CIB, targets stopped;
4. ``set_rsc_defaults`` / ``set_properties``: the backup's and the runbook's settings;
5. ``summarize``: what was restored, kept, dropped and why,

each a function of its own. ``fencing_plan`` gives the ``N_fence_*`` node attributes in
the order they must be set (agents last). Pure: lxml elements and dicts in and out.
"""

import copy
import dataclasses
import re

from lxml import etree
from salt.exceptions import CommandExecutionError, SaltInvocationError

from . import cib, cli_args, masking

_FENCE_ATTR = re.compile(r"^(\d+)_fence_(.+)$")
_CONTAINERS = ("group", "clone", "master", "bundle")
_IML_SUFFIXES = ("-primary", "-secondary")


@dataclasses.dataclass
class Selection:
    """What of a backup is restored: target primitives, ``st-fencing`` (or None)."""

    targets: list
    stonith: object
    warnings: list

    @property
    def restored_ids(self):
        return {p.get("id") for p in self.targets} | {cib.STONITH_ID}


@dataclasses.dataclass
class Constraints:
    """Location constraints of the selection: ``[(element, new node)]``, and the dropped."""

    locations: list
    dropped: list
    warnings: list


@dataclasses.dataclass
class Merged:
    """The new CIB with the selection copied in: what was added, what the base kept."""

    root: object
    ids: object
    restored: list
    kept: list
    constraints: list
    warnings: list


class Ids:
    """Unique ids of a CIB tree, allocated the way pcs does (suffix -1, -2… on clash)."""

    def __init__(self, root):
        self.used = set(root.xpath("//@id"))

    def allocate(self, wanted):
        candidate, counter = wanted, 0
        while candidate in self.used:
            counter += 1
            candidate = f"{wanted}-{counter}"
        self.used.add(candidate)
        return candidate


def check_node_map(node_map):
    if not isinstance(node_map, dict) or not node_map:
        raise SaltInvocationError(
            "node_map must map each old node name to its new FQDN, e.g. "
            "{'mds1': 'mds1.lfs.intl', 'mds2': 'mds2.lfs.intl'} (pillar: the pair's nodes)"
        )
    for old, new in node_map.items():
        if not isinstance(old, str) or not isinstance(new, str) or not old or not new:
            raise SaltInvocationError(
                f"node_map entry {old!r}: {new!r} is not a pair of node names"
            )


def rename(node, node_map, source, element):
    """The new name of ``node``; CommandExecutionError naming the element if unmapped."""
    try:
        return node_map[node]
    except KeyError:
        raise CommandExecutionError(
            f"{cib.where(source, element)}: node {node!r} (in <{element.tag} "
            f"id={element.get('id')!r}>) is not in node_map ({sorted(node_map)}); add it to "
            "the pair's nodes in the pillar (old name -> FQDN)"
        ) from None


def _section(parent, tag):
    found = parent.find(tag)
    if found is None:
        found = etree.SubElement(parent, tag)
    return found


def _set_nvpair(attr_set, name, value, ids):
    for nvpair in attr_set.iterchildren("nvpair"):
        if nvpair.get("name") == name:
            nvpair.set("value", value)
            return
    etree.SubElement(
        attr_set,
        "nvpair",
        id=ids.allocate(f"{attr_set.get('id')}-{name}"),
        name=name,
        value=value,
    )


def _stop_resource(primitive, ids):
    """Make every target-role of a copied primitive say Stopped (adding one if none)."""
    found = False
    for meta in primitive.iterchildren("meta_attributes"):
        for nvpair in meta.iterchildren("nvpair"):
            # Pacemaker reads "target_role" as "target-role" in old CIBs: stop both.
            if nvpair.get("name") in ("target-role", "target_role"):
                nvpair.set("value", "Stopped")
                found = True
    if not found:
        meta = primitive.find("meta_attributes")
        if meta is None:
            meta = etree.Element(
                "meta_attributes", id=ids.allocate(f"{primitive.get('id')}-meta_attributes")
            )
            primitive.insert(0, meta)
        _set_nvpair(meta, "target-role", "Stopped", ids)


def _subtree_ids(element):
    return [el.get("id") for el in element.iter() if el.get("id") is not None]


def check_roots(backup_root, base_root, source):
    if backup_root.tag != "cib":
        raise CommandExecutionError(
            f"{source}: root element <{backup_root.tag}> is not <cib>; a CIB backup is the "
            "output of `cibadmin --query` on the old cluster"
        )
    if base_root.tag != "cib":
        raise CommandExecutionError(
            f"base CIB: root element <{base_root.tag}> is not <cib>; give `cibadmin --query` "
            "of the new cluster (or no base)"
        )


# --------------------------------------------------------------------------- steps


def select(backup_root, source, agents):
    """Step 1: the backup's primitives of ``agents`` and its ``st-fencing``."""
    templates = {t.get("id"): t for t in backup_root.iter("template")}
    selection = Selection(targets=[], stonith=None, warnings=[])
    other_stonith = []
    for primitive in backup_root.iter("primitive"):
        ident = cib.required_id(primitive, source)
        rsc_class, provider, rsc_type = cib.agent(primitive, templates)
        if rsc_class == "stonith":
            if ident == cib.STONITH_ID:
                selection.stonith = primitive
            else:
                other_stonith.append(ident)
            continue
        if cib.agent_string(rsc_class, provider, rsc_type) in agents:
            parent = primitive.getparent()
            if parent is not None and parent.tag in _CONTAINERS:
                selection.warnings.append(
                    f"{ident} is inside {parent.tag} {parent.get('id')} in the backup; it is "
                    "restored as a plain primitive"
                )
            selection.targets.append(primitive)
    if not selection.targets:
        selection.warnings.append(
            f"{source} holds no {' or '.join(agents)} resource: nothing to restore"
        )
    if other_stonith:
        selection.warnings.append(
            f"stonith resources other than {cib.STONITH_ID} are not restored: "
            f"{', '.join(sorted(other_stonith))}"
        )
    return selection


def _other_constraints(backup_root, restored):
    found = []
    for tag in ("rsc_order", "rsc_colocation", "rsc_ticket"):
        for other in backup_root.iter(tag):
            refs = {other.get(attr) for attr in ("first", "then", "rsc", "with-rsc")}
            refs |= {ref.get("id") for ref in other.iter("resource_ref")}
            if refs & restored:
                found.append(f"{tag} {other.get('id')}")
    return found


def select_constraints(backup_root, selection, node_map, source):
    """Step 2: location constraints of the selection, renamed; temporary ones dropped."""
    restored = selection.restored_ids
    result = Constraints(locations=[], dropped=[], warnings=[])
    for location in backup_root.iter("rsc_location"):
        ident = cib.required_id(location, source)
        rsc = location.get("rsc")
        if ident.startswith(cib.CLI_CONSTRAINT_PREFIXES):
            result.dropped.append(
                dict(
                    cib.location_record(location, source),
                    reason="left by crm_resource/pcs move, ban or standby",
                )
            )
            continue
        if rsc not in restored:
            continue
        node = location.get("node")
        if node is None:
            raise CommandExecutionError(
                f"{cib.where(source, location)}: <rsc_location id={ident!r}> of {rsc} has no "
                "node attribute (a rule-based location cannot be renamed); fix the backup or "
                "re-create that constraint by hand"
            )
        result.locations.append((location, rename(node, node_map, source, location)))
    others = _other_constraints(backup_root, restored)
    if others:
        result.warnings.append(f"only location constraints are restored; not: {', '.join(others)}")
    return result


def _naming_warnings(selection, constraints):
    """IML finds constraints by ``<resource>-primary``/``-secondary``: say what it won't find."""
    warnings = []
    unnamed = [
        location.get("id")
        for location, _ in constraints.locations
        if not location.get("id").endswith(_IML_SUFFIXES) and location.get("rsc") != cib.STONITH_ID
    ]
    if unnamed:
        warnings.append(
            "locations not named <resource>-primary/-secondary (IML finds constraints by "
            f"those ids): {', '.join(unnamed)}"
        )
    primaries = {location.get("id") for location, _ in constraints.locations}
    without = [p.get("id") for p in selection.targets if f"{p.get('id')}-primary" not in primaries]
    if without:
        warnings.append(f"resources without a <resource>-primary location: {', '.join(without)}")
    return warnings


def merge(base_root, selection, constraints, source):
    """Step 3: a copy of the base with the selection and its constraints copied in."""
    root = copy.deepcopy(base_root)
    ids = Ids(root)
    configuration = _section(root, "configuration")
    _section(configuration, "crm_config")
    _section(configuration, "nodes")
    resources = _section(configuration, "resources")
    constraints_el = _section(configuration, "constraints")
    existing = {el.get("id") for el in root.iter() if el.get("id") is not None}
    merged = Merged(root=root, ids=ids, restored=[], kept=[], constraints=[], warnings=[])

    def insert(parent, element):
        ident = element.get("id")
        if ident in existing:
            merged.kept.append(ident)
            return False
        clashes = [i for i in _subtree_ids(element) if i in ids.used]
        if clashes:
            raise CommandExecutionError(
                f"{cib.where(source, element)}: id {clashes[0]!r} inside <{element.tag} "
                f"id={ident!r}> is already used in the base CIB; rename it in the base or "
                "the backup"
            )
        parent.append(element)
        ids.used.update(_subtree_ids(element))
        return True

    if selection.stonith is not None:
        stonith = copy.deepcopy(selection.stonith)
    else:
        stonith = etree.Element(
            "primitive", id=cib.STONITH_ID, type=cib.STONITH_AGENT, **{"class": "stonith"}
        )
        merged.warnings.append(
            f"{source} has no {cib.STONITH_ID}; created stonith:{cib.STONITH_AGENT}"
        )
    insert(resources, stonith)
    for primitive in selection.targets:
        element = copy.deepcopy(primitive)
        if insert(resources, element):
            _stop_resource(element, ids)
            merged.restored.append(element.get("id"))
    for location, new_node in constraints.locations:
        element = copy.deepcopy(location)
        element.set("node", new_node)
        if insert(constraints_el, element):
            merged.constraints.append(cib.location_record(element, source))
    merged.warnings += _naming_warnings(selection, constraints)
    return merged


def set_rsc_defaults(merged, backup_root):
    """Step 4a: the backup's resource defaults, the runbook's where it lacks them."""
    defaults = {}
    for rsc_defaults in backup_root.iter("rsc_defaults"):
        for name, value in cib.nvpairs(rsc_defaults, "meta_attributes", mask=False).items():
            defaults.setdefault(name, value)
    for name, value in cib.RUNBOOK_RSC_DEFAULTS:
        defaults.setdefault(name, value)
    section = _section(merged.root.find("configuration"), "rsc_defaults")
    meta = section.find("meta_attributes")
    if meta is None:
        meta = etree.SubElement(section, "meta_attributes", id=merged.ids.allocate("rsc-options"))
    for name, value in defaults.items():
        _set_nvpair(meta, name, value, merged.ids)
    return defaults


def restore_properties(node_map):
    """The properties a restore sets: maintenance mode on, quorum policy by node count."""
    return {
        "no-quorum-policy": "ignore" if len(set(node_map.values())) <= 2 else "stop",
        "stonith-enabled": "true",
        "symmetric-cluster": "true",
        "maintenance-mode": "true",
    }


def set_properties(merged, node_map):
    """Step 4b: ``restore_properties`` in ``cib-bootstrap-options``."""
    properties = restore_properties(node_map)
    crm_config = merged.root.find("configuration/crm_config")
    bootstrap = None
    for cps in crm_config.iterchildren("cluster_property_set"):
        if cps.get("id") == "cib-bootstrap-options":
            bootstrap = cps
    if bootstrap is None:
        bootstrap = etree.SubElement(
            crm_config, "cluster_property_set", id=merged.ids.allocate("cib-bootstrap-options")
        )
    for name, value in properties.items():
        _set_nvpair(bootstrap, name, value, merged.ids)
    return properties


def summarize(selection, constraints, merged, defaults, properties):
    """Step 5: what ``build_restore_cib`` returns (secrets masked)."""
    return {
        "resources": sorted(merged.restored),
        "stonith": [cib.STONITH_ID] if cib.STONITH_ID not in merged.kept else [],
        "constraints": sorted(merged.constraints, key=lambda rec: rec["id"]),
        "dropped_constraints": sorted(constraints.dropped, key=lambda rec: rec["id"]),
        "kept": sorted(merged.kept),
        "rsc_defaults": masking.masked_mapping(defaults),
        "properties": properties,
        "warnings": selection.warnings + constraints.warnings + merged.warnings,
    }


def restore_cib(backup_root, node_map, base_root, source="backup", agents=(cib.TARGET_AGENT,)):
    """
    The new cluster's CIB from a backup: ``(new_root, summary)``.

    ``backup_root`` and ``base_root`` are lxml ``<cib>`` elements; neither is modified.
    See ``pacemaker.build_restore_cib`` for what is copied and the summary's keys.
    """
    check_node_map(node_map)
    check_roots(backup_root, base_root, source)
    agents = tuple(cli_args.as_list(agents))
    selection = select(backup_root, source, agents)
    constraints = select_constraints(backup_root, selection, node_map, source)
    merged = merge(base_root, selection, constraints, source)
    defaults = set_rsc_defaults(merged, backup_root)
    properties = set_properties(merged, node_map)
    return merged.root, summarize(selection, constraints, merged, defaults, properties)


# --------------------------------------------------------------------------- checks


def restore_changes(before, after, property_names, default_names):
    """What differs from ``before`` to ``after`` (``read_cib`` data) for a restore."""
    changes = {}
    for key, label in (
        ("resources", "resources_added"),
        ("stonith", "stonith_added"),
        ("locations", "constraints_added"),
    ):
        added = sorted({r["id"] for r in after[key]} - {r["id"] for r in before[key]})
        if added:
            changes[label] = added
    for key, names in (("properties", property_names), ("rsc_defaults", default_names)):
        diff = cib.value_changes(before[key], after[key], names)
        if diff:
            changes[key] = diff
    return changes


def summary_note(summary):
    """``"; warning; …"`` of a restore summary for a state's comment ("" when none)."""
    notes = list(summary["warnings"])
    if summary["dropped_constraints"]:
        dropped = ", ".join(d["id"] for d in summary["dropped_constraints"])
        notes.append(f"not restored (moves/bans of the old cluster): {dropped}")
    return f"; {'; '.join(notes)}" if notes else ""


def blocking_targets(before, summary):
    """
    Targets of the backup already in ``before`` that are enabled or running while
    ``maintenance-mode`` is not true: a restore (which sets maintenance-mode=true) must
    not run behind a cluster that may serve Lustre.
    """
    if cli_args.is_true(before["properties"].get("maintenance-mode")):
        return []
    targets = set(cib.resource_ids(before))
    return running_targets(before, [i for i in summary["kept"] if i in targets])


def running_targets(data, ids):
    """Targets of ``ids`` that are enabled or active anywhere: not safely stopped."""
    by_id = {r["id"]: r for r in data["resources"]}
    return sorted(
        ident
        for ident in ids
        if ident in by_id and (not cib.is_stopped(by_id[ident]) or data["placement"].get(ident))
    )


def invariant_problems(data, created):
    """Safety invariant 3 on a CIB: each created target disabled, maintenance-mode true."""
    by_id = {r["id"]: r for r in data["resources"]}
    problems = [f"{i} is not target-role=Stopped" for i in created if not cib.is_stopped(by_id[i])]
    if not cli_args.is_true(data["properties"].get("maintenance-mode")):
        problems.append("maintenance-mode is not true")
    return problems


def missing_after(summary):
    """Ids a restore summary still has to add (targets, st-fencing, constraints)."""
    return summary["resources"] + summary["stonith"] + [c["id"] for c in summary["constraints"]]


def blocking_message(where, live, summary, backup):
    """Why a restore into ``where`` (a CIB) is refused while targets ``live`` may run."""
    return (
        f"{where} has target(s) {', '.join(live)} enabled or running while maintenance-mode "
        f"is not true, and lacks {', '.join(missing_after(summary))} of {backup}. The restore "
        "sets maintenance-mode=true, which must not happen behind a cluster that may run "
        "Lustre; targets stay disabled and the cluster in maintenance mode only until the "
        "old cluster is verified stopped. If the cutover is done, add what is missing by "
        "hand; otherwise disable those targets (pcs resource disable) or set "
        "maintenance-mode=true, and run again. Nothing was changed"
    )


# --------------------------------------------------------------------------- fencing


def _fence_order(pair):
    index, field = _FENCE_ATTR.match(pair[0]).groups()
    return (field == "agent", int(index), field)


def fencing_plan(backup_root, node_map, source="backup"):
    """
    Fencing node attributes of a CIB backup, renamed, in the order they must be set.

    Returns ``[{"node": new_name, "attributes": [(name, value), …]}]`` with the real
    values (passwords included: keep this out of returns, see ``masked_plan``). For each
    node, every ``N_fence_*`` attribute comes first and each ``N_fence_agent`` last: IML
    starts using a fencing configuration when its agent attribute appears, so the rest
    must already be there.
    """
    check_node_map(node_map)
    plan = []
    for node in backup_root.iter("node"):
        if node.getparent() is None or node.getparent().tag != "nodes":
            continue
        old = node.get("uname") or cib.required_id(node, source)
        pairs = [
            (name, value)
            for name, value in cib.nvpairs(node, "instance_attributes", mask=False).items()
            if _FENCE_ATTR.match(name)
        ]
        if pairs:
            new = rename(old, node_map, source, node)
            plan.append({"node": new, "attributes": sorted(pairs, key=_fence_order)})
    plan.sort(key=lambda entry: entry["node"])
    return plan


def masked_plan(plan):
    """A fencing plan for a return: ``[{"node", "attributes": [[name, value]]}]``, masked."""
    return [
        {
            "node": entry["node"],
            "attributes": [[n, masking.masked(n, v)] for n, v in entry["attributes"]],
        }
        for entry in plan
    ]


def pending_plan(plan, current):
    """
    The part of a fencing plan that ``current`` (``cib.node_attributes``) lacks or holds
    with another value; a node of the plan missing from ``current`` is an error.
    """
    missing = sorted(entry["node"] for entry in plan if entry["node"] not in current)
    if missing:
        raise CommandExecutionError(
            f"node(s) {', '.join(missing)} not in the CIB's nodes section: start the cluster "
            "on them first (pcs cluster start) or check node_map"
        )
    pending = []
    for entry in plan:
        have = current[entry["node"]]
        todo = [(name, value) for name, value in entry["attributes"] if have.get(name) != value]
        if todo:
            pending.append({"node": entry["node"], "attributes": todo})
    return pending


def agents_last(attributes):
    """``(others, agents)``: the attributes of one node in the two updates, agents second."""
    agents = [pair for pair in attributes if pair[0].endswith("_fence_agent")]
    return [pair for pair in attributes if pair not in agents], agents


def fencing_changes(pending_before, pending_after):
    """
    A state's changes from two ``pending_fencing_attributes`` readings:
    ``{node: {"set": [name, …]}}`` of the attributes pending before and no longer after.
    """
    left = {(e["node"], name) for e in pending_after for name in e["attributes"]}
    changes = {}
    for entry in pending_before:
        done = [n for n in entry["attributes"] if (entry["node"], n) not in left]
        if done:
            changes[entry["node"]] = {"set": done}
    return changes


def pending_text(pending):
    """``node: name, name; node: …`` of ``pending_fencing_attributes`` for a message."""
    return "; ".join(f"{e['node']}: {', '.join(e['attributes'])}" for e in pending)
