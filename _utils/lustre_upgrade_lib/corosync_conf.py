"""
corosync.conf and corosync-cfgtool output as data, and what a new cluster keeps of an old
configuration.

``corosync.conf`` is read with a small tokenizer and a recursive parser of the brace
format (``name {`` … ``}`` blocks, ``key: value`` lines, ``#`` comment lines, any
whitespace), the way corosync's own parser reads it: a value runs to the end of its
line, and ``#`` starts a comment only as the first character on a line. All three
generations are understood:

- 1.x (EL6, IML's template): ``compatibility: whitetank``, ``totem.interface`` blocks
  with ``ringnumber``/``bindnetaddr``/``mcastaddr``/``mcastport``, no nodelist;
- 2.x (EL7, pcs 0.9): ``nodelist { node { ring0_addr … } }``, votequorum, with or
  without interface blocks (``rrp_mode``);
- 3.x (EL8+, pcs ≥0.10): ``transport: knet``, interface blocks keyed by ``linknumber``.

``pcs_dialects.setup_command`` turns ``parse_conf``'s data into the new cluster's setup.
"""

import dataclasses
import re

from salt.exceptions import CommandExecutionError

_KNET_TOTEM_KEYS = ("link_mode", "knet_compression_model", "crypto_model", "knet_pmtud_interval")
_RING_ADDR = re.compile(r"ring(\d+)_addr")


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: str  # "name", "value", "open", "close"
    text: str
    line: int


def _tokenize(text, source):
    """Yield the tokens of corosync.conf text: names, ``: value`` rests of line, braces."""
    pos = 0
    line = 1
    line_start = True  # nothing but blanks seen on this line so far
    end = len(text)
    while pos < end:
        char = text[pos]
        if char == "\n":
            line += 1
            line_start = True
            pos += 1
        elif char in " \t\r\f\v":
            pos += 1
        elif char == "#" and line_start:
            newline = text.find("\n", pos)
            pos = end if newline < 0 else newline
        elif char == "{":
            yield _Token("open", "{", line)
            line_start = False
            pos += 1
        elif char == "}":
            yield _Token("close", "}", line)
            line_start = False
            pos += 1
        elif char == ":":
            raise CommandExecutionError(
                f"{source} line {line}: ':' without a key before it; fix the file "
                "(corosync.conf lines are 'key: value', 'name {' or '}')"
            )
        else:
            start = pos
            while pos < end and text[pos] not in " \t\r\n\f\v:{}":
                pos += 1
            yield _Token("name", text[start:pos], line)
            line_start = False
            while pos < end and text[pos] in " \t\r\f\v":
                pos += 1
            if pos < end and text[pos] == ":":
                newline = text.find("\n", pos)
                stop = end if newline < 0 else newline
                yield _Token("value", text[pos + 1 : stop].strip(), line)
                pos = stop


