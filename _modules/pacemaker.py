"""
Pacemaker clusters through pcs, cibadmin, crm_mon and crm_diff.

Three layers, each usable alone:

- parsers (pure): ``parse_cib`` turns a CIB, a CIB section or crm_mon XML into one
  data shape; ``_restore_cib``/``_fencing_plan`` turn an old cluster's CIB backup into the
  new cluster's configuration;
- argv builders (pure, per pcs dialect): ``*_command`` functions return the argv list
  for the detected dialect or for a ``dialect=`` given for offline planning;
- live functions: run those argv lists through ``cmd.run_all`` (never a shell), wait
  for the cluster to reach a placement, push CIB files.

pcs dialects (see DESIGN.md "pcs dialects"): ``"0.9"`` (EL7), ``"0.10"`` (pcs 0.10 and
0.11), ``"0.12"``. Each dialect is one small class below; a function never branches on
the version itself.

Secrets: every attribute whose name contains ``password`` or ``passwd`` reads
``"********"`` in what this module returns; commands carrying one run with
``output_loglevel="quiet"`` and are shown masked in errors; the hacluster password
goes to pcs on stdin (pcs reads it from stdin when stdin is not a terminal). pcs takes
node attributes (fencing passwords among them) only as arguments, so while that pcs runs
the value is visible in the node's own process list, as with the runbook's commands.
"""

import copy
import os
import re
import tempfile
import time

from lxml import etree
from salt.exceptions import CommandExecutionError

__virtualname__ = "pacemaker"

MASK = "********"
DIALECTS = ("0.9", "0.10", "0.12")
TARGET_AGENT = "ocf:chroma:Target"
STONITH_ID = "st-fencing"
STONITH_AGENT = "fence_chroma"
DEFAULT_CLUSTER_NAME = "lustre-ha-cluster"
# Runbook "Configure the High Availability Framework": resource defaults and totem.
RUNBOOK_RSC_DEFAULTS = (
    ("resource-stickiness", "1000"),
    ("failure-timeout", "20m"),
    ("migration-threshold", "3"),
)
TOKEN_MS = 17000
FAIL_RECV_CONST = 10
CLI_CONSTRAINT_PREFIXES = ("cli-ban-", "cli-prefer-", "cli-standby-")
RELOCATE_CONSTRAINT_PREFIX = "pcs-relocate-"
_TEMPORARY_CONSTRAINTS = (*CLI_CONSTRAINT_PREFIXES, RELOCATE_CONSTRAINT_PREFIX)

_CONTEXT_KEY = "pacemaker.dialect"
_FENCE_ATTR = re.compile(r"^(\d+)_fence_(.+)$")
_CIB_SECTIONS = (
    "configuration",
    "resources",
    "constraints",
    "xpath-query",
    "primitive",
    "group",
    "clone",
    "master",
    "bundle",
)
_MON_ROOTS = ("crm_mon", "pacemaker-result")


def __virtual__():
    return __virtualname__


# --------------------------------------------------------------------------- XML input


def _xml_parser():
    # No entity expansion or network access: CIB backups come from other machines.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, remove_blank_text=True, remove_comments=True
    )


def _parse_xml(data, source):
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        root = etree.fromstring(data, _xml_parser())
    except etree.XMLSyntaxError as exc:
        raise CommandExecutionError(
            f"{source} is not XML ({exc}); give a file written by `cibadmin --query` "
            "or `crm_mon --output-as=xml`"
        ) from None
    if root is None:
        raise CommandExecutionError(f"{source} is empty; it holds no XML")
    return root


def _load_xml_file(path):
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {path}: {exc.strerror}") from exc
    return _parse_xml(data, path)


def _where(source, element):
    line = getattr(element, "sourceline", None)
    return f"{source} line {line}" if line else source


def _required_id(element, source):
    ident = element.get("id")
    if not ident:
        raise CommandExecutionError(
            f"{_where(source, element)}: <{element.tag}> has no id attribute; every "
            f"{element.tag} in a CIB needs one (the file is damaged or not a CIB)"
        )
    return ident


def _is_secret(name):
    """Whether an attribute name holds a secret (``password``/``passwd`` in its name)."""
    lowered = name.lower()
    return "password" in lowered or "passwd" in lowered


def _masked(name, value):
    return MASK if _is_secret(name) else value


def _nvpairs(element, set_tag, mask=True):
    """name -> value over every ``set_tag`` child set of ``element``; the first value wins."""
    values = {}
    for attr_set in element.iterchildren(set_tag):
        for nvpair in attr_set.iterchildren("nvpair"):
            name = nvpair.get("name")
            if name is None or name in values:
                continue
            value = nvpair.get("value")
            values[name] = _masked(name, value) if mask else value
    return values


# --------------------------------------------------------------------------- CIB parsing


def _agent(element, templates=None):
    """(class, provider, type) of a primitive, following its template if it has one."""
    template = templates.get(element.get("template")) if templates else None

    def pick(attr):
        value = element.get(attr)
        if value is None and template is not None:
            value = template.get(attr)
        return value

    return pick("class"), pick("provider"), pick("type")


def _agent_string(rsc_class, provider, rsc_type):
    return ":".join(part for part in (rsc_class, provider, rsc_type) if part)


def _operations(element, template):
    ops = {}
    for source_el in (template, element):
        if source_el is None:
            continue
        for ops_el in source_el.iterchildren("operations"):
            for op in ops_el.iterchildren("op"):
                record = {
                    "name": op.get("name"),
                    "interval": op.get("interval"),
                    "timeout": op.get("timeout"),
                }
                ops[(record["name"], record["interval"])] = record
    return sorted(ops.values(), key=lambda op: (op["name"] or "", op["interval"] or ""))


def _primitive_record(element, templates, source):
    ident = _required_id(element, source)
    template = templates.get(element.get("template"))
    rsc_class, provider, rsc_type = _agent(element, templates)
    attributes, meta = {}, {}
    if template is not None:
        attributes.update(_nvpairs(template, "instance_attributes"))
        meta.update(_nvpairs(template, "meta_attributes"))
    attributes.update(_nvpairs(element, "instance_attributes"))
    meta.update(_nvpairs(element, "meta_attributes"))
    return {
        "id": ident,
        "class": rsc_class,
        "provider": provider,
        "type": rsc_type,
        "attributes": attributes,
        "meta": meta,
        "operations": _operations(element, template),
    }


def _location_record(element, source):
    score = element.get("score")
    if score is None:
        rule = element.find("rule")
        if rule is not None:
            score = rule.get("score")
    return {
        "id": _required_id(element, source),
        "rsc": element.get("rsc"),
        "node": element.get("node"),
        "score": score,
        "role": element.get("role"),
    }


def _empty_result():
    return {
        "properties": {},
        "rsc_defaults": {},
        "nodes": [],
        "resources": [],
        "stonith": [],
        "locations": [],
        "placement": {},
    }


def _sorted_result(result):
    for key in ("nodes", "resources", "stonith"):
        result[key].sort(key=lambda rec: rec["id"])
    result["locations"].sort(key=lambda rec: (rec["id"], rec["node"] or ""))
    result["placement"] = {rsc: sorted(nodes) for rsc, nodes in sorted(result["placement"].items())}
    return result


def _op_leaves_running(op):
    """Whether a resource is active on a node after this (its latest) operation."""
    operation = op.get("operation")
    rc_code = op.get("rc-code", "0")
    interval = op.get("interval", "0")
    if operation == "stop":
        # A failed stop leaves the resource possibly active: count it as running.
        return rc_code != "0"
    if operation == "monitor":
        if rc_code == "7":
            return False
        if interval in ("0", "0ms") and rc_code == "5":  # probe: agent not installed
            return False
        return True
    # start/promote/demote/migrate_*: active whether it succeeded or failed (a failed
    # start is only known stopped after a later stop), which errs on the safe side.
    return True


