"""
Corosync configuration files and ring status, as data.

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
"""

import dataclasses
import os

from salt.exceptions import CommandExecutionError

__virtualname__ = "corosync"

DEFAULT_CONF = "/etc/corosync/corosync.conf"

_KNET_TOTEM_KEYS = ("link_mode", "knet_compression_model", "crypto_model", "knet_pmtud_interval")


def __virtual__():
    return __virtualname__


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
    Parse corosync.conf text into nested dicts.

    Scalar keys map to their string value (a repeated key keeps the last value, as
    corosync does); block names map to a list of dicts, one per block, in file order.
    Unbalanced braces, a key with neither ``:`` nor ``{``, or a key used both as a
    value and as a block raise CommandExecutionError naming ``source`` and the line.

    CLI Example:

    .. code-block:: bash

        salt '*' corosync.parse "totem { version: 2 }"
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
    Return the parts of a corosync.conf that a new cluster's setup needs.

    ``{"totem": {key: value}, "interfaces": [{"ringnumber", "bindnetaddr", "mcastaddr",
    "mcastport"}], "nodes": [{key: value}], "generation": "1.x"|"2.x"|"3.x"}``.
    ``totem`` holds its scalar keys as strings; ``interfaces`` are sorted by ring (a knet
    ``linknumber`` is reported as ``ringnumber``; absent values are None, ring and port
    are ints); ``nodes`` are the nodelist entries in file order (strings as written).

    CLI Example:

    .. code-block:: bash

        salt '*' corosync.parse_conf "$(cat /etc/corosync/corosync.conf)"
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


def read_conf(path=DEFAULT_CONF):
    """
    Read a corosync.conf of any generation (see ``parse_conf`` for the returned shape).

    CLI Example:

    .. code-block:: bash

        salt '*' corosync.read_conf
        salt '*' corosync.read_conf /root/bck-mds1-20170418/etc/corosync/corosync.conf
    """
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise CommandExecutionError(f"{path} is not a text file: {exc}") from exc
    return parse_conf(text, source=path)


def parse_ring_status(text):
    """
    Parse ``corosync-cfgtool -s`` output (2.x rings and 3.x knet links).

    Returns ``{"local_nodeid": int|None, "rings": [{"ring", "address", "status",
    "faulty"}]}``. For 3.x the status is the per-node link state joined as
    ``"nodeid N: state"`` lines; a ring is faulty when 2.x does not say "no faults" or a
    3.x peer is neither ``localhost`` nor ``connected``.

    CLI Example:

    .. code-block:: bash

        salt '*' corosync.parse_ring_status "$(corosync-cfgtool -s)"
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


def ring_status():
    """
    Return the ring (link) status of the local corosync (``corosync-cfgtool -s``).

    CLI Example:

    .. code-block:: bash

        salt '*' corosync.ring_status
    """
    res = __salt__["cmd.run_all"](
        ["corosync-cfgtool", "-s"], python_shell=False, ignore_retcode=True
    )
    if res["retcode"] != 0 and not res["stdout"].strip():
        raise CommandExecutionError(
            f"corosync-cfgtool -s failed: {res['stderr'].strip()}; is corosync running?"
        )
    return parse_ring_status(res["stdout"])


def exists(path=DEFAULT_CONF):
    """
    Whether a corosync.conf exists at ``path``.

    CLI Example:

    .. code-block:: bash

        salt '*' corosync.exists
    """
    return os.path.isfile(path)
