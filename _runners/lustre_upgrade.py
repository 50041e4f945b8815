"""
Master-side checks and reports of the Lustre HA pair upgrade.

The orchestrations call these functions between their phases; they read the master's
pillar (``lustre_upgrade``) and ask the pair's minions with core functions only, since
nodes still on EL6 cannot run this extension's modules.
"""

import base64
import functools
import logging
import os
import tempfile

import salt.client
from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    import cryptography  # noqa: F401  (backup_format verifies and seals with it)

    import lustre_upgrade_lib
    from lustre_upgrade_lib import backup_format, fileio, pair_pillar
except ImportError as exc:
    if (exc.name or "").startswith("cryptography"):
        _MISSING = f"{exc}: install python3-cryptography on the master (pip install cryptography)"
    else:
        _MISSING = (
            f"{exc}: sync _utils/ with salt-run saltutil.sync_all, or pip install the extension"
        )
else:
    _MISSING = None

log = logging.getLogger(__name__)

__virtualname__ = "lustre_upgrade"

RESTORE_DIR = "/var/lib/lustre-upgrade/restore"
BACKUP_DIR = "/var/lib/lustre-upgrade/backups"
EL6_BACKUP_SCRIPT = "salt://lustre/files/node-backup.sh"
CHUNK_BYTES = 1 << 20


def __virtual__():
    if _MISSING:
        return (False, f"lustre_upgrade needs the library lustre_upgrade_lib: {_MISSING}")
    lustre_upgrade_lib.reload_changed()
    return __virtualname__