def parse(text, source="corosync.conf"):
    """
    corosync.conf text as nested dicts: ``{key: value}`` for scalars (the last of a
    repeated key wins), ``{name: [block, …]}`` for blocks in file order. Malformed text
    raises CommandExecutionError naming ``source`` and the line.
    """
    tokens = list(_tokenize(text, source))
    root = {}
    stack = [(root, "top level", 0)]
    idx = 0
    while idx < len(tokens):
        tok = tokens[idx]
        current = stack[-1][0]
        if tok.kind == "close":
            if len(stack) == 1:
                raise CommandExecutionError(
                    f"{source} line {tok.line}: '}}' closes no block (unbalanced braces); "
                    "fix the file before using it"
                )
            stack.pop()
            idx += 1
        elif tok.kind == "open":
            raise CommandExecutionError(
                f"{source} line {tok.line}: '{{' without a block name before it"
            )
        elif tok.kind == "name":
            following = tokens[idx + 1] if idx + 1 < len(tokens) else None
            if following is not None and following.kind == "value":
                if isinstance(current.get(tok.text), list):
                    raise CommandExecutionError(
                        f"{source} line {tok.line}: '{tok.text}' is already a block "
                        f"in {stack[-1][1]}; it cannot also be a value"
                    )
                current[tok.text] = following.text
                idx += 2
            elif following is not None and following.kind == "open":
                existing = current.setdefault(tok.text, [])
                if not isinstance(existing, list):
                    raise CommandExecutionError(
                        f"{source} line {tok.line}: '{tok.text}' is already a value "
                        f"in {stack[-1][1]}; it cannot also be a block"
                    )
                block = {}
                existing.append(block)
                stack.append((block, f"block '{tok.text}' (line {tok.line})", tok.line))
                idx += 2
            else:
                raise CommandExecutionError(
                    f"{source} line {tok.line}: '{tok.text}' is followed by neither "
                    "':' nor '{'; corosync.conf lines are 'key: value', 'name {' or '}'"
                )
        else:  # a value token never comes first: the tokenizer emits it after a name
            raise CommandExecutionError(f"{source} line {tok.line}: unexpected value")
    if len(stack) > 1:
        _, where, _ = stack[-1]
        raise CommandExecutionError(
            f"{source}: {where} is never closed (unbalanced braces); fix the file before using it"
        )
    return root


def _scalars(block):
    return {key: value for key, value in block.items() if not isinstance(value, list)}


def _int_or_none(value, source, element):
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise CommandExecutionError(
            f"{source}: {element} is {value!r}, not a number; fix the file"
        ) from None


def _generation(conf, totem, interfaces_raw):
    """1.x, 2.x or 3.x, from what only that generation writes."""
    if totem.get("transport") == "knet" or any(key in totem for key in _KNET_TOTEM_KEYS):
        return "3.x"
    if any("linknumber" in iface for iface in interfaces_raw):
        return "3.x"
    quorum = _scalars(conf.get("quorum", [{}])[0]) if conf.get("quorum") else {}
    if conf.get("nodelist") or quorum.get("provider") == "corosync_votequorum":
        return "2.x"
    return "1.x"


def parse_conf(text, source="corosync.conf"):
    """
    What a new cluster's setup needs of corosync.conf text: ``totem`` (scalar keys),
    ``interfaces`` (one per ring, sorted; a knet ``linknumber`` read as ``ringnumber``),
    ``nodes`` (nodelist entries) and ``generation`` (``1.x``, ``2.x`` or ``3.x``).
    """
    conf = parse(text, source)
    totems = conf.get("totem")
    if not totems:
        raise CommandExecutionError(
            f"{source} has no totem block: it is not a corosync.conf (check the backup of "
            "/etc/corosync/corosync.conf)"
        )
    totem = {}
    interfaces_raw = []
    for block in totems:
        totem.update(_scalars(block))
        interfaces_raw.extend(block.get("interface", []))
    nodes = []
    for nodelist in conf.get("nodelist", []):
        nodes.extend(_scalars(node) for node in nodelist.get("node", []))
    if not interfaces_raw and not nodes:
        raise CommandExecutionError(
            f"{source} has neither a totem.interface block nor a nodelist: its rings cannot "
            "be known; use the corosync.conf backed up from the old cluster"
        )
    interfaces = []
    for index, raw in enumerate(interfaces_raw):
        ring_key = "linknumber" if "linknumber" in raw else "ringnumber"
        ring = _int_or_none(raw.get(ring_key), source, f"totem.interface[{index}].{ring_key}")
        interfaces.append(
            {
                "ringnumber": ring if ring is not None else 0,
                "bindnetaddr": raw.get("bindnetaddr"),
                "mcastaddr": raw.get("mcastaddr"),
                "mcastport": _int_or_none(
                    raw.get("mcastport"), source, f"totem.interface[{index}].mcastport"
                ),
            }
        )
    rings = [iface["ringnumber"] for iface in interfaces]
    if len(set(rings)) != len(rings):
        raise CommandExecutionError(
            f"{source}: two totem.interface blocks share a ring number ({sorted(rings)}); "
            "fix the file"
        )
    interfaces.sort(key=lambda iface: iface["ringnumber"])
    return {
        "totem": totem,
        "interfaces": interfaces,
        "nodes": nodes,
        "generation": _generation(conf, totem, interfaces_raw),
    }


