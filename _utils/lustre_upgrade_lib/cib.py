"""
The CIB model: a CIB, a CIB section or crm_mon XML read into one data shape.

XML in → records out, pure: the functions take XML text, lxml elements, file paths or the
data they return, and run nothing. Records are the plain dicts ``pacemaker.read_cib``
documents (``{"properties", "rsc_defaults", "nodes", "resources", "stonith",
"locations", "placement"}``); values are the strings the XML holds, secrets masked
(``masking``) unless a function says otherwise.

The XML parser expands no entity and fetches nothing: CIB backups come from other
machines.
"""

import re

from lxml import etree
from salt.exceptions import CommandExecutionError, SaltInvocationError

from . import cli_args, masking

# IML's target resources, its fencing resource (runbook "Configure the HA Framework").
TARGET_AGENT = "ocf:chroma:Target"
STONITH_ID = "st-fencing"
STONITH_AGENT = "fence_chroma"
# Runbook "Configure the High Availability Framework": resource defaults.
RUNBOOK_RSC_DEFAULTS = (
    ("resource-stickiness", "1000"),
    ("failure-timeout", "20m"),
    ("migration-threshold", "3"),
)
# Location constraints left by crm_resource/pcs move, ban and standby, and by relocate:
# temporary, never a preference, never restored.
CLI_CONSTRAINT_PREFIXES = ("cli-ban-", "cli-prefer-", "cli-standby-")
RELOCATE_CONSTRAINT_PREFIX = "pcs-relocate-"
TEMPORARY_CONSTRAINT_PREFIXES = (*CLI_CONSTRAINT_PREFIXES, RELOCATE_CONSTRAINT_PREFIX)

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
_IGNORED_OPERATIONS = ("notify", "meta-data", "delete", "cancel")


# --------------------------------------------------------------------------- XML input


def xml_parser():
    """An lxml parser that expands no entity and reads nothing from the network."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, remove_blank_text=True, remove_comments=True
    )


def parse_xml(data, source):
    """The root element of XML text or bytes; CommandExecutionError naming ``source``."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        root = etree.fromstring(data, xml_parser())
    except etree.XMLSyntaxError as exc:
        raise CommandExecutionError(
            f"{source} is not XML ({exc}); give a file written by `cibadmin --query` "
            "or `crm_mon --output-as=xml`"
        ) from None
    if root is None:
        raise CommandExecutionError(f"{source} is empty; it holds no XML")
    return root


def load_xml_file(path):
    """The root element of an XML file (see ``parse_xml``)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_xml(data, path)


def to_bytes(root):
    """An element as the UTF-8 XML a CIB file holds."""
    return etree.tostring(root, pretty_print=True, encoding="utf-8")


def where(source, element):
    """``source line N`` for an element parsed from ``source``."""
    line = getattr(element, "sourceline", None)
    return f"{source} line {line}" if line else source


def required_id(element, source):
    ident = element.get("id")
    if not ident:
        raise CommandExecutionError(
            f"{where(source, element)}: <{element.tag}> has no id attribute; every "
            f"{element.tag} in a CIB needs one (the file is damaged or not a CIB)"
        )
    return ident


def set_values(attr_set, mask=True):
    """name -> value of one attribute set's nvpairs; the first value wins."""
    values = {}
    for nvpair in attr_set.iterchildren("nvpair"):
        name = nvpair.get("name")
        if name is not None and name not in values:
            value = nvpair.get("value")
            values[name] = masking.masked(name, value) if mask else value
    return values


def nvpairs(element, set_tag, mask=True):
    """name -> value over every ``set_tag`` child set of ``element``; the first value wins."""
    values = {}
    for attr_set in element.iterchildren(set_tag):
        for name, value in set_values(attr_set, mask).items():
            values.setdefault(name, value)
    return values