def _reports_failure(func):
    """Turn a CommandExecutionError or SaltInvocationError into a failed run with the
    message alone.

    salt-run prints a traceback for an exception; the admin needs the sentence that says
    what went wrong and what to do, and the orchestration needs a non-zero retcode.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (CommandExecutionError, SaltInvocationError) as exc:
            # __context__ fails an orchestration step; "retcode" sets salt-run's exit code.
            __context__["retcode"] = 1
            return {"result": False, "error": str(exc), "retcode": 1}

    return wrapper


def validate_pair(pair, config):
    """
    Return the findings (strings, each naming a pillar key) that make ``pair`` unusable.

    ``config`` is the ``lustre_upgrade`` pillar dictionary; the checks are the library's
    (``lustre_upgrade_lib.pair_pillar``).

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.validate_pair oss1 '{pairs: {oss1: {nodes: []}}}'
    """
    return pair_pillar.validate_pair(pair, config)


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
    inhibitors = pair_pillar.validate_pair(pair, config, source=_pillar_source())
    nodes = []
    if not inhibitors:
        nodes = [dict(node) for node in config["pairs"][pair]["nodes"]]
        inhibitors += _check_node_pillars(pair, config, nodes)
        inhibitors += _check_reachable(nodes)
    report = {"pair": pair, "nodes": nodes, "inhibitors": inhibitors, "ok": not inhibitors}
    if inhibitors:
        __context__["retcode"] = report["retcode"] = 1
    return report


def _pillar(minion="*"):
    """The pillar as ``minion`` gets it (default: what every minion gets, ``'*'``)."""
    return __salt__["pillar.show_pillar"](minion)


def _check_node_pillars(pair, config, nodes):
    """Each node must see the pair as the master read it: its states use its own view."""
    findings = []
    for node in nodes:
        view = (_pillar(node["minion"]).get("lustre_upgrade") or {}).get("pairs") or {}
        if view.get(pair) != config["pairs"][pair]:
            findings.append(
                f"minion {node['minion']} gets another lustre_upgrade:pairs:{pair} from the "
                "pillar than every minion does: give it lustre_upgrade (top.sls) unchanged"
            )
    return findings


def _pillar_source():
    """The pillar file that defines ``lustre_upgrade``, where the master's pillar_roots
    hold it, for findings that name the file to edit."""
    for root in (__opts__.get("pillar_roots") or {}).get("base", []):
        for candidate in ("lustre_upgrade/init.sls", "lustre_upgrade.sls"):
            path = os.path.join(root, candidate)
            if os.path.isfile(path):
                return path
    return None


def _cmd(tgt, fun, arg=(), timeout=60, **kwargs):
    """One job on minions, through a LocalClient closed when it is done (an open one
    leaves its event bus connection behind and Salt warns about it at exit)."""
    with salt.client.get_local_client(__opts__["conf_file"]) as client:
        return client.cmd(tgt, fun, list(arg), timeout=timeout, **kwargs)


def _check_reachable(nodes):
    minions = [node["minion"] for node in nodes]
    grains = _cmd(
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


@_reports_failure
def backup_node(minion, kind="server", method=None, root=None, cib_file=None, timeout=600):
    """
    Phase 1 for one node: take its backup, bring it to the master, verify it there.

    EL7 nodes with this extension run ``node_backup.create``; EL6 nodes (or
    ``method=script``) run the shipped POSIX script with core functions only
    (``cmd.script`` + ``cp.push``). Returns what ``collect_backup`` returns.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.backup_node oss1-a
    """
    if method is None:
        found = _cmd(minion, "sys.list_functions", ["node_backup.create"], timeout=30)
        if minion not in found:
            raise CommandExecutionError(
                f"minion {minion} did not answer: is its salt-minion running?"
            )
        method = "module" if found[minion] else "script"
    if method == "module":
        kwargs = {"kind": kind, "dest": BACKUP_DIR}
        kwargs.update({k: v for k, v in (("root", root), ("cib_file", cib_file)) if v})
        ret = _cmd(minion, "node_backup.create", kwarg=kwargs, timeout=timeout, full_return=True)
        answer = ret.get(minion, {})
        if answer.get("retcode", 1) != 0 or not isinstance(answer.get("ret"), dict):
            raise CommandExecutionError(f"backup on {minion} failed: {answer.get('ret')}")
        path = answer["ret"]["path"]
    elif method == "script":
        path = _backup_with_script(minion, kind, root, cib_file, timeout)
    else:
        raise SaltInvocationError(f"unknown backup method {method!r}: use module or script")
    return collect_backup(minion, path)


def _backup_with_script(minion, kind, root, cib_file, timeout):
    env = {k: v for k, v in (("NODE_BACKUP_ROOT", root), ("CIB_file", cib_file)) if v}
    ret = _cmd(
        minion,
        "cmd.script",
        [EL6_BACKUP_SCRIPT],
        kwarg={"args": f"{kind} {BACKUP_DIR} {minion}", "env": env, "python_shell": False},
        timeout=timeout,
    ).get(minion)
    if not isinstance(ret, dict) or ret.get("retcode") != 0:
        detail = ret.get("stderr", "").strip() if isinstance(ret, dict) else ret
        raise CommandExecutionError(f"backup script on {minion} failed: {detail}")
    path = ret["stdout"].strip().splitlines()[-1]
    for name in (path, path + backup_format.SIDECAR_SUFFIX):
        pushed = _cmd(minion, "cp.push", [name], timeout=timeout).get(minion)
        if pushed is not True:
            raise CommandExecutionError(
                f"cp.push {name} from {minion} failed: check file_recv: True on the master"
            )
    return path


@_reports_failure
def collect_backup(minion, path):
    """
    Take in a backup a node pushed (``node_backup.create`` or the EL6 script, both
    ``cp.push``): verify it on the master, make it root-only and file it under the node.

    A backup whose checksum does not match what the node computed, whose content does
    not verify, or that another minion pushed, fails: no destructive step may follow.
    Once the master holds the verified copy, the node's plaintext copy is removed (or
    kept root-only with pillar ``lustre_upgrade:backup:keep_on_node``); ``on_node``
    says which.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.collect_backup oss1-a /var/lib/lustre-upgrade/backups/bck-oss1-a-20260101-120000.tgz
    """
    pushed = os.path.join(__opts__["cachedir"], "minions", minion, "files", path.lstrip("/"))
    sidecar = pushed + backup_format.SIDECAR_SUFFIX
    if not os.path.isfile(pushed) or not os.path.isfile(sidecar):
        raise CommandExecutionError(
            f"backup {path} of {minion} (and its .sha256) is not on the master at {pushed}: "
            "check file_recv: True in the master config and the push on the node"
        )
    _restrict(os.path.join(__opts__["cachedir"], "minions", minion, "files"))
    expected = backup_format.read_sidecar(sidecar)
    actual = fileio.sha256_file(pushed)
    if actual != expected:
        raise CommandExecutionError(
            f"backup {path} of {minion} arrived with sha256 {actual}, the node computed "
            f"{expected}: take a new backup"
        )
    info = backup_format.verify(pushed)
    if info["minion"] != minion:
        raise CommandExecutionError(
            f"backup {path} pushed by {minion} was taken on {info['minion']}: refused"
        )
    store = _backup_store(minion)
    kept = os.path.join(store, os.path.basename(pushed))
    os.replace(pushed, kept)
    os.replace(sidecar, kept + backup_format.SIDECAR_SUFFIX)
    for name in (kept, kept + backup_format.SIDECAR_SUFFIX):
        os.chmod(name, 0o600)
    return {
        "minion": minion,
        "path": kept,
        "sha256": actual,
        "size": os.path.getsize(kept),
        "kind": info["kind"],
        "created": info["created"],
        "absent": info.get("absent", []),
        "on_node": _plaintext_on_node(minion, path, actual),
    }


def _keep_on_node(minion):
    config = _pillar(minion).get("lustre_upgrade") or {}
    return bool((config.get("backup") or {}).get("keep_on_node", False))


def _plaintext_on_node(minion, path, digest):
    """Remove (or make root-only) the node's plaintext copy the master now holds verified.

    An EL7 node with this extension prunes it itself; an EL6 node, with core functions
    only, and only while the file is still the one the master verified.
    """
    found = _cmd(minion, "sys.list_functions", ["node_backup.prune"], timeout=30).get(minion)
    if found:
        ret = _cmd(minion, "node_backup.prune", [digest], kwarg={"path": path}, timeout=60)
        return ret.get(minion)
    keep = _keep_on_node(minion)
    outcome = {"keep_on_node": keep, "removed": [], "kept": [], "other": []}
    if _cmd(minion, "file.get_hash", [path, "sha256"], timeout=60).get(minion) != digest:
        outcome["other"].append(path)
        return outcome
    for name in (path, path + backup_format.SIDECAR_SUFFIX):
        if keep:
            _cmd(minion, "file.set_mode", [name, "0600"], timeout=60)
            outcome["kept"].append(name)
        elif _cmd(minion, "file.remove", [name], timeout=60).get(minion) is True:
            outcome["removed"].append(name)
    return outcome


@_reports_failure
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


@_reports_failure
def deliver_backup(minion, backup=None, dest_dir=RESTORE_DIR):
    """
    Send ``minion`` its own newest verified backup (or ``backup``), sealed for the
    minion's current key, so only that node can open it. Returns ``{"minion", "path",
    "sha256", "archive_sha256"}``: where the sealed copy is on the node, its checksum and
    the archive's, both of which ``node_backup.restore`` checks before it opens it.

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
    if fileio.sha256_file(backup) != backup_format.read_sidecar(
        backup + backup_format.SIDECAR_SUFFIX
    ):
        raise CommandExecutionError(f"{backup} no longer matches its checksum: it is damaged")
    pubkey = os.path.join(__opts__["pki_dir"], "minions", minion)
    if not os.path.isfile(pubkey):
        raise CommandExecutionError(
            f"minion {minion} has no accepted key on the master: accept it with salt-key -a {minion}"
        )
    dest = os.path.join(dest_dir, os.path.basename(backup) + ".sealed")
    with tempfile.TemporaryDirectory(prefix="lustre-upgrade-seal.") as work:
        sealed = os.path.join(work, "sealed")
        sealed_info = backup_format.seal(backup, pubkey, sealed)
        digest = sealed_info["sha256"]
        _send_file(minion, sealed, dest)
    got = _cmd(minion, "file.get_hash", [dest, "sha256"], timeout=60).get(minion)
    if got != digest:
        raise CommandExecutionError(
            f"delivering {os.path.basename(backup)} to {minion} failed (got {got!r}); run again"
        )
    # node_backup.restore takes both: the sealed file's and the archive's own checksum.
    return {
        "minion": minion,
        "path": dest,
        "sha256": digest,
        "archive_sha256": sealed_info["archive_sha256"],
    }


def _send_file(minion, source, dest):
    # The same chunked protocol as salt-cp, to the one minion only; what travels and
    # what the job cache keeps is ciphertext.
    with salt.client.get_local_client(__opts__["conf_file"]) as client, open(source, "rb") as fh:
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