def read_conf(path):
    """``parse_conf`` of a file; CommandExecutionError naming it when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise CommandExecutionError(f"{path} is not a text file: {exc}") from exc
    return parse_conf(text, source=path)


def link_count(conf):
    """Rings of an old config: its interface blocks and its nodes' ringN_addr, together."""
    rings = {iface["ringnumber"] for iface in conf["interfaces"]}
    for node in conf["nodes"]:
        for key in node:
            match = _RING_ADDR.fullmatch(key)
            if match:
                rings.add(int(match.group(1)))
    return max(rings) + 1 if rings else 1


def cluster_of(conf):
    """``(cluster name, [node names])`` of ``parse_conf`` data (names, else ring0 addresses)."""
    nodes = [n.get("name") or n.get("ring0_addr") for n in conf["nodes"]]
    return conf["totem"].get("cluster_name"), [n for n in nodes if n]


def membership_changes(conf, name, nodes, source):
    """
    What the cluster of ``conf`` (an existing corosync.conf's data) lacks to be cluster
    ``name`` with ``nodes``: ``{"auth": nodes, "added": [missing nodes]}``, or ``{}``.
    A conf of another cluster, or with nodes not in ``nodes``, is an error: a cluster is
    never replaced or shrunk.
    """
    cluster, have = cluster_of(conf)
    if cluster != name:
        raise CommandExecutionError(
            f"{source} belongs to cluster {cluster!r}, not {name!r}: this state does not "
            "replace a cluster. Destroy the other one by hand (pcs cluster destroy) if it is "
            "a leftover, then run again"
        )
    extra = sorted(set(have) - set(nodes))
    if extra:
        raise CommandExecutionError(
            f"cluster {name} has node(s) {', '.join(extra)} that are not in nodes: this "
            "state does not remove nodes (pcs cluster node remove)"
        )
    missing = [n for n in nodes if n not in have]
    return {"auth": list(nodes), "added": missing} if missing else {}


def parse_ring_status(text):
    """
    ``corosync-cfgtool -s`` text (2.x rings, 3.x knet links) as ``{"local_nodeid",
    "rings": [{"ring", "address", "status", "faulty"}]}``; a 3.x link's status lists each
    peer's state, and it is faulty unless every peer is ``localhost`` or ``connected``.
    """
    local_nodeid = None
    rings = []
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        words = line.split()
        if line.startswith("Local node ID"):
            local_nodeid = _int_or_none(words[3].rstrip(","), "corosync-cfgtool -s", "node ID")
        elif words[:2] in (["RING", "ID"], ["LINK", "ID"]) and len(words) >= 3:
            current = {"ring": int(words[2]), "address": None, "status": "", "faulty": False}
            rings.append(current)
        elif current is None:
            continue
        elif "=" in line:
            key, _, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if key in ("id", "addr"):
                current["address"] = value
            elif key == "status":
                current["status"] = value
                current["faulty"] = "no faults" not in value
        elif line.startswith("nodeid"):
            # "nodeid:   2:	connected" (corosync 3.x, one line per node)
            parts = [part.strip() for part in line.split(":")]
            if len(parts) >= 3:
                state = parts[2]
                entry = f"nodeid {parts[1]}: {state}"
                current["status"] = f"{current['status']}\n{entry}" if current["status"] else entry
                if state not in ("localhost", "connected"):
                    current["faulty"] = True
    return {"local_nodeid": local_nodeid, "rings": rings}
