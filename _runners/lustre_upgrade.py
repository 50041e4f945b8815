"""
Master-side checks and reports of the Lustre HA pair upgrade.

The orchestrations call these functions between their phases; they read the master's
pillar (``lustre_upgrade``) and ask the pair's minions with core functions only, since
nodes still on EL6 cannot run this extension's modules.
"""

import base64
import hashlib
import logging
import os
import tempfile

import salt.client
from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "lustre_upgrade"

OSD_FLAVOURS = ("ldiskfs", "zfs", "ldiskfs-zfs")
RESTORE_DIR = "/var/lib/lustre-upgrade/restore"
CHUNK_BYTES = 1 << 20
NODE_KEYS = ("minion", "old_name", "fqdn")


def __virtual__():
    return __virtualname__


def validate_pair(pair, config):
    """
    Return the findings (strings, each naming a pillar key) that make ``pair`` unusable.

    ``config`` is the ``lustre_upgrade`` pillar dictionary.
    """
    findings = []
    if not pair:
        return ["no pair given: run salt-run state.orch orch.upgrade_pair pillar='{pair: <name>}'"]
    if not isinstance(config, dict):
        return ["pillar key lustre_upgrade is missing: see pillar.example/lustre_upgrade/"]
    pairs = config.get("pairs")
    if not isinstance(pairs, dict) or pair not in pairs:
        known = ", ".join(sorted(pairs)) if isinstance(pairs, dict) else "none"
        return [f"pillar key lustre_upgrade:pairs:{pair} is missing (pairs defined: {known})"]
    prefix = f"lustre_upgrade:pairs:{pair}"
    nodes = pairs[pair].get("nodes") if isinstance(pairs[pair], dict) else None
    if not isinstance(nodes, list) or len(nodes) != 2:
        return [f"pillar key {prefix}:nodes must list exactly the pair's two nodes"]
    default_osd = pairs[pair].get("osd", config.get("osd"))
    for index, node in enumerate(nodes):
        where = f"{prefix}:nodes:{index}"
        if not isinstance(node, dict):
            findings.append(f"pillar key {where} must be a mapping with {', '.join(NODE_KEYS)}")
            continue
        findings += [
            f"pillar key {where}:{key} is missing" for key in NODE_KEYS if not node.get(key)
        ]
        fqdn = node.get("fqdn") or ""
        if fqdn and "." not in fqdn:
            findings.append(f"pillar key {where}:fqdn ({fqdn}) is not a fully qualified name")
        if (
            fqdn != fqdn.lower()
            or (node.get("old_name") or "") != (node.get("old_name") or "").lower()
        ):
            findings.append(f"pillar key {where}: node names must be lowercase for Pacemaker")
        osd = node.get("osd", default_osd)
        if osd not in OSD_FLAVOURS:
            findings.append(
                f"pillar key {where}:osd (or {prefix}:osd, lustre_upgrade:osd) is {osd!r}; "
                f"expected one of {', '.join(OSD_FLAVOURS)}"
            )
    for key in ("minion", "old_name", "fqdn"):
        values = [n.get(key) for n in nodes if isinstance(n, dict)]
        if len(values) == 2 and values[0] and values[0] == values[1]:
            findings.append(f"pillar key {prefix}:nodes: both nodes have {key} {values[0]!r}")
    return findings


def preflight(pair=None):
    """
    Phase 0 of ``orch.upgrade_pair``: check that the pair can be upgraded, change nothing.

    Returns a report ``{"pair", "nodes", "inhibitors", "ok"}``; any inhibitor makes the
    runner fail so the orchestration stops before its first change.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.preflight pair=oss1
    """
    config = _pillar().get("lustre_upgrade")
    inhibitors = validate_pair(pair, config)
    nodes = []
    if not inhibitors:
        nodes = [dict(node) for node in config["pairs"][pair]["nodes"]]
        inhibitors += _check_reachable(nodes)
    report = {"pair": pair, "nodes": nodes, "inhibitors": inhibitors, "ok": not inhibitors}
    if inhibitors:
        __context__["retcode"] = 1
    return report


def _pillar():
    return __salt__["pillar.show_pillar"]()


def _check_reachable(nodes):
    minions = [node["minion"] for node in nodes]
    client = salt.client.get_local_client(__opts__["conf_file"])
    grains = client.cmd(
        minions, "grains.item", ["os_family", "osmajorrelease", "fqdn"], tgt_type="list", timeout=30
    )
    findings = []
    for node in nodes:
        answer = grains.get(node["minion"])
        if not isinstance(answer, dict):
            findings.append(
                f"minion {node['minion']} did not answer: start its salt-minion and check "
                f"`salt-key -L` on the master"
            )
            continue
        node["os_family"] = answer.get("os_family")
        node["osmajorrelease"] = answer.get("osmajorrelease")
    return findings


# ---------------------------------------------------------------------------
# Backups on the master
# ---------------------------------------------------------------------------