def _secret_change(change):
    """Whether a ``crm_diff`` ``<change>`` modifies an nvpair holding a secret."""
    if any(masking.is_secret(e.get("name")) for e in change.iter("nvpair")):
        return True
    ids = re.findall(r"@id=['\"]([^'\"]+)['\"]", change.get("path") or "")
    return bool(ids) and any(masking.is_secret(i) for i in (ids[-1], ids[-1].rsplit("-", 1)[-1]))


def _mask_tree(root):
    """Mask every secret value under ``root`` in place; returns how many were masked."""
    masked = [
        element
        for element in root.iter()
        if element.get("value") is not None and masking.is_secret(element.get("name"))
    ]
    for change in root.iter("change"):
        if _secret_change(change):
            masked += [
                attr
                for attr in change.iter("change-attr")
                if attr.get("name") == "value" and attr.get("value") is not None
            ]
    for element in masked:
        element.set("value", masking.MASK)
    return len(masked)


def _parse_kept(text, source):
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise CommandExecutionError(f"{source} is not XML ({exc})") from None


def masked_xml(text, source="<xml>"):
    """
    XML text (a CIB, a CIB section, a ``crm_diff`` patch) with every secret value masked:
    the ``value`` of each element named like a secret (an nvpair), and the values a
    patch's ``<change-attr>`` sets on such an nvpair. "" stays "".
    """
    if not text or not text.strip():
        return ""
    root = _parse_kept(text, source)
    if not _mask_tree(root):
        return text
    return etree.tostring(root, encoding="unicode") + ("\n" if text.endswith("\n") else "")


def holds_secret(text, source="<xml>"):
    """Whether XML text holds a secret value (one ``masked_xml`` masks)."""
    return bool(text and text.strip()) and _mask_tree(_parse_kept(text, source)) > 0


def file_holds_secret(path):
    """Whether an XML file (a CIB, a patch) holds a secret value; False if unreadable."""
    try:
        with open(path, "rb") as fh:
            return holds_secret(fh.read(), path)
    except (OSError, CommandExecutionError):
        return False


# --------------------------------------------------------------------------- records


def agent(element, templates=None):
    """(class, provider, type) of a primitive, following its template if it has one."""
    template = templates.get(element.get("template")) if templates else None

    def pick(attr):
        value = element.get(attr)
        if value is None and template is not None:
            value = template.get(attr)
        return value

    return pick("class"), pick("provider"), pick("type")


def agent_string(rsc_class, provider, rsc_type):
    """``class:provider:type`` (``stonith:fence_x`` without a provider)."""
    return ":".join(part for part in (rsc_class, provider, rsc_type) if part)


def agent_of(record):
    """The agent string of a resource record."""
    return agent_string(record["class"], record["provider"], record["type"])


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


def primitive_record(element, templates, source):
    ident = required_id(element, source)
    template = templates.get(element.get("template"))
    rsc_class, provider, rsc_type = agent(element, templates)
    attributes, meta = {}, {}
    if template is not None:
        attributes.update(nvpairs(template, "instance_attributes"))
        meta.update(nvpairs(template, "meta_attributes"))
    attributes.update(nvpairs(element, "instance_attributes"))
    meta.update(nvpairs(element, "meta_attributes"))
    return {
        "id": ident,
        "class": rsc_class,
        "provider": provider,
        "type": rsc_type,
        "attributes": attributes,
        "meta": meta,
        "operations": _operations(element, template),
    }


def _resource_record(ident, rsc_class, provider, rsc_type):
    return {
        "id": ident,
        "class": rsc_class,
        "provider": provider,
        "type": rsc_type,
        "attributes": {},
        "meta": {},
        "operations": [],
    }