def _status_placement(status, known_ids):
    placement = {rsc: set() for rsc in known_ids}
    for node_state in status.iterchildren("node_state"):
        node = node_state.get("uname") or node_state.get("id")
        for lrm_rsc in node_state.iterfind("lrm/lrm_resources/lrm_resource"):
            rsc = lrm_rsc.get("id")
            if rsc is None:
                continue
            base, sep, suffix = rsc.rpartition(":")
            if sep and suffix.isdigit() and base in known_ids:
                rsc = base  # a clone instance "rsc:0"
            latest = None
            for op in lrm_rsc.iterchildren("lrm_rsc_op"):
                if op.get("operation") in ("notify", "meta-data", "delete", "cancel"):
                    continue
                if op.get("op-status") in ("-1", "1"):  # pending or cancelled
                    continue
                try:
                    call_id = int(op.get("call-id", "-1"))
                except ValueError:
                    continue
                if call_id < 0:
                    continue
                if latest is None or call_id >= latest[0]:
                    latest = (call_id, op)
            running = placement.setdefault(rsc, set())
            if latest is not None and _op_leaves_running(latest[1]):
                running.add(node)
    return placement


def _parse_cib_tree(root, source):
    result = _empty_result()
    templates = {}
    for template in root.iter("template"):
        templates[_required_id(template, source)] = template
    for cps in root.iter("cluster_property_set"):
        for name, value in _nvpairs_of_set(cps).items():
            result["properties"].setdefault(name, value)
    for defaults in root.iter("rsc_defaults"):
        for name, value in _nvpairs(defaults, "meta_attributes").items():
            result["rsc_defaults"].setdefault(name, value)
    for nodes in root.iter("nodes"):
        for node in nodes.iterchildren("node"):
            result["nodes"].append(
                {
                    "id": _required_id(node, source),
                    "uname": node.get("uname"),
                    "attributes": _nvpairs(node, "instance_attributes"),
                }
            )
    for primitive in root.iter("primitive"):
        record = _primitive_record(primitive, templates, source)
        if record["class"] == "stonith":
            result["stonith"].append(
                {"id": record["id"], "type": record["type"], "attributes": record["attributes"]}
            )
        else:
            result["resources"].append(record)
    for location in root.iter("rsc_location"):
        result["locations"].append(_location_record(location, source))
    status = root.find("status") if root.tag == "cib" else None
    if status is not None:
        known = [rec["id"] for rec in result["resources"]] + [
            rec["id"] for rec in result["stonith"]
        ]
        result["placement"] = _status_placement(status, known)
    return result


def _nvpairs_of_set(attr_set):
    values = {}
    for nvpair in attr_set.iterchildren("nvpair"):
        name = nvpair.get("name")
        if name is not None and name not in values:
            values[name] = _masked(name, nvpair.get("value"))
    return values


def _split_agent(text):
    """'ocf::lustre:Lustre' (crm_mon 1.1), 'ocf:pacemaker:Dummy' (2.x), 'stonith:fence_x'."""
    parts = [part for part in (text or "").split(":") if part]
    if not parts:
        return None, None, None
    if parts[0] == "ocf" and len(parts) >= 3:
        return "ocf", parts[1], ":".join(parts[2:])
    return parts[0], None, ":".join(parts[1:]) or None


def _parse_crm_mon_tree(root, source):
    if root.tag == "pacemaker-result":
        status = root.find("status")
        if status is not None and status.get("code", "0") != "0":
            errors = "; ".join(err.text or "" for err in status.iter("error"))
            raise CommandExecutionError(
                f"{source}: crm_mon reported {status.get('message')} "
                f"(code {status.get('code')}){': ' + errors if errors else ''}"
            )
    result = _empty_result()
    attributes = {}
    node_attrs = root.find("node_attributes")
    if node_attrs is not None:
        for node in node_attrs.iterchildren("node"):
            attributes[node.get("name")] = {
                attr.get("name"): _masked(attr.get("name"), attr.get("value"))
                for attr in node.iterchildren("attribute")
            }
    seen = {}
    placement = {}

    def note_resource(element, node_name=None):
        ident = _required_id(element, source)
        rsc_class, provider, rsc_type = _split_agent(element.get("resource_agent"))
        if ident not in seen:
            seen[ident] = (rsc_class, provider, rsc_type)
        running = placement.setdefault(ident, set())
        for node in element.iterchildren("node"):
            running.add(node.get("name"))
        if node_name is not None and element.get("role") not in ("Stopped", None):
            running.add(node_name)

    nodes = root.find("nodes")
    if nodes is not None:
        for node in nodes.iterchildren("node"):
            name = node.get("name")
            result["nodes"].append(
                {
                    "id": node.get("id") or name,
                    "uname": name,
                    "attributes": attributes.get(name, {}),
                }
            )
            # crm_mon --group-by-node lists each node's active resources under it.
            for rsc in node.iter("resource"):
                note_resource(rsc, node_name=name)
    resources = root.find("resources")
    if resources is not None:
        for rsc in resources.iter("resource"):
            note_resource(rsc)
    for ident, (rsc_class, provider, rsc_type) in seen.items():
        if rsc_class == "stonith":
            result["stonith"].append({"id": ident, "type": rsc_type, "attributes": {}})
        else:
            result["resources"].append(
                {
                    "id": ident,
                    "class": rsc_class,
                    "provider": provider,
                    "type": rsc_type,
                    "attributes": {},
                    "meta": {},
                    "operations": [],
                }
            )
    bans = root.find("bans")
    if bans is not None:
        for ban in bans.iterchildren("ban"):
            promoted = "true" in (ban.get("promoted-only"), ban.get("master_only"))
            result["locations"].append(
                {
                    "id": _required_id(ban, source),
                    "rsc": ban.get("resource"),
                    "node": ban.get("node"),
                    "score": ban.get("weight"),
                    "role": "Promoted" if promoted else None,
                }
            )
    result["placement"] = placement
    return result


def parse_cib(xml, source="<xml>"):
    """
    Parse CIB or crm_mon XML text into data (see ``read_cib`` for the shape).

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.parse_cib "$(cibadmin --query)"
    """
    root = _parse_xml(xml, source)
    return _parse_root(root, source)


def _parse_root(root, source):
    if root.tag == "cib" or root.tag in _CIB_SECTIONS:
        return _sorted_result(_parse_cib_tree(root, source))
    if root.tag in _MON_ROOTS:
        return _sorted_result(_parse_crm_mon_tree(root, source))
    raise CommandExecutionError(
        f"{source}: root element <{root.tag}> is neither a CIB (<cib>, or a section such as "
        "<resources>) nor crm_mon XML (<crm_mon>, <pacemaker-result>); give the output of "
        "`cibadmin --query` or `crm_mon --output-as=xml`"
    )


def read_cib(path=None):
    """
    Read a CIB as data: a file, or the live CIB (``cibadmin --query``) when ``path`` is None.

    Returns exactly ``{"properties": {name: value}, "rsc_defaults": {…}, "nodes": [{"id",
    "uname", "attributes"}], "resources": [{"id", "class", "provider", "type",
    "attributes", "meta", "operations": [{"name", "interval", "timeout"}]}], "stonith":
    [{"id", "type", "attributes"}], "locations": [{"id", "rsc", "node", "score", "role"}],
    "placement": {rsc_id: [node, …]}}``; lists of records are sorted by id, operations by
    name and interval, values are the strings the XML holds. Attributes whose name
    contains ``password``/``passwd`` read ``"********"``.

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

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.read_cib
        salt '*' pacemaker.read_cib /root/bck-mds1-20170418/cluster-cfg-mds1.xml
    """
    if path is None:
        # The CIB holds fencing passwords: keep cibadmin's output out of the minion log.
        res = _run(["cibadmin", "--query"], secret=True)
        return parse_cib(res["stdout"], source="cibadmin --query")
    root = _load_xml_file(path)
    return _parse_root(root, path)