def collect_backup(minion, path):
    """
    Take in a backup a node pushed (``node_backup.create`` or the EL6 script, both
    ``cp.push``): verify it on the master, make it root-only and file it under the node.

    A backup whose checksum does not match what the node computed, whose content does
    not verify, or that another minion pushed, fails: no destructive step may follow.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.collect_backup oss1-a /var/lib/lustre-upgrade/backups/bck-oss1-a-20260101-120000.tgz
    """
    pushed = os.path.join(__opts__["cachedir"], "minions", minion, "files", path.lstrip("/"))
    if not os.path.isfile(pushed) or not os.path.isfile(pushed + ".sha256"):
        raise CommandExecutionError(
            f"backup {path} of {minion} (and its .sha256) is not on the master at {pushed}: "
            "check file_recv: True in the master config and the push on the node"
        )
    _restrict(os.path.join(__opts__["cachedir"], "minions", minion, "files"))
    expected = _read_sidecar(pushed + ".sha256")
    actual = _sha256(pushed)
    if actual != expected:
        raise CommandExecutionError(
            f"backup {path} of {minion} arrived with sha256 {actual}, the node computed "
            f"{expected}: take a new backup"
        )
    info = __salt__["salt.cmd"]("node_backup.verify", pushed)
    if info["minion"] != minion:
        raise CommandExecutionError(
            f"backup {path} pushed by {minion} was taken on {info['minion']}: refused"
        )
    store = _backup_store(minion)
    kept = os.path.join(store, os.path.basename(pushed))
    os.replace(pushed, kept)
    os.replace(pushed + ".sha256", kept + ".sha256")
    for name in (kept, kept + ".sha256"):
        os.chmod(name, 0o600)
    return {
        "minion": minion,
        "path": kept,
        "sha256": actual,
        "size": os.path.getsize(kept),
        "kind": info["kind"],
        "created": info["created"],
        "absent": info.get("absent", []),
    }


def backups(minion):
    """
    The verified backups of ``minion`` on the master, oldest first.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.backups oss1-a
    """
    store = _backup_store(minion)
    return [
        os.path.join(store, name) for name in sorted(os.listdir(store)) if name.endswith(".tgz")
    ]


def deliver_backup(minion, backup=None, dest_dir=RESTORE_DIR):
    """
    Send ``minion`` its own newest verified backup (or ``backup``), sealed for the
    minion's current key, so only that node can open it. Returns the path on the node.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.deliver_backup oss1-a
    """
    available = backups(minion)
    if backup is None:
        if not available:
            raise CommandExecutionError(
                f"no verified backup of {minion} on the master: run phase 1 (backup) first"
            )
        backup = available[-1]
    elif backup not in available:
        raise CommandExecutionError(f"{backup} is not a verified backup of {minion}")
    if _sha256(backup) != _read_sidecar(backup + ".sha256"):
        raise CommandExecutionError(f"{backup} no longer matches its checksum: it is damaged")
    pubkey = os.path.join(__opts__["pki_dir"], "minions", minion)
    if not os.path.isfile(pubkey):
        raise CommandExecutionError(
            f"minion {minion} has no accepted key on the master: accept it with salt-key -a {minion}"
        )
    dest = os.path.join(dest_dir, os.path.basename(backup) + ".sealed")
    with tempfile.TemporaryDirectory(prefix="lustre-upgrade-seal.") as work:
        sealed = os.path.join(work, "sealed")
        __salt__["salt.cmd"]("node_backup.seal", backup, pubkey, sealed)
        digest = _sha256(sealed)
        _send_file(minion, sealed, dest)
    client = salt.client.get_local_client(__opts__["conf_file"])
    got = client.cmd(minion, "file.get_hash", [dest, "sha256"], timeout=60).get(minion)
    if got != digest:
        raise CommandExecutionError(
            f"delivering {os.path.basename(backup)} to {minion} failed (got {got!r}); run again"
        )
    return {"minion": minion, "path": dest, "sha256": digest}


def _send_file(minion, source, dest):
    # The same chunked protocol as salt-cp, to the one minion only; what travels and
    # what the job cache keeps is ciphertext.
    client = salt.client.get_local_client(__opts__["conf_file"])
    with open(source, "rb") as fh:
        index = 0
        while True:
            chunk = fh.read(CHUNK_BYTES)
            if not chunk and index:
                break
            args = [dest, base64.b64encode(chunk), index > 0, False, 0o100600]
            ret = client.cmd(minion, "cp.recv_chunked", args, timeout=60).get(minion)
            if ret is not True:
                raise CommandExecutionError(
                    f"sending {dest} to {minion} failed at chunk {index + 1}: {ret}"
                )
            index += 1
            if len(chunk) < CHUNK_BYTES:
                break


def _backup_store(minion):
    store = os.path.join(__opts__["cachedir"], "lustre_upgrade", "backups", minion)
    os.makedirs(store, mode=0o700, exist_ok=True)
    _restrict(os.path.join(__opts__["cachedir"], "lustre_upgrade"))
    return store


def _restrict(top):
    """Make ``top`` and every directory below it root-only, every file 0600."""
    for dirpath, _dirnames, filenames in os.walk(top):
        os.chmod(dirpath, 0o700)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o600)


def _read_sidecar(path):
    with open(path, encoding="ascii") as fh:
        return fh.read().split()[0].lower()


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
