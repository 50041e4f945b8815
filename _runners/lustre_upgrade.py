"""
Master-side checks and reports of the Lustre HA pair upgrade.

The orchestrations call these functions between their phases; they read the master's
pillar (``lustre_upgrade``) and ask the pair's minions with core functions only, since
nodes still on EL6 cannot run this extension's modules.
"""

import base64
import functools
import json
import logging
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

import salt.client
import salt.wheel
from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    import cryptography  # noqa: F401  (backup_format verifies and seals with it)

    import lustre_upgrade_lib
    from lustre_upgrade_lib import (
        backup_format,
        fileio,
        pair_pillar,
        pair_preflight,
        pair_upgrade,
        rebuild_handoff,
        upgrade_ledger,
        upgrade_plan,
        upgrade_report,
    )
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


def preflight(pair=None):
    """
    Phase 0 of ``orch.upgrade_pair`` alone: check that the pair can be upgraded, change
    nothing. The pillar, both minions, the old cluster's health, targets and constraints,
    the master's disk space and the repositories, each finding with what clears it.

    Returns ``{"pair", "nodes", "inhibitors", "ok"}``; any inhibitor makes the runner fail.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.preflight pair=oss1
    """
    config = _pillar().get("lustre_upgrade")
    inhibitors = pair_pillar.validate_pair(pair, config, source=_pillar_source())
    nodes = []
    if not inhibitors:
        nodes = [dict(node) for node in config["pairs"][pair]["nodes"]]
        run = pair_upgrade.PairRun(pair, config, _Site(), *_ledger_paths(pair), "preflight")
        try:
            inhibitors = run.preflight_findings()
        except (CommandExecutionError, SaltInvocationError) as exc:
            inhibitors = [str(exc)]
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
    names = ["os_family", "osmajorrelease", "fqdn"]
    # A stopped minion is named after gather_job_timeout, not after Salt's default ~15 s.
    grains = _cmd(minions, "grains.item", names, tgt_type="list", timeout=15, gather_job_timeout=5)
    return pair_preflight.reachability_findings(nodes, grains)


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


# ---------------------------------------------------------------------------
# The pair's upgrade run: phases, ledger, status, report, the rebuild hand-off
# ---------------------------------------------------------------------------


def _upgrade_dir():
    path = os.path.join(__opts__["cachedir"], "lustre_upgrade", "runs")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _ledger_paths(pair):
    if not isinstance(pair, str) or not pair or "/" in pair or pair.startswith("."):
        raise SaltInvocationError(f"pair {pair!r} is not a pair name of the pillar")
    base = os.path.join(_upgrade_dir(), pair)
    return base + ".json", base + ".lock"


# A minion that is down (rebooting) is known not connected at once, yet Salt's default
# gather_job_timeout holds each question to it ~15 s: every poll of a reboot wait would.
PROBE = {"timeout": 5, "gather_job_timeout": 2}