def location_record(element, source):
    score = element.get("score")
    if score is None:
        rule = element.find("rule")
        if rule is not None:
            score = rule.get("score")
    return {
        "id": required_id(element, source),
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


# --------------------------------------------------------------------------- status


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


def _latest_operation(lrm_rsc):
    latest = None
    for op in lrm_rsc.iterchildren("lrm_rsc_op"):
        if op.get("operation") in _IGNORED_OPERATIONS:
            continue
        if op.get("op-status") in ("-1", "1"):  # pending or cancelled
            continue
        try:
            call_id = int(op.get("call-id", "-1"))
        except ValueError:
            continue
        if call_id >= 0 and (latest is None or call_id >= latest[0]):
            latest = (call_id, op)
    return None if latest is None else latest[1]


def status_placement(status, known_ids):
    """rsc -> set of nodes where its latest operation left it active (a CIB status)."""
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
            latest = _latest_operation(lrm_rsc)
            running = placement.setdefault(rsc, set())
            if latest is not None and _op_leaves_running(latest):
                running.add(node)
    return placement


# --------------------------------------------------------------------------- parsing


def _parse_cib_tree(root, source):
    result = _empty_result()
    templates = {}
    for template in root.iter("template"):
        templates[required_id(template, source)] = template
    for cps in root.iter("cluster_property_set"):
        for name, value in set_values(cps).items():
            result["properties"].setdefault(name, value)
    for defaults in root.iter("rsc_defaults"):
        for name, value in nvpairs(defaults, "meta_attributes").items():
            result["rsc_defaults"].setdefault(name, value)
    for nodes in root.iter("nodes"):
        for node in nodes.iterchildren("node"):
            result["nodes"].append(
                {
                    "id": required_id(node, source),
                    "uname": node.get("uname"),
                    "attributes": nvpairs(node, "instance_attributes"),
                }
            )
    for primitive in root.iter("primitive"):
        record = primitive_record(primitive, templates, source)
        if record["class"] == "stonith":
            result["stonith"].append(
                {"id": record["id"], "type": record["type"], "attributes": record["attributes"]}
            )
        else:
            result["resources"].append(record)
    for location in root.iter("rsc_location"):
        result["locations"].append(location_record(location, source))
    status = root.find("status") if root.tag == "cib" else None
    if status is not None:
        known = [rec["id"] for rec in result["resources"] + result["stonith"]]
        result["placement"] = status_placement(status, known)
    return result


def split_agent(text):
    """'ocf::lustre:Lustre' (crm_mon 1.1), 'ocf:pacemaker:Dummy' (2.x), 'stonith:fence_x'."""
    parts = [part for part in (text or "").split(":") if part]
    if not parts:
        return None, None, None
    if parts[0] == "ocf" and len(parts) >= 3:
        return "ocf", parts[1], ":".join(parts[2:])
    return parts[0], None, ":".join(parts[1:]) or None


def _check_crm_mon_result(root, source):
    if root.tag != "pacemaker-result":
        return
    status = root.find("status")
    if status is not None and status.get("code", "0") != "0":
        errors = "; ".join(err.text or "" for err in status.iter("error"))
        raise CommandExecutionError(
            f"{source}: crm_mon reported {status.get('message')} "
            f"(code {status.get('code')}){': ' + errors if errors else ''}"
        )


def _crm_mon_bans(root, source):
    bans = root.find("bans")
    records = []
    for ban in bans.iterchildren("ban") if bans is not None else ():
        promoted = "true" in (ban.get("promoted-only"), ban.get("master_only"))
        records.append(
            {
                "id": required_id(ban, source),
                "rsc": ban.get("resource"),
                "node": ban.get("node"),
                "score": ban.get("weight"),
                "role": "Promoted" if promoted else None,
            }
        )
    return records


def _parse_crm_mon_tree(root, source):
    _check_crm_mon_result(root, source)
    result = _empty_result()
    attributes = {}
    node_attrs = root.find("node_attributes")
    if node_attrs is not None:
        for node in node_attrs.iterchildren("node"):
            attributes[node.get("name")] = {
                attr.get("name"): masking.masked(attr.get("name"), attr.get("value"))
                for attr in node.iterchildren("attribute")
            }
    seen = {}
    placement = {}

    def note_resource(element, node_name=None):
        ident = required_id(element, source)
        seen.setdefault(ident, split_agent(element.get("resource_agent")))
        running = placement.setdefault(ident, set())
        for node in element.iterchildren("node"):
            running.add(node.get("name"))
        if node_name is not None and element.get("role") not in ("Stopped", None):
            running.add(node_name)

    nodes = root.find("nodes")
    for node in nodes.iterchildren("node") if nodes is not None else ():
        name = node.get("name")
        result["nodes"].append(
            {"id": node.get("id") or name, "uname": name, "attributes": attributes.get(name, {})}
        )
        # crm_mon --group-by-node lists each node's active resources under it.
        for rsc in node.iter("resource"):
            note_resource(rsc, node_name=name)
    resources = root.find("resources")
    for rsc in resources.iter("resource") if resources is not None else ():
        note_resource(rsc)
    for ident, (rsc_class, provider, rsc_type) in seen.items():
        if rsc_class == "stonith":
            result["stonith"].append({"id": ident, "type": rsc_type, "attributes": {}})
        else:
            result["resources"].append(_resource_record(ident, rsc_class, provider, rsc_type))
    result["locations"] = _crm_mon_bans(root, source)
    result["placement"] = placement
    return result


def parse_root(root, source):
    """``read_cib`` data of a parsed CIB, CIB section or crm_mon root element."""
    if root.tag == "cib" or root.tag in _CIB_SECTIONS:
        return _sorted_result(_parse_cib_tree(root, source))
    if root.tag in _MON_ROOTS:
        return _sorted_result(_parse_crm_mon_tree(root, source))
    raise CommandExecutionError(
        f"{source}: root element <{root.tag}> is neither a CIB (<cib>, or a section such as "
        "<resources>) nor crm_mon XML (<crm_mon>, <pacemaker-result>); give the output of "
        "`cibadmin --query` or `crm_mon --output-as=xml`"
    )


def parse_cib(xml, source="<xml>"):
    """``read_cib`` data of CIB or crm_mon XML text."""
    return parse_root(parse_xml(xml, source), source)


def read_cib_file(path):
    """``read_cib`` data of a CIB or crm_mon XML file."""
    return parse_root(load_xml_file(path), path)


def membership(root):
    """``{"dc", "online", "offline"}`` of a crm_mon XML root element."""
    nodes = root.xpath("./nodes/node")
    dc = root.xpath(".//current_dc")
    return {
        "dc": bool(dc) and dc[0].get("present") == "true",
        "online": sorted(n.get("name") for n in nodes if n.get("online") == "true"),
        "offline": sorted(n.get("name") for n in nodes if n.get("online") != "true"),
    }


# --------------------------------------------------------------------------- nodes


def node_attributes(nodes_root):
    """uname -> {name: real value} of a nodes section (secrets included: never return)."""
    return {
        node.get("uname"): nvpairs(node, "instance_attributes", mask=False)
        for node in nodes_root.iter("node")
    }


def node_attributes_update(nodes_root, uname, items):
    """
    The ``<node>`` XML (text) that sets ``items`` (``[(name, value)]``) on node ``uname``
    of a nodes section, for ``cibadmin --modify``: an attribute that exists keeps its id
    and block.
    """
    found = nodes_root.xpath(".//node[@uname=$u]", u=uname)
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


def node_record(cib, name):
    """The node record named ``name`` of ``read_cib`` data; CommandExecutionError if none."""
    for node in cib["nodes"]:
        if node["uname"] == name:
            return node
    known = ", ".join(sorted(n["uname"] or n["id"] for n in cib["nodes"])) or "none"
    raise CommandExecutionError(
        f"node {name} is not in the CIB's nodes section (nodes: {known}); use the node's "
        "name in the new cluster (its FQDN) or start the cluster on it first"
    )


def in_standby(node):
    """Whether a node record carries a true ``standby`` attribute."""
    return cli_args.is_true(node["attributes"].get("standby"))


# --------------------------------------------------------------------------- resources


def is_stopped(record):
    """Whether a resource record's meta says ``target-role=Stopped`` (either spelling)."""
    meta = record.get("meta") or {}
    role = meta.get("target-role", meta.get("target_role", "Started"))
    return str(role).strip().lower() == "stopped"


def resource_ids(cib, agents=(TARGET_AGENT,)):
    """Sorted ids of the resources of ``agents`` in ``read_cib`` data."""
    return sorted(r["id"] for r in cib["resources"] if agent_of(r) in agents)


def value_changes(old, new, names):
    """``{name: {"old", "new"}}`` of ``names`` whose value differs, secrets masked."""
    return {
        name: {
            "old": masking.masked(name, old.get(name)),
            "new": masking.masked(name, new.get(name)),
        }
        for name in sorted(names)
        if old.get(name) != new.get(name)
    }


# --------------------------------------------------------------------------- placement


def score(text):
    """A location score as a number (``±INFINITY`` as ±inf), None when it is not one."""
    value = (text or "").strip().upper()
    if value in ("INFINITY", "+INFINITY"):
        return float("inf")
    if value == "-INFINITY":
        return float("-inf")
    try:
        return int(value)
    except ValueError:
        return None


def is_temporary(location):
    """Whether a location record was left by a move, ban, standby or relocation."""
    return location["id"].startswith(TEMPORARY_CONSTRAINT_PREFIXES)


def preferred(cib, agents=(TARGET_AGENT,)):
    """
    rsc -> node each resource of ``agents`` prefers: the node of its
    ``<resource>-primary`` location (IML's id), else the node of its single highest
    positive score, else None. Temporary constraints are no preference.
    """
    by_rsc = {}
    for loc in cib["locations"]:
        if loc["node"] and loc["rsc"] and not is_temporary(loc):
            by_rsc.setdefault(loc["rsc"], []).append(loc)
    result = {}
    for rsc in cib["resources"]:
        if agent_of(rsc) not in agents:
            continue
        locs = by_rsc.get(rsc["id"], [])
        primary = [loc for loc in locs if loc["id"] == f"{rsc['id']}-primary"]
        if primary:
            result[rsc["id"]] = primary[0]["node"]
            continue
        scored = [(score(loc["score"]), loc["node"]) for loc in locs]
        scored = [pair for pair in scored if pair[0] is not None and pair[0] > 0]
        best = max(scored, default=None, key=lambda pair: pair[0])
        tied = [node for value, node in scored if best and value == best[0]]
        result[rsc["id"]] = best[1] if best and len(tied) == 1 else None
    return result


def wanted_placement(expected):
    """``{rsc: node | [node…] | None}`` -> ``{rsc: sorted nodes}`` (None: stopped)."""
    if not isinstance(expected, dict):
        raise SaltInvocationError(
            f"expected placement {expected!r} is not a mapping: give {{resource: node}}"
        )
    return {rsc: sorted(cli_args.as_list(nodes)) for rsc, nodes in expected.items()}


def preferred_placement(preferred_nodes):
    """``preferred`` data -> ``{rsc: [node]}``; an error when a target has no preferred node."""
    if not preferred_nodes:
        raise CommandExecutionError(
            f"the live CIB holds no {TARGET_AGENT} resource: restore them first "
            "(pacemaker.cib_restored)"
        )
    unknown = sorted(rsc for rsc, node in preferred_nodes.items() if node is None)
    if unknown:
        raise CommandExecutionError(
            f"no preferred node for {', '.join(unknown)}: neither a <resource>-primary "
            "location nor a single highest score; give `expected` in the state"
        )
    return {rsc: [node] for rsc, node in preferred_nodes.items()}


def misplaced(want, placement):
    """``{rsc: {"old": nodes now, "new": nodes wanted}}`` of what runs elsewhere."""
    return {
        rsc: {"old": sorted(placement.get(rsc, [])), "new": nodes}
        for rsc, nodes in want.items()
        if sorted(placement.get(rsc, [])) != nodes
    }


def misplaced_text(off):
    """``rsc on NODE (now OTHER)`` of ``misplaced``'s answer, for a message."""
    return "; ".join(
        f"{rsc} on {', '.join(v['new']) or 'no node'} (now {', '.join(v['old']) or 'stopped'})"
        for rsc, v in off.items()
    )