# --------------------------------------------------------------------------- restore


class _Ids:
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


def _check_node_map(node_map):
    if not isinstance(node_map, dict) or not node_map:
        raise CommandExecutionError(
            "node_map must map each old node name to its new FQDN, e.g. "
            "{'mds1': 'mds1.lfs.intl', 'mds2': 'mds2.lfs.intl'} (pillar: the pair's nodes)"
        )
    for old, new in node_map.items():
        if not isinstance(old, str) or not isinstance(new, str) or not old or not new:
            raise CommandExecutionError(
                f"node_map entry {old!r}: {new!r} is not a pair of node names"
            )


def _rename(node, node_map, source, element):
    try:
        return node_map[node]
    except KeyError:
        raise CommandExecutionError(
            f"{_where(source, element)}: node {node!r} (in <{element.tag} "
            f"id={element.get('id')!r}>) is not in node_map ({sorted(node_map)}); add it to "
            "the pair's nodes in the pillar (old name -> FQDN)"
        ) from None


def _subtree_ids(element):
    return [el.get("id") for el in element.iter() if el.get("id") is not None]


def _restore_cib(backup_root, node_map, base_root, source="backup", agents=(TARGET_AGENT,)):
    """
    Pure core of ``build_restore_cib``: return ``(new_cib_root, summary)``.

    ``backup_root`` and ``base_root`` are lxml ``<cib>`` elements; neither is modified.
    """
    _check_node_map(node_map)
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
    agents = tuple(agents)
    warnings = []
    templates = {t.get("id"): t for t in backup_root.iter("template")}

    targets = []
    stonith = None
    other_stonith = []
    for primitive in backup_root.iter("primitive"):
        ident = _required_id(primitive, source)
        rsc_class, provider, rsc_type = _agent(primitive, templates)
        if rsc_class == "stonith":
            if ident == STONITH_ID:
                stonith = primitive
            else:
                other_stonith.append(ident)
            continue
        if _agent_string(rsc_class, provider, rsc_type) in agents:
            parent = primitive.getparent()
            if parent is not None and parent.tag in ("group", "clone", "master", "bundle"):
                warnings.append(
                    f"{ident} is inside {parent.tag} {parent.get('id')} in the backup; it is "
                    "restored as a plain primitive"
                )
            targets.append(primitive)
    if not targets:
        warnings.append(f"{source} holds no {' or '.join(agents)} resource: nothing to restore")
    if other_stonith:
        warnings.append(
            f"stonith resources other than {STONITH_ID} are not restored: "
            f"{', '.join(sorted(other_stonith))}"
        )
    copied_ids = [p.get("id") for p in targets]
    restored_set = set(copied_ids) | {STONITH_ID}

    constraints, dropped = [], []
    for location in backup_root.iter("rsc_location"):
        ident = _required_id(location, source)
        rsc = location.get("rsc")
        if ident.startswith(CLI_CONSTRAINT_PREFIXES):
            dropped.append(
                dict(
                    _location_record(location, source),
                    reason="left by crm_resource/pcs move, ban or standby",
                )
            )
            continue
        if rsc not in restored_set:
            continue
        node = location.get("node")
        if node is None:
            raise CommandExecutionError(
                f"{_where(source, location)}: <rsc_location id={ident!r}> of {rsc} has no node "
                "attribute (a rule-based location cannot be renamed); fix the backup or "
                "re-create that constraint by hand"
            )
        constraints.append((location, _rename(node, node_map, source, location)))
    not_locations = []
    for tag in ("rsc_order", "rsc_colocation", "rsc_ticket"):
        for other in backup_root.iter(tag):
            refs = {other.get(attr) for attr in ("first", "then", "rsc", "with-rsc")}
            refs |= {ref.get("id") for ref in other.iter("resource_ref")}
            if refs & restored_set:
                not_locations.append(f"{tag} {other.get('id')}")
    if not_locations:
        warnings.append(f"only location constraints are restored; not: {', '.join(not_locations)}")

    new_root = copy.deepcopy(base_root)
    ids = _Ids(new_root)
    configuration = _section(new_root, "configuration")
    crm_config = _section(configuration, "crm_config")
    _section(configuration, "nodes")
    resources = _section(configuration, "resources")
    constraints_el = _section(configuration, "constraints")
    existing = {el.get("id"): el for el in new_root.iter() if el.get("id") is not None}
    kept = []

    def insert(parent, element, ident):
        if ident in existing:
            kept.append(ident)
            return False
        clashes = [i for i in _subtree_ids(element) if i in ids.used]
        if clashes:
            raise CommandExecutionError(
                f"{_where(source, element)}: id {clashes[0]!r} inside <{element.tag} "
                f"id={ident!r}> is already used in the base CIB; rename it in the base or "
                "the backup"
            )
        parent.append(element)
        ids.used.update(_subtree_ids(element))
        return True

    if stonith is not None:
        stonith_copy = copy.deepcopy(stonith)
    else:
        stonith_copy = etree.Element(
            "primitive", id=STONITH_ID, type=STONITH_AGENT, **{"class": "stonith"}
        )
        warnings.append(f"{source} has no {STONITH_ID}; created stonith:{STONITH_AGENT}")
    insert(resources, stonith_copy, STONITH_ID)
    restored = []
    for primitive in targets:
        ident = primitive.get("id")
        element = copy.deepcopy(primitive)
        if insert(resources, element, ident):
            _stop_resource(element, ids)
            restored.append(ident)

    constraint_records = []
    unnamed = []
    for location, new_node in constraints:
        element = copy.deepcopy(location)
        element.set("node", new_node)
        ident = element.get("id")
        if not ident.endswith(("-primary", "-secondary")) and location.get("rsc") != STONITH_ID:
            unnamed.append(ident)
        if insert(constraints_el, element, ident):
            constraint_records.append(_location_record(element, source))
    if unnamed:
        warnings.append(
            "locations not named <resource>-primary/-secondary (IML finds constraints by "
            f"those ids): {', '.join(unnamed)}"
        )
    primaries = {loc.get("id") for loc, _ in constraints}
    without_primary = [ident for ident in copied_ids if f"{ident}-primary" not in primaries]
    if without_primary:
        warnings.append(
            f"resources without a <resource>-primary location: {', '.join(without_primary)}"
        )

    defaults = {}
    for rsc_defaults in backup_root.iter("rsc_defaults"):
        for name, value in _nvpairs(rsc_defaults, "meta_attributes", mask=False).items():
            defaults.setdefault(name, value)
    for name, value in RUNBOOK_RSC_DEFAULTS:
        defaults.setdefault(name, value)
    rsc_defaults_el = _section(configuration, "rsc_defaults")
    meta = rsc_defaults_el.find("meta_attributes")
    if meta is None:
        meta = etree.SubElement(rsc_defaults_el, "meta_attributes", id=ids.allocate("rsc-options"))
    for name, value in defaults.items():
        _set_nvpair(meta, name, value, ids)

    new_nodes = set(node_map.values())
    properties = {
        "no-quorum-policy": "ignore" if len(new_nodes) <= 2 else "stop",
        "stonith-enabled": "true",
        "symmetric-cluster": "true",
        "maintenance-mode": "true",
    }
    bootstrap = None
    for cps in crm_config.iterchildren("cluster_property_set"):
        if cps.get("id") == "cib-bootstrap-options":
            bootstrap = cps
    if bootstrap is None:
        bootstrap = etree.SubElement(
            crm_config, "cluster_property_set", id=ids.allocate("cib-bootstrap-options")
        )
    for name, value in properties.items():
        _set_nvpair(bootstrap, name, value, ids)

    summary = {
        "resources": sorted(restored),
        "stonith": [STONITH_ID] if STONITH_ID not in kept else [],
        "constraints": sorted(constraint_records, key=lambda rec: rec["id"]),
        "dropped_constraints": sorted(dropped, key=lambda rec: rec["id"]),
        "kept": sorted(kept),
        "rsc_defaults": {name: _masked(name, value) for name, value in defaults.items()},
        "properties": properties,
        "warnings": warnings,
    }
    return new_root, summary