class _Site:
    """What the library's phases use to reach the master and the pair's minions."""

    def run_argv(self, minion, argv, timeout=60, **probe):
        kwarg = {"python_shell": False}
        ret = _cmd(minion, "cmd.run_all", [list(argv)], kwarg=kwarg, timeout=timeout, **probe)
        ret = ret.get(minion)
        if not isinstance(ret, dict):
            raise CommandExecutionError(f"minion {minion} did not answer `{' '.join(argv)}`")
        return ret

    def probe_argv(self, minion, argv):
        """``run_argv`` of a quick command to a minion that may be down: fails fast."""
        return self.run_argv(minion, argv, **PROBE)

    def call(self, minion, fun, *args, salt_timeout=300, **kwargs):
        ret = _cmd(minion, fun, args, kwarg=kwargs, timeout=salt_timeout, full_return=True)
        answer = ret.get(minion)
        if not isinstance(answer, dict):
            raise CommandExecutionError(f"minion {minion} did not answer {fun}")
        if answer.get("retcode", 0) != 0:
            raise CommandExecutionError(f"{fun} on {minion} failed: {answer.get('ret')}")
        return answer.get("ret")

    def state(self, minion, fun, **kwargs):
        results = self.call(minion, "state.single", fun, salt_timeout=1800, queue=True, **kwargs)
        (ret,) = results.values() if isinstance(results, dict) and len(results) == 1 else (None,)
        if not isinstance(ret, dict) or ret.get("result") is not True:
            comment = ret.get("comment") if isinstance(ret, dict) else results
            raise CommandExecutionError(f"state {fun} on {minion} failed: {comment}")
        return ret

    def state_test(self, minion, fun, **kwargs):
        """The state's prediction (``test=True``); nothing changes."""
        results = self.call(minion, "state.single", fun, test=True, salt_timeout=600, **kwargs)
        (ret,) = results.values() if isinstance(results, dict) and len(results) == 1 else ({},)
        return ret if isinstance(ret, dict) else {"comment": str(results)}

    def apply(self, minion, mods, run, timeout):
        # queue: a state run a killed orchestration left behind finishes first.
        kwargs = {"pillar": {"lustre_upgrade_run": run}, "queue": True}
        fun, args = ("state.highstate", ()) if mods is None else ("state.apply", (mods,))
        ret = _cmd(minion, fun, args, kwarg=kwargs, timeout=timeout, full_return=True)
        answer = ret.get(minion)
        if not isinstance(answer, dict):
            raise CommandExecutionError(f"minion {minion} did not answer {fun} {mods or ''}")
        return answer.get("ret")

    def ping(self, minion):
        return _cmd(minion, "test.ping", **PROBE).get(minion) is True

    def grains(self, minion, names):
        return _cmd(minion, "grains.item", list(names), timeout=30).get(minion)

    def fire(self, tag, data):
        import salt.utils.event  # noqa: PLC0415

        with salt.utils.event.get_master_event(__opts__, __opts__["sock_dir"], listen=False) as bus:
            bus.fire_event(dict(data), tag)

    def cwd(self):
        return os.getcwd()

    def sleep(self, seconds):
        time.sleep(seconds)

    def preflight_base(self, pair):
        config = _pillar().get("lustre_upgrade")
        found = pair_pillar.validate_pair(pair, config, source=_pillar_source())
        if not found:
            nodes = [dict(node) for node in config["pairs"][pair]["nodes"]]
            found += _check_node_pillars(pair, config, nodes)
            found += _check_reachable(nodes)
        return found

    def backup_root(self):
        return os.path.join(__opts__["cachedir"], "lustre_upgrade")

    def free_bytes(self):
        stat = os.statvfs(__opts__["cachedir"])
        return stat.f_bavail * stat.f_frsize

    def unreachable_repos(self, minions):
        config = _pillar().get("lustre_upgrade") or {}
        found = []
        for name, entry in sorted((config.get("repos") or {}).items()):
            url = entry.get("baseurl") if isinstance(entry, dict) else entry
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                continue
            argv = [
                "curl",
                "-sSf",
                "-o",
                "/dev/null",
                "--max-time",
                "15",
                url.rstrip("/") + "/repodata/repomd.xml",
            ]
            for minion in minions:
                ret = self.run_argv(minion, argv, timeout=30)
                if ret.get("retcode") != 0:
                    found.append(
                        f"repository {name} ({url}) is not reachable from {minion}: "
                        f"{(ret.get('stderr') or '').strip()} (pillar lustre_upgrade:repos:{name})"
                    )
        return found

    def backup_verified(self, path, sha256):
        return os.path.isfile(path) and fileio.sha256_file(path) == sha256

    def backup_node(self, minion):
        got = backup_node(minion)
        if got.get("result") is False:
            raise CommandExecutionError(got["error"])
        info = backup_format.verify(got["path"])
        cib = [n for n in info.get("contents_extra", []) if n.startswith("cluster-cfg-")]
        got["top"] = info["top"]
        got["cib"] = cib[0] if cib else _cib_member(got["path"], info["top"])
        return got

    def deliver_backup(self, minion, path):
        got = deliver_backup(minion, backup=path)
        if got.get("result") is False:
            raise CommandExecutionError(got["error"])
        return got

    def fingerprint(self, minion, status):
        lists = {"accepted": "minions", "pending": "minions_pre"}
        found = salt.wheel.WheelClient(__opts__).cmd("key.finger", [minion], print_event=False)
        return (found.get(lists[status]) or {}).get(minion)

    def delete_key(self, minion):
        salt.wheel.WheelClient(__opts__).cmd("key.delete", [minion], print_event=False)

    def accept_key(self, minion):
        salt.wheel.WheelClient(__opts__).cmd("key.accept", [minion], print_event=False)

    def run_hook(self, argv, timeout):
        log.info("rebuild hook: %s", argv)
        try:
            done = subprocess.run(  # noqa: S603 - the pillar's argv, no shell
                argv, capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CommandExecutionError(
                f"rebuild hook {argv} (pillar lustre_upgrade:rebuild:command) failed: {exc}"
            ) from None
        if done.returncode != 0:
            raise CommandExecutionError(
                f"rebuild hook {argv} exited {done.returncode}: "
                f"{(done.stderr or done.stdout).strip()[-500:]}"
            )


def _cib_member(path, top):
    with tarfile.open(path) as archive:
        for name in archive.getnames():
            base = name[len(top) + 1 :]
            if base.startswith("cluster-cfg-") and base.endswith(".xml") and "/" not in base:
                return base
    raise CommandExecutionError(f"backup {path} holds no cluster-cfg-<host>.xml: take a new one")


def _pair_run(pair):
    config = _pillar().get("lustre_upgrade")
    found = pair_pillar.validate_pair(pair, config, source=_pillar_source())
    if found:
        raise SaltInvocationError(pair_upgrade.findings_text(pair, found))
    ledger_path, lock_path = _ledger_paths(pair)
    run_id = f"{socket.gethostname()}:{os.getpid()}"
    return pair_upgrade.PairRun(pair, config, _Site(), ledger_path, lock_path, run_id)


def run_phase(pair=None, phase=None):
    """
    Run one phase of ``orch.upgrade_pair`` for ``pair`` unless the ledger has it done;
    ``{"result", "changes", "comment"}``. The orchestration calls it phase by phase.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.run_phase pair=oss1 phase=preflight
    """
    try:
        ret = _pair_run(pair).run(phase)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret = {"result": False, "changes": {}, "comment": str(exc)}
    if not ret["result"]:
        __context__["retcode"] = 1
    return ret


def plan(pair=None, phase=None):
    """
    What ``phase`` would do now (``test=True`` of the orchestration): done, or its steps
    with the nodes and commands; changes nothing.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.plan pair=oss1 phase=cutover
    """
    config = _pillar().get("lustre_upgrade")
    found = pair_pillar.validate_pair(pair, config, source=_pillar_source())
    if found:
        return {"result": False, "changes": {}, "comment": pair_upgrade.findings_text(pair, found)}
    ledger_path, lock_path = _ledger_paths(pair)
    ledger = upgrade_ledger.load(ledger_path)
    run = pair_upgrade.PairRun(pair, config, _Site(), ledger_path, lock_path, "plan")
    if phase == "preflight" and ledger is None:
        findings = run.preflight_findings()
        if findings:
            comment = pair_upgrade.findings_text(pair, findings)
            return {"result": False, "changes": {}, "comment": comment}
    ret = upgrade_plan.phase_plan(pair, config, ledger, phase)
    if ret["result"] is None:
        try:
            predicted = run.predict(phase)
        except Exception as exc:  # noqa: BLE001 - a prediction is best effort, the plan stands
            predicted = {"cannot_predict": f"{type(exc).__name__}: {exc}"}
        if predicted:
            ret["changes"]["predicted"] = predicted
            ret["comment"] += "\n  predicted: " + json.dumps(predicted, sort_keys=True)
    return ret


def status(pair=None):
    """
    Where the upgrade of ``pair`` stands: each phase's status, the current one, the
    nodes' rebuild state. Readable, and ``--out=json``.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.status pair=oss1
    """
    ledger_path, lock_path = _ledger_paths(pair)
    ledger = upgrade_ledger.load(ledger_path)
    data = upgrade_plan.status(pair, ledger, upgrade_ledger.holder(lock_path))
    if __opts__.get("output") in (None, "nested", "txt", "text"):
        return upgrade_plan.render_status(data)
    return data


def report(pair=None):
    """
    The upgrade report of ``pair``: timeline of phases, per-target outages, where each
    target runs now and where it prefers to, what is left for the admin. ``--out=json``
    gives the data; otherwise the text.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.report pair=oss1
        salt-run --out=json lustre_upgrade.report pair=oss1
    """
    ledger_path, _lock = _ledger_paths(pair)
    ledger = upgrade_ledger.load(ledger_path)
    if ledger is None:
        raise SaltInvocationError(f"pair {pair} has no upgrade run on this master")
    placement, preferred = {}, {}
    first = ledger["nodes"][0]["minion"]
    if ledger["node_state"].get(first, {}).get("rebuild") == rebuild_handoff.REBUILT:
        try:
            data = _Site().call(first, "pacemaker.read_cib", salt_timeout=60)
            preferred = _Site().call(first, "pacemaker.preferred_nodes", salt_timeout=60)
            placement = {k: sorted(v) for k, v in data["placement"].items() if k in preferred}
        except CommandExecutionError as exc:
            log.warning("report: the new cluster could not be read: %s", exc)
    built = upgrade_report.build(ledger, placement, preferred, upgrade_plan.left_for_admin(ledger))
    if __opts__.get("output") in (None, "nested", "txt", "text"):
        return upgrade_report.render(built)
    return built


def key_pending(minion=None):
    """
    The reactor's hand-off for ``salt/auth`` (a key waiting): accept ``minion``'s new key
    once if a pair's ledger awaits its rebuild. Any other key is left alone.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.key_pending oss1-a
    """
    for run in _runs_awaiting(minion):
        return {"minion": minion, "accepted": rebuild_handoff.accept_pending_key(run, minion)}
    return {"minion": minion, "accepted": None}


def minion_started(minion=None):
    """
    The reactor's hand-off for ``salt/minion/<id>/start``: a node a pair's ledger awaits
    is verified (EL7, the new key); with ``lustre_upgrade:rebuild:auto_resume`` the pair's
    orchestration is started again when no run holds the pair.

    CLI Example:

    .. code-block:: bash

        salt-run lustre_upgrade.minion_started oss1-a
    """
    for run in _runs_awaiting(minion):
        rebuild_handoff.accept_pending_key(run, minion)
        result = rebuild_handoff.verify_returned(run, minion)
        resumed = False
        auto = ((run.config.get("rebuild") or {}).get("auto_resume")) is True
        if result["result"] and auto and upgrade_ledger.holder(run.lock_path) is None:
            resumed = _resume(run.pair, run.ledger.get("cwd"))
        return {"minion": minion, "verified": result, "resumed": resumed}
    return {"minion": minion, "verified": None, "resumed": False}


def _runs_awaiting(minion):
    pairs = (_pillar().get("lustre_upgrade") or {}).get("pairs") or {}
    for name in sorted(os.listdir(_upgrade_dir())):
        if not name.endswith(".json") or name[: -len(".json")] not in pairs:
            continue
        run = _pair_run(name[: -len(".json")])
        if (run.ledger or {}).get("node_state", {}).get(minion, {}).get(
            "rebuild"
        ) == rebuild_handoff.AWAITING:
            yield run


def _resume(pair, cwd):
    """Start ``salt-run state.orch orch.upgrade_pair`` for ``pair`` in the background."""
    orch = ["orch.upgrade_pair", "pillar=" + json.dumps({"pair": pair})]
    return _start_orchestration(orch, os.path.join(_upgrade_dir(), f"{pair}.resume.log"), cwd)


def _start_orchestration(orch, log_path, cwd):
    """``salt-run state.orch *orch`` in the background, detached, its output to log_path."""
    argv = [
        sys.executable,
        "-c",
        "import salt.scripts; salt.scripts.salt_run()",
        "-c",
        os.path.dirname(__opts__["conf_file"]),
        "state.orch",
        *orch,
    ]
    with open(log_path, "ab") as out:
        subprocess.Popen(  # noqa: S603 - fixed argv
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd if cwd and os.path.isdir(cwd) else "/",
            start_new_session=True,
        )
    return True