def _atomic_write(path, data, mode=0o600):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".pacemaker.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.build_restore_cib /root/bck/cluster-cfg-mds1.xml \\
            '{mds1: mds1.lfs.intl, mds2: mds2.lfs.intl}' /root/restore.xml
    """
    backup_root = _load_xml_file(backup)
    if base is None:
        base_source = "cibadmin --empty"
        base_root = _parse_xml(_run(["cibadmin", "--empty"])["stdout"], base_source)
    else:
        base_root = _load_xml_file(base)
    if isinstance(agents, str):
        agents = [agent.strip() for agent in agents.split(",") if agent.strip()]
    new_root, summary = _restore_cib(backup_root, node_map, base_root, backup, agents)
    _atomic_write(output, etree.tostring(new_root, pretty_print=True, encoding="utf-8"))
    summary["output"] = output
    return summary


def _fencing_plan(backup_root, node_map, source="backup"):
    """
    Fencing node attributes of a CIB backup, renamed, in the order they must be set.

    Pure; returns ``[{"node": new_name, "attributes": [(name, value), …]}]`` with the
    real values (passwords included: keep this out of returns, see
    ``fencing_attributes``). For each node, every ``N_fence_*`` attribute comes first and
    each ``N_fence_agent`` last: IML starts using a fencing configuration when its agent
    attribute appears, so the rest must already be there.
    """
    _check_node_map(node_map)
    plan = []
    for node in backup_root.iter("node"):
        if node.getparent() is None or node.getparent().tag != "nodes":
            continue
        old = node.get("uname") or _required_id(node, source)
        pairs = [
            (name, value)
            for name, value in _nvpairs(node, "instance_attributes", mask=False).items()
            if _FENCE_ATTR.match(name)
        ]
        if not pairs:
            continue
        new = _rename(old, node_map, source, node)

        def order(pair):
            index, field = _FENCE_ATTR.match(pair[0]).groups()
            return (field == "agent", int(index), field)

        plan.append({"node": new, "attributes": sorted(pairs, key=order)})
    plan.sort(key=lambda entry: entry["node"])
    return plan


def fencing_attributes(backup, node_map):
    """
    The fencing node attributes a CIB backup holds, renamed and ordered (agent last).

    Secrets read ``"********"``; ``apply_fencing_attributes`` sets the real values.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.fencing_attributes /root/bck/cluster-cfg-mds1.xml \\
            '{mds1: mds1.lfs.intl, mds2: mds2.lfs.intl}'
    """
    plan = _fencing_plan(_load_xml_file(backup), node_map, backup)
    return [
        {
            "node": entry["node"],
            "attributes": [[name, _masked(name, value)] for name, value in entry["attributes"]],
        }
        for entry in plan
    ]


# --------------------------------------------------------------------------- pcs dialects


def _kv(values):
    if isinstance(values, dict):
        items = values.items()
    else:
        items = values
    return [f"{name}={value}" for name, value in items]


class _Pcs09:
    """pcs 0.9 (EL7: Pacemaker 1.1, corosync 2)."""

    name = "0.9"
    crm_mon_xml = ("crm_mon", "--one-shot", "--inactive", "--as-xml")

    def auth(self, nodes, user):
        return ["pcs", "cluster", "auth", *nodes, "-u", user]

    def standby(self, node, undo=False):
        return ["pcs", "cluster", "unstandby" if undo else "standby", *([node] if node else [])]

    def node_attribute(self, node, attrs):
        return ["pcs", "property", "set", "--node", node, *_kv(attrs)]

    def node_add(self, node, addrs, start, enable):
        # pcs 0.9 takes the rings of a udp cluster from its interface settings.
        flags = (["--start"] if start else []) + (["--enable"] if enable else [])
        return ["pcs", "cluster", "node", "add", node, *flags]

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


class _Pcs010(_Pcs09):
    """pcs 0.10 and 0.11 (Pacemaker 2, corosync 3 with knet)."""

    name = "0.10"
    crm_mon_xml = ("crm_mon", "--one-shot", "--inactive", "--output-as=xml")

    def auth(self, nodes, user):
        return ["pcs", "host", "auth", *nodes, "-u", user]

    def standby(self, node, undo=False):
        return ["pcs", "node", "unstandby" if undo else "standby", *([node] if node else [])]

    def node_attribute(self, node, attrs):
        return ["pcs", "node", "attribute", node, *_kv(attrs)]

    def node_add(self, node, addrs, start, enable):
        flags = (["--start"] if start else []) + (["--enable"] if enable else [])
        return ["pcs", "cluster", "node", "add", node, *[f"addr={a}" for a in addrs], *flags]

    def resource_config(self):
        return ["pcs", "resource", "config"]

    def constraint_config(self):
        return ["pcs", "constraint", "config", "--full"]

    def property_config(self):
        return ["pcs", "property", "config"]

    def setup(self, name, conf, nodes, token, fail_recv_const):
        links = _link_count(conf)
        argv = ["pcs", "cluster", "setup", name]
        for node, addrs in nodes.items():
            argv += [node, *[f"addr={a}" for a in addrs]]
        argv += ["transport", "knet"]
        if links > 1:
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


class _Pcs012(_Pcs010):
    """pcs 0.12: deprecated forms of 0.10/0.11 removed."""

    name = "0.12"

    def resource_defaults(self, values):
        return ["pcs", "resource", "defaults", "update", *_kv(values)]


_DIALECT_CLASSES = {cls.name: cls for cls in (_Pcs09, _Pcs010, _Pcs012)}


def dialect_of_version(version):
    """
    The dialect ("0.9", "0.10", "0.12") of a pcs version string such as ``0.11.5``.

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.dialect_of_version 0.9.169
    """
    text = str(version).strip().splitlines()[0].strip() if str(version).strip() else ""
    parts = text.split(".")
    try:
        major, minor = int(parts[0]), int(re.match(r"\d+", parts[1]).group())
    except (IndexError, ValueError, AttributeError):
        raise CommandExecutionError(
            f"pcs version {text!r} is not a version number; pcs 0.9 to 0.12 are supported"
        ) from None
    if (major, minor) == (0, 9):
        return "0.9"
    if (major, minor) in ((0, 10), (0, 11)):
        return "0.10"
    if (major, minor) == (0, 12):
        return "0.12"
    raise CommandExecutionError(
        f"pcs {text} is not a supported version (0.9, 0.10, 0.11, 0.12); its command "
        "syntax is unknown. Install a supported pcs or plan with dialect='0.12'"
    )


def _syntax(dialect=None):
    if dialect is None:
        dialect = detect_dialect()
    name = str(dialect)
    if name not in _DIALECT_CLASSES:
        name = dialect_of_version(name)
    return _DIALECT_CLASSES[name]()


def detect_dialect(refresh=False):
    """
    The pcs dialect of this host, detected once and cached in ``__context__``.

    The version (``pcs --version``) picks the dialect and a capability confirms it:
    pcs ≥0.10 must list ``node.attributes`` in ``pcs --version --full``; pcs 0.9 must
    offer ``property set --node`` in its help. A pcs that fails either is an error.

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.detect_dialect
    """
    if not refresh and _CONTEXT_KEY in __context__:
        return __context__[_CONTEXT_KEY]
    version = _run(["pcs", "--version"])["stdout"].strip()
    dialect = dialect_of_version(version)
    if dialect == "0.9":
        help_text = _run(["pcs", "property", "--help"], ok_codes=(0, 1))
        if "--node" not in help_text["stdout"] + help_text["stderr"]:
            raise CommandExecutionError(
                f"pcs {version} does not offer `property set --node`; it is not a pcs 0.9 "
                "this module knows"
            )
    else:
        capabilities = _run(["pcs", "--version", "--full"])["stdout"].split()
        if "node.attributes" not in capabilities:
            raise CommandExecutionError(
                f"pcs {version} does not list the node.attributes capability; it is not a "
                "pcs this module knows"
            )
    __context__[_CONTEXT_KEY] = dialect
    return dialect


# --------------------------------------------------------------------------- builders


def _with_file(argv, cib_file):
    """Insert ``-f FILE`` (work on a CIB file instead of the live CIB) after ``pcs``."""
    if cib_file and argv and argv[0] == "pcs":
        return ["pcs", "-f", cib_file, *argv[1:]]
    return argv


def _names(nodes):
    if isinstance(nodes, str):
        return [nodes]
    return list(nodes)


def auth_command(nodes, user="hacluster", dialect=None):
    """
    argv that authenticates pcs against ``nodes``; the password goes on stdin.

    pcs reads the password from stdin when stdin is not a terminal (pcs 0.9 to 0.12), so
    it never appears on a command line.

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.auth_command '[mds1.lfs.intl, mds2.lfs.intl]' dialect=0.9
    """
    return _syntax(dialect).auth(_names(nodes), user)


def standby_command(node=None, dialect=None, cib_file=None):
    """
    argv that puts ``node`` (the local node when None) in standby.

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.standby_command mds1.lfs.intl
    """
    return _with_file(_syntax(dialect).standby(node), cib_file)


def unstandby_command(node=None, dialect=None, cib_file=None):
    """
    argv that takes ``node`` (the local node when None) out of standby.

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.unstandby_command mds1.lfs.intl
    """
    return _with_file(_syntax(dialect).standby(node, undo=True), cib_file)


def cluster_command(action, node=None, all_nodes=False, dialect=None):
    """
    argv of ``pcs cluster start|stop|enable|disable`` for the local node (default),
    ``node``, or every node (``all_nodes=True``). The same in every dialect.

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.cluster_command disable
    """
    _syntax(dialect)
    if action not in ("start", "stop", "enable", "disable"):
        raise CommandExecutionError(
            f"cluster action {action!r} is not one of start, stop, enable, disable"
        )
    if node and all_nodes:
        raise CommandExecutionError("give a node or all_nodes=True, not both")
    return ["pcs", "cluster", action, *(["--all"] if all_nodes else [node] if node else [])]


def property_set_command(properties, dialect=None, cib_file=None):
    """
    argv of ``pcs property set name=value…`` (``properties``: a dict).

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.property_set_command '{no-quorum-policy: ignore}'
    """
    _syntax(dialect)
    if not properties:
        raise CommandExecutionError("no property to set")
    return _with_file(["pcs", "property", "set", *_kv(properties)], cib_file)


def maintenance_mode_command(enabled, dialect=None, cib_file=None):
    """
    argv that sets the ``maintenance-mode`` property.

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.maintenance_mode_command false
    """
    value = "true" if _truthy(enabled) else "false"
    return property_set_command({"maintenance-mode": value}, dialect, cib_file)


def _truthy(value):
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def resource_enable_command(resources, dialect=None, cib_file=None):
    """
    argv of ``pcs resource enable ID…``.

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.resource_enable_command '[MGS_32834e, demo-MDT0000_802c1b]'
    """
    _syntax(dialect)
    return _with_file(["pcs", "resource", "enable", *_ids(resources)], cib_file)


def resource_disable_command(resources, dialect=None, cib_file=None):
    """
    argv of ``pcs resource disable ID…``.

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.resource_disable_command MGS_32834e
    """
    _syntax(dialect)
    return _with_file(["pcs", "resource", "disable", *_ids(resources)], cib_file)


def _ids(resources):
    names = _names(resources)
    if not names:
        raise CommandExecutionError("no resource id given")
    return names


def node_attribute_command(node, attributes, dialect=None, cib_file=None):
    """
    argv that sets node attributes: ``property set --node`` (0.9), ``node attribute`` (≥0.10).

    ``attributes``: a dict or a list of ``[name, value]`` pairs (order kept). The argv
    holds the values: run it with ``output_loglevel="quiet"`` when one is a secret
    (``set_node_attributes`` does).

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.node_attribute_command mds1.lfs.intl '{0_fence_plug: mds1}'
    """
    if not attributes:
        raise CommandExecutionError(f"no attribute to set on {node}")
    return _with_file(_syntax(dialect).node_attribute(node, attributes), cib_file)


def node_add_command(node, addrs=(), start=False, enable=False, dialect=None):
    """
    argv of ``pcs cluster node add``: with ``addr=`` per ring for pcs ≥0.10.

    pcs 0.9 (udp rings) takes the rings from the cluster's interface settings and
    ignores ``addrs``.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.node_add_command mds2.lfs.intl '[10.128.0.22, 10.73.10.22]' start=True
    """
    return _syntax(dialect).node_add(node, _names(addrs), _truthy(start), _truthy(enable))


def relocate_command(action="run", resources=(), dialect=None, cib_file=None):
    """
    argv of ``pcs resource relocate show|dry-run|run [ID…]``.

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.relocate_command show
    """
    _syntax(dialect)
    if action not in ("show", "dry-run", "run", "clear"):
        raise CommandExecutionError(
            f"relocate action {action!r} is not one of show, dry-run, run, clear"
        )
    return _with_file(["pcs", "resource", "relocate", action, *_names(resources)], cib_file)


def cib_push_command(path, diff_against=None, dialect=None):
    """
    argv of ``pcs cluster cib-push FILE``: the configuration section (``--config``), or
    the difference between ``diff_against`` and FILE (``diff-against=``).

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.cib_push_command /root/restore.xml
    """
    _syntax(dialect)
    if diff_against:
        return ["pcs", "cluster", "cib-push", path, f"diff-against={diff_against}"]
    return ["pcs", "cluster", "cib-push", path, "--config"]


def crm_diff_command(original, new):
    """
    argv of ``crm_diff`` producing the patch from ``original`` to ``new`` (exit 1 = differ).

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.crm_diff_command /root/live.xml /root/restore.xml
    """
    return ["crm_diff", "--original", original, "--new", new, "--no-version"]


def cib_patch_command(patch):
    """
    argv of ``cibadmin --patch`` applying a ``crm_diff`` patch file to the live CIB.

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.cib_patch_command /root/restore.patch
    """
    return ["cibadmin", "--patch", "--xml-file", patch]


def crm_mon_command(dialect=None):
    """
    argv of crm_mon's XML status: ``--as-xml`` (Pacemaker 1.1, with pcs 0.9) or
    ``--output-as=xml`` (Pacemaker 2, with pcs ≥0.10).

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.crm_mon_command
    """
    return list(_syntax(dialect).crm_mon_xml)


def resource_defaults_command(defaults=None, dialect=None, cib_file=None):
    """
    argv that sets resource defaults (default: the runbook's three).

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.resource_defaults_command
    """
    values = dict(defaults) if defaults else dict(RUNBOOK_RSC_DEFAULTS)
    return _with_file(_syntax(dialect).resource_defaults(values), cib_file)


def stonith_create_command(dialect=None, cib_file=None):
    """
    argv that creates IML's ``st-fencing`` (``stonith:fence_chroma``).

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.stonith_create_command
    """
    _syntax(dialect)
    return _with_file(["pcs", "stonith", "create", STONITH_ID, STONITH_AGENT], cib_file)


def resource_config_command(dialect=None, cib_file=None):
    """
    argv that shows the resources' configuration (``resource show --full`` / ``config``).

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.resource_config_command
    """
    return _with_file(_syntax(dialect).resource_config(), cib_file)


def constraint_config_command(dialect=None, cib_file=None):
    """
    argv that shows constraints with their ids (``constraint show|config --full``).

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.constraint_config_command
    """
    return _with_file(_syntax(dialect).constraint_config(), cib_file)


def property_config_command(dialect=None, cib_file=None):
    """
    argv that shows cluster properties (``property show`` / ``property config``).

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.property_config_command
    """
    return _with_file(_syntax(dialect).property_config(), cib_file)


def _link_count(conf):
    """Rings of an old config: its interface blocks and its nodes' ringN_addr, together."""
    rings = {iface["ringnumber"] for iface in conf["interfaces"]}
    for node in conf["nodes"]:
        for key in node:
            match = re.fullmatch(r"ring(\d+)_addr", key)
            if match:
                rings.add(int(match.group(1)))
    return max(rings) + 1 if rings else 1


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

    ``corosync_conf``: the backed-up corosync.conf (a path, read with
    ``corosync.read_conf``) or what ``corosync.read_conf`` returned; any generation.
    ``nodes``: the new cluster's nodes (FQDNs), as ``{name: [ring0_addr, ring1_addr…]}``
    (one address per ring of the old config) or a list of names.

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

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.setup_command /root/bck/etc/corosync/corosync.conf \\
            '{mds1.lfs.intl: [10.128.0.21, 10.73.10.21]}'
    """
    syntax = _syntax(dialect)
    conf = corosync_conf
    if not isinstance(conf, dict):
        conf = __salt__["corosync.read_conf"](corosync_conf)
    for key in ("interfaces", "nodes", "generation"):
        if key not in conf:
            raise CommandExecutionError(
                f"corosync_conf lacks {key!r}: give a path or what corosync.read_conf returns"
            )
    if isinstance(nodes, str):
        nodes = [nodes]
    if not nodes:
        raise CommandExecutionError("no node given for the new cluster")
    links = _link_count(conf)
    if isinstance(nodes, dict):
        node_addrs = {name: _names(addrs) for name, addrs in nodes.items()}
    else:
        node_addrs = {name: [] for name in nodes}
    needs_addrs = syntax.name != "0.9" or not conf["interfaces"]
    for name, addrs in node_addrs.items():
        if not name:
            raise CommandExecutionError("a node of the new cluster has no name")
        if addrs and len(addrs) != links:
            raise CommandExecutionError(
                f"node {name} has {len(addrs)} address(es) but the old corosync.conf has "
                f"{links} ring(s): give one address per ring, in ring order"
            )
        if not addrs and needs_addrs and links > 1:
            raise CommandExecutionError(
                f"node {name} needs one address per ring ({links}) for this setup: give "
                "nodes as {name: [ring0_addr, ring1_addr]}"
            )
    if syntax.name == "0.9" and conf["generation"] == "3.x":
        raise CommandExecutionError(
            "the old corosync.conf is corosync 3 (knet); pcs 0.9 cannot set up knet"
        )
    if syntax.name == "0.9" and not conf["interfaces"]:
        node_addrs = {name: addrs or [name] for name, addrs in node_addrs.items()}
    argv = syntax.setup(cluster_name, conf, node_addrs, int(token), int(fail_recv_const))
    if corosync_conf_out:
        if syntax.name == "0.9":
            raise CommandExecutionError("pcs 0.9 cannot write a corosync.conf to a file")
        argv += ["--corosync_conf", corosync_conf_out]
    return argv


# --------------------------------------------------------------------------- live


def _shown(argv):
    shown = []
    for arg in argv:
        name, sep, _ = arg.partition("=")
        shown.append(f"{name}={MASK}" if sep and _is_secret(name) else arg)
    return " ".join(shown)


def _run(argv, stdin=None, secret=False, timeout=None, ok_codes=(0,), env=None):
    kwargs = {"python_shell": False, "ignore_retcode": True}
    if stdin is not None:
        kwargs["stdin"] = stdin
    if secret:
        kwargs["output_loglevel"] = "quiet"
    if timeout:
        kwargs["timeout"] = timeout
    if env:
        kwargs["env"] = env
    res = __salt__["cmd.run_all"](argv, **kwargs)
    if res["retcode"] not in ok_codes:
        detail = (res.get("stderr") or res.get("stdout") or "").strip()
        raise CommandExecutionError(
            f"`{_shown(argv)}` failed (exit {res['retcode']}): {detail}",
            info={"retcode": res["retcode"]},
        )
    return res


def status(dialect=None):
    """
    The cluster's state from crm_mon XML, in ``read_cib``'s shape (nodes, placement…).

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.status
    """
    xml, source = _crm_mon_xml(dialect)
    return parse_cib(xml, source=source)


def membership(dialect=None):
    """
    Who is in the cluster now: ``{"dc": bool, "online": [node names], "offline": [...]}``
    from crm_mon XML (a DC is elected once the membership has formed).

    CLI Example:

    .. code-block:: bash

        salt '*' pacemaker.membership
    """
    xml, source = _crm_mon_xml(dialect)
    return _membership(_parse_xml(xml, source))


def _crm_mon_xml(dialect):
    argv = crm_mon_command(dialect)
    res = _run(argv, ok_codes=(0, 64) if "--output-as=xml" in argv else (0,))
    if res["retcode"] == 64:  # Pacemaker 2.0.0–2.0.2 lacks --output-as: use the old flag
        argv = [*argv[:-1], "--as-xml"]
        res = _run(argv)
    return res["stdout"], " ".join(argv)


def _membership(root):
    nodes = root.xpath("./nodes/node")
    dc = root.xpath(".//current_dc")
    return {
        "dc": bool(dc) and dc[0].get("present") == "true",
        "online": sorted(n.get("name") for n in nodes if n.get("online") == "true"),
        "offline": sorted(n.get("name") for n in nodes if n.get("online") != "true"),
    }


def auth(nodes, password, user="hacluster", dialect=None):
    """
    Authenticate pcs against ``nodes``; the password is given to pcs on stdin.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.auth '[mds1.lfs.intl]' password="$(cat /root/hacluster.pw)"
    """
    argv = auth_command(nodes, user, dialect)
    res = _run(argv, stdin=f"{password}\n", secret=True, timeout=120)
    return {"nodes": _names(nodes), "user": user, "stdout": res["stdout"].strip()}


def _wait(check, timeout, interval, what):
    deadline = time.monotonic() + float(timeout)
    while True:
        done, state = check()
        if done:
            return state
        if time.monotonic() >= deadline:
            raise CommandExecutionError(
                f"timed out after {timeout}s waiting for {what}; last state: {state}"
            )
        time.sleep(interval)


def wait_for_placement(expected, timeout=300, interval=2, dialect=None):
    """
    Wait until every resource in ``expected`` runs where it says: a node name, a list of
    node names, or None / ``[]`` for stopped everywhere. Returns the placement seen.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.wait_for_placement '{MGS_32834e: mds1.lfs.intl}'
    """
    wanted = {}
    for rsc, nodes in expected.items():
        if nodes is None:
            wanted[rsc] = []
        else:
            wanted[rsc] = sorted(_names(nodes))

    def check():
        placement = status(dialect)["placement"]
        seen = {rsc: placement.get(rsc, []) for rsc in wanted}
        return seen == wanted, seen

    return _wait(check, timeout, interval, f"placement {wanted}")


def wait_until_node_empty(node, timeout=300, interval=2, dialect=None):
    """
    Wait until no resource is active on ``node`` (after standby). Returns the placement.

    CLI Example:

    .. code-block:: bash

        salt mds2 pacemaker.wait_until_node_empty mds1
    """

    def check():
        placement = status(dialect)["placement"]
        busy = sorted(rsc for rsc, nodes in placement.items() if node in nodes)
        return not busy, placement if not busy else {"still on " + node: busy}

    return _wait(check, timeout, interval, f"{node} to run no resource")


def standby(node=None, wait=True, timeout=300, dialect=None, cib_file=None):
    """
    Put ``node`` (local node when None) in standby; with a node name, wait until it runs nothing.

    With ``cib_file`` only the file changes (``pcs -f``) and nothing is waited for: no
    resource moves in a file.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.standby mds1
    """
    _run(standby_command(node, dialect, cib_file))
    if _truthy(wait) and node and not cib_file:
        wait_until_node_empty(node, timeout=timeout, dialect=dialect)
    return {"node": node, "standby": True}


def unstandby(node=None, dialect=None, cib_file=None):
    """
    Take ``node`` (local node when None) out of standby (in ``cib_file`` when given).

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.unstandby mds1.lfs.intl
    """
    _run(unstandby_command(node, dialect, cib_file))
    return {"node": node, "standby": False}


def cluster(action, node=None, all_nodes=False, timeout=300, dialect=None):
    """
    ``pcs cluster start|stop|enable|disable`` (local node by default).

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.cluster start
    """
    argv = cluster_command(action, node, all_nodes, dialect)
    res = _run(argv, timeout=timeout)
    return {"action": action, "node": node, "all": bool(all_nodes), "stdout": res["stdout"]}


def set_properties(properties, dialect=None, cib_file=None):
    """
    Set cluster properties (a dict), in the live CIB or in ``cib_file``.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.set_properties '{stonith-enabled: "true"}'
    """
    _run(property_set_command(properties, dialect, cib_file))
    return dict(properties)


def set_maintenance_mode(enabled, dialect=None, cib_file=None):
    """
    Set or clear the ``maintenance-mode`` property (in ``cib_file`` when given).

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.set_maintenance_mode false
    """
    _run(maintenance_mode_command(enabled, dialect, cib_file))
    return {"maintenance-mode": _truthy(enabled)}


def set_resource_defaults(defaults=None, dialect=None, cib_file=None):
    """
    Set resource defaults (a dict; default: the runbook's three), in the live CIB or in
    ``cib_file``.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.set_resource_defaults '{resource-stickiness: 1000}'
    """
    values = dict(defaults) if defaults else dict(RUNBOOK_RSC_DEFAULTS)
    _run(resource_defaults_command(values, dialect, cib_file))
    return {name: _masked(name, str(value)) for name, value in values.items()}


def enable_resources(resources, dialect=None, cib_file=None):
    """
    ``pcs resource enable ID…`` (in ``cib_file`` when given).

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.enable_resources '[MGS_32834e]'
    """
    _run(resource_enable_command(resources, dialect, cib_file))
    return {"enabled": _ids(resources)}


def disable_resources(resources, dialect=None, cib_file=None):
    """
    ``pcs resource disable ID…`` (in ``cib_file`` when given).

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.disable_resources '[MGS_32834e]'
    """
    _run(resource_disable_command(resources, dialect, cib_file))
    return {"disabled": _ids(resources)}


def set_node_attributes(node, attributes, dialect=None, cib_file=None):
    """
    Set node attributes (dict or ordered ``[name, value]`` pairs) in one CIB update.

    The values travel on ``cibadmin --modify --xml-pipe``'s standard input, never on a
    command line (``pcs property set --node``/``pcs node attribute`` would put fence
    passwords in the process list); an attribute that exists keeps its id and block.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.set_node_attributes mds1.lfs.intl '[[0_fence_plug, mds1]]'
    """
    items = list(attributes.items()) if isinstance(attributes, dict) else list(attributes)
    secret = any(_is_secret(name) for name, _ in items)
    env = {"CIB_file": cib_file} if cib_file else None
    nodes = _run(["cibadmin", "--query", "--scope", "nodes"], secret=True, env=env)["stdout"]
    update = _node_attributes_update(
        _parse_xml(nodes, "cibadmin --query --scope nodes"), node, items
    )
    _run(
        ["cibadmin", "--modify", "--scope", "nodes", "--xml-pipe"],
        stdin=update,
        secret=secret,
        env=env,
    )
    return {"node": node, "attributes": [[name, _masked(name, value)] for name, value in items]}


def _node_attributes_update(nodes, uname, items):
    """The ``<node>`` element that sets ``items`` on node ``uname`` of a nodes section."""
    found = nodes.xpath(".//node[@uname=$u]", u=uname)
    if not found:
        raise CommandExecutionError(
            f"node {uname} is not in the CIB's nodes section: start the cluster on it first "
            "(pcs cluster start) or check the node name"
        )
    current = found[0]
    node_id = current.get("id")
    update = etree.Element("node", id=node_id, uname=uname)
    blocks = {}
    default_block = current.find("instance_attributes")
    default_id = default_block.get("id") if default_block is not None else f"nodes-{node_id}"
    for name, value in items:
        existing = current.xpath("instance_attributes/nvpair[@name=$n]", n=name)
        block_id = existing[0].getparent().get("id") if existing else default_id
        nvpair_id = existing[0].get("id") if existing else f"nodes-{node_id}-{name}"
        if block_id not in blocks:
            blocks[block_id] = etree.SubElement(update, "instance_attributes", id=block_id)
        etree.SubElement(blocks[block_id], "nvpair", id=nvpair_id, name=name, value=str(value))
    return etree.tostring(update, encoding="unicode")


def _current_node_attributes(cib_file=None):
    """uname -> {name: real value} of the nodes section (secrets included: never return)."""
    query = ["cibadmin", "--query", "--scope", "nodes"]
    xml = _run(query, secret=True, env=_cib_env(cib_file))["stdout"]
    nodes = _parse_xml(xml, "cibadmin --query --scope nodes")
    return {
        node.get("uname"): _nvpairs(node, "instance_attributes", mask=False)
        for node in nodes.iter("node")
    }


def _pending_plan(plan, current):
    pending = []
    missing = sorted(entry["node"] for entry in plan if entry["node"] not in current)
    if missing:
        raise CommandExecutionError(
            f"node(s) {', '.join(missing)} not in the CIB's nodes section: start the cluster "
            "on them first (pcs cluster start) or check node_map"
        )
    for entry in plan:
        have = current[entry["node"]]
        todo = [(name, value) for name, value in entry["attributes"] if have.get(name) != value]
        if todo:
            pending.append({"node": entry["node"], "attributes": todo})
    return pending


def pending_fencing_attributes(backup, node_map, cib_file=None):
    """
    The fencing node attributes of a CIB backup that the CIB (live, or ``cib_file``) lacks
    or holds with another value: ``[{"node", "attributes": [name, …]}]``, names only, in
    the order ``apply_fencing_attributes`` sets them. A node of the plan missing from the
    CIB is an error.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.pending_fencing_attributes /root/bck/cluster-cfg-mds1.xml \\
            '{mds1: mds1.lfs.intl, mds2: mds2.lfs.intl}'
    """
    plan = _fencing_plan(_load_xml_file(backup), node_map, backup)
    pending = _pending_plan(plan, _current_node_attributes(cib_file))
    return [
        {"node": entry["node"], "attributes": [name for name, _ in entry["attributes"]]}
        for entry in pending
    ]


def apply_fencing_attributes(backup, node_map, dialect=None, cib_file=None, pending_only=False):
    """
    Set the fencing node attributes of a CIB backup on the new cluster (runbook "Cluster
    Power Management"): per node, every ``N_fence_*`` first, then the agents. With
    ``pending_only`` only those ``pending_fencing_attributes`` lists are set.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.apply_fencing_attributes /root/bck/cluster-cfg-mds1.xml \\
            '{mds1: mds1.lfs.intl, mds2: mds2.lfs.intl}'
    """
    plan = _fencing_plan(_load_xml_file(backup), node_map, backup)
    if _truthy(pending_only):
        plan = _pending_plan(plan, _current_node_attributes(cib_file))
    done = []
    for entry in plan:
        agents = [pair for pair in entry["attributes"] if pair[0].endswith("_fence_agent")]
        others = [pair for pair in entry["attributes"] if pair not in agents]
        for chunk in (others, agents):
            if chunk:
                set_node_attributes(entry["node"], chunk, dialect, cib_file=cib_file)
        done.append(
            {
                "node": entry["node"],
                "attributes": [[n, _masked(n, v)] for n, v in entry["attributes"]],
            }
        )
    return done


def setup_cluster(
    corosync_conf, nodes, cluster_name=DEFAULT_CLUSTER_NAME, dialect=None, timeout=600
):
    """
    ``pcs cluster setup`` of the new cluster, translated from the old corosync.conf (see
    ``setup_command``); run on the first node once pcs is authenticated to every node.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.setup_cluster /root/bck/etc/corosync/corosync.conf \\
            '{mds1.lfs.intl: [10.128.0.21, 10.73.10.21]}'
    """
    argv = setup_command(corosync_conf, nodes, cluster_name, dialect)
    res = _run(argv, timeout=timeout)
    return {"name": cluster_name, "nodes": _names(nodes), "stdout": res["stdout"]}


def wait_for_cluster(nodes=(), timeout=120, interval=2, dialect=None):
    """
    Wait until the local cluster stack has formed its membership (a DC is elected) and
    every node of ``nodes`` is online (after ``pcs cluster start``). Returns the
    membership, as ``membership`` does.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.wait_for_cluster '[mds1.lfs.intl]'
    """

    def check():
        try:
            now = membership(dialect)
        except CommandExecutionError as exc:
            return False, str(exc)
        missing = sorted(set(nodes) - set(now["online"]))
        return now["dc"] and not missing, now

    what = "a DC to be elected" + (f" with {', '.join(nodes)} online" if nodes else "")
    return _wait(check, timeout, interval, what)


def node_add(node, addrs=(), start=True, enable=False, timeout=600, dialect=None):
    """
    Add ``node`` to the cluster (run on a member), with one address per ring for pcs ≥0.10.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.node_add mds2.lfs.intl '[10.128.0.22, 10.73.10.22]'
    """
    res = _run(node_add_command(node, addrs, start, enable, dialect), timeout=timeout)
    return {"node": node, "stdout": res["stdout"]}


def relocate(action="run", resources=(), timeout=600, dialect=None):
    """
    ``pcs resource relocate show|dry-run|run`` (rebalance onto preferred nodes).

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.relocate show
    """
    res = _run(relocate_command(action, resources, dialect), timeout=timeout)
    return {"action": action, "stdout": res["stdout"]}


def push_cib(path, diff_against=None, dialect=None):
    """
    Push a CIB file: its configuration section, or only its difference to ``diff_against``.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.push_cib /root/restore.xml diff_against=/root/live.xml
    """
    res = _run(cib_push_command(path, diff_against, dialect))
    return {"pushed": path, "diff_against": diff_against, "stdout": res["stdout"]}


def diff_cib(original, new):
    """
    The ``crm_diff`` patch (XML text) from ``original`` to ``new``; "" when they match.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.diff_cib /root/live.xml /root/restore.xml
    """
    res = _run(crm_diff_command(original, new), ok_codes=(0, 1), secret=True)
    return res["stdout"] if res["retcode"] == 1 else ""


def patch_cib(patch, cib_file=None):
    """
    Apply a ``crm_diff`` patch file to the live CIB (``cibadmin --patch``), or to
    ``cib_file``; one CIB transaction either way.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.patch_cib /root/restore.patch
    """
    _run(cib_patch_command(patch), env=_cib_env(cib_file))
    return {"patched": patch, "cib_file": cib_file}


def _cib_env(cib_file):
    return {"CIB_file": cib_file} if cib_file else None


def save_cib(output, cib_file=None):
    """
    Write the current CIB (``cibadmin --query``: the live one, or ``cib_file``'s) to
    ``output``, atomically, mode 0600 (it holds the fencing passwords).

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.save_cib /root/live-cib.xml
    """
    res = _run(["cibadmin", "--query"], secret=True, env=_cib_env(cib_file))
    _parse_xml(res["stdout"], "cibadmin --query")
    _atomic_write(output, res["stdout"].encode("utf-8"))
    return {"output": output}


def _preferred(cib, agents=(TARGET_AGENT,)):
    """rsc -> node each resource of ``agents`` prefers (pure; ``read_cib`` data in)."""
    by_rsc = {}
    for loc in cib["locations"]:
        # Moves, bans, standby and relocation leave constraints that are no preference.
        if loc["node"] and loc["rsc"] and not loc["id"].startswith(_TEMPORARY_CONSTRAINTS):
            by_rsc.setdefault(loc["rsc"], []).append(loc)
    preferred = {}
    for rsc in cib["resources"]:
        if _agent_string(rsc["class"], rsc["provider"], rsc["type"]) not in agents:
            continue
        locs = by_rsc.get(rsc["id"], [])
        primary = [loc for loc in locs if loc["id"] == f"{rsc['id']}-primary"]
        if primary:
            preferred[rsc["id"]] = primary[0]["node"]
            continue
        scored = [(_score(loc["score"]), loc["node"]) for loc in locs]
        scored = [pair for pair in scored if pair[0] is not None and pair[0] > 0]
        best = max(scored, default=None, key=lambda pair: pair[0])
        tied = [node for score, node in scored if best and score == best[0]]
        preferred[rsc["id"]] = best[1] if best and len(tied) == 1 else None
    return preferred


def _score(text):
    value = (text or "").strip().upper()
    if value in ("INFINITY", "+INFINITY"):
        return float("inf")
    if value == "-INFINITY":
        return float("-inf")
    try:
        return int(value)
    except ValueError:
        return None


def preferred_nodes(cib_file=None, agents=(TARGET_AGENT,)):
    """
    The node each target prefers: the node of its ``<resource>-primary`` location (IML's
    id), else the node of its single highest positive score; None when neither exists.

    CLI Example:

    .. code-block:: bash

        salt mds1 pacemaker.preferred_nodes
    """
    if isinstance(agents, str):
        agents = [agent.strip() for agent in agents.split(",") if agent.strip()]
    return _preferred(read_cib(cib_file), tuple(agents))
