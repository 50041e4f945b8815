"""
The ledger of one pair's upgrade, kept on the master: where the run stands, what each
phase verified, and who is running it.

A ledger is a JSON file written whole (``fileio.atomic_write``, 0600) after every
change, so a run killed at any point leaves the last completed state behind; a rerun
resumes at the first phase not ``done``. A phase found ``running`` was interrupted: its
steps verify before they act, so it is run again from its start.

One run at a time per pair: the lock file beside the ledger names the run and the
process holding it. A lock whose process is gone (killed, crashed, the master
restarted) is stale and is taken over; a live one refuses the second run.
"""

import contextlib
import fcntl
import json
import os
import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

from . import fileio

FORMAT = 1
# The runbook's table of contents for one pair; "node1"/"node2" are the pillar's upgrade
# order. Each entry: (name, title, runbook section).
PHASES = (
    ("preflight", "0 preflight", "Risks; Prepare for the Upgrade"),
    ("backup", "1 back up both nodes", "Prepare for the Upgrade"),
    ("evacuate-node1", "2 evacuate node 1", "Migrate the Resources on Node 1"),
    ("rebuild-node1", "3 rebuild node 1", "Install the New Operating System Version on Node 1"),
    ("install-node1", "4 restore and install node 1", "Restore the Node 1 OS Configuration …"),
    ("new-cluster", "5 new cluster on node 1", "Configure the High Availability Framework"),
    ("cutover", "6 cut the targets over to node 1", "Migrate the Lustre Services to Node 1"),
    ("rebuild-node2", "7a rebuild node 2", "Install the New Operating System Version on Node 2"),
    ("install-node2", "7b restore and install node 2", "Restore the Node 2 OS Configuration …"),
    ("join-node2", "7c join node 2", "Add Node 2 to the new High Availability Framework"),
    ("rebalance", "8 rebalance", "Rebalance the Cluster Resources"),
    ("fencing", "9 fencing", "Cluster Power Management Configuration"),
    ("verify", "10 verify and report", ""),
)
PHASE_NAMES = tuple(name for name, _title, _section in PHASES)
PENDING, RUNNING, DONE, FAILED, WAITING = "pending", "running", "done", "failed", "waiting"
STATUSES = (PENDING, RUNNING, DONE, FAILED, WAITING)


def new(pair, nodes, now=None, phases=PHASE_NAMES):
    """A ledger for ``pair`` whose nodes (pillar records, upgrade order) start their run;
    ``phases``: the run's phase names (default: a pair's)."""
    now = time.time() if now is None else now
    return {
        "format": FORMAT,
        "pair": pair,
        "created": now,
        "nodes": [dict(node) for node in nodes],
        "phases": [
            {"name": name, "status": PENDING, "start": None, "end": None, "detail": None}
            for name in phases
        ],
        "targets": {},
        "completed": False,
    }


def load(path, phases=PHASE_NAMES):
    """The ledger at ``path`` of a run with ``phases`` (default: a pair's), or None when
    the run never started."""
    data = fileio.read_bytes(path)
    if data is None:
        return None
    try:
        ledger = json.loads(data)
    except ValueError as exc:
        raise CommandExecutionError(
            f"ledger {path} is damaged ({exc}): move it aside and run again; the run starts "
            "from the preflight, whose checks see what was already done"
        ) from None
    names = [p.get("name") for p in ledger.get("phases", [])] if isinstance(ledger, dict) else []
    if (
        not isinstance(ledger, dict)
        or ledger.get("format") != FORMAT
        or tuple(names) != tuple(phases)
    ):
        raise CommandExecutionError(
            f"ledger {path} is not a format-{FORMAT} ledger of this extension's phases: "
            "it was written by another version; finish that run with it, or move the file aside"
        )
    return ledger


def save(path, ledger):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    data = json.dumps(ledger, indent=1, sort_keys=True).encode("utf-8")
    fileio.atomic_write(path, data, mode=0o600)


def phase_title(name):
    """The runbook title of phase ``name``; unknown names are refused."""
    for known, title, _section in PHASES:
        if known == name:
            return title
    raise SaltInvocationError(f"unknown phase {name!r}: phases are {', '.join(PHASE_NAMES)}")


def phase(ledger, name):
    """The record of phase ``name`` in ``ledger``; unknown names are refused."""
    names = [record["name"] for record in ledger["phases"]]
    if name not in names:
        raise SaltInvocationError(f"unknown phase {name!r}: phases are {', '.join(names)}")
    return ledger["phases"][names.index(name)]


def next_phase(ledger):
    """The name of the first phase not done, or None when the run is complete."""
    for record in ledger["phases"]:
        if record["status"] != DONE:
            return record["name"]
    return None


def start(ledger, name, now=None):
    """Mark ``name`` running; refuses while an earlier phase is not done."""
    upcoming = next_phase(ledger)
    if upcoming != name and phase(ledger, name)["status"] != DONE:
        raise CommandExecutionError(
            f"phase {name} cannot start: phase {upcoming} of pair {ledger['pair']} is not done"
        )
    record = phase(ledger, name)
    record.update(status=RUNNING, start=time.time() if now is None else now, end=None, detail=None)
    return record


def finish(ledger, name, status, detail=None, now=None):
    """End ``name`` as done, failed or waiting (an out-of-band step such as a rebuild)."""
    if status not in (DONE, FAILED, WAITING):
        raise SaltInvocationError(f"a phase ends done, failed or waiting, not {status!r}")
    record = phase(ledger, name)
    record.update(status=status, end=time.time() if now is None else now, detail=detail)
    ledger["completed"] = next_phase(ledger) is None
    return record


def note_outage(ledger, target, node, stopped, started, phase=None):
    """One outage of ``target`` in ``phase``: from the stop the run issued to the start it
    verified."""
    entry = ledger["targets"].setdefault(target, {"node": None, "outages": []})
    entry["node"] = node
    entry["outages"].append({"stopped": stopped, "started": started, "phase": phase})


# --------------------------------------------------------------------------- the lock

# Lock files this process holds: path -> (open file, record). The kernel's flock on the
# open file is the lock: it is released when the process ends however it ends (killed,
# crashed), and it is seen from any process of the host, whatever PID namespace it runs
# in (a reactor in the master daemon, salt-run in a shell), which a PID test is not.
_HELD = {}


def _read_record(lock_path):
    data = fileio.read_bytes(lock_path)
    try:
        return json.loads(data) if data else {}
    except ValueError:
        return {}


def holder(lock_path):
    """The live holder of the lock ``{"run", "pid", "host", "since"}``, or None (free)."""
    if lock_path in _HELD:
        return dict(_HELD[lock_path][1])
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_record(lock_path) or {"run": "unknown", "pid": None, "since": 0}
    finally:
        os.close(fd)
    return None


@contextlib.contextmanager
def guarded(lock_path):
    """One critical section across processes around ``lock_path`` (a ``.guard`` file beside
    it): a ledger's read-modify-write."""
    os.makedirs(os.path.dirname(lock_path), mode=0o700, exist_ok=True)
    fd = os.open(lock_path + ".guard", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def acquire(lock_path, run, now=None):
    """
    Take the pair's lock for ``run`` in this process, for as long as it lives (or until
    ``release``). Taking it again in the same process is a no-op; a lock another live
    process holds refuses, naming that run. Returns the lock record.
    """
    if lock_path in _HELD:
        return dict(_HELD[lock_path][1])
    os.makedirs(os.path.dirname(lock_path), mode=0o700, exist_ok=True)
    handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held past this call
    os.chmod(lock_path, 0o600)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        owner = _read_record(lock_path)
        since = owner.get("since") or 0
        raise CommandExecutionError(
            f"another upgrade run of this pair ({owner.get('run', 'unknown')}, process "
            f"{owner.get('pid')}, since "
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}) holds it; wait "
            "for it to end, or stop that process first"
        ) from None
    record = {"run": run, "pid": os.getpid(), "since": time.time() if now is None else now}
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(record))
    handle.flush()
    _HELD[lock_path] = (handle, record)
    return dict(record)


def release(lock_path, run):
    """Give the lock up if this process holds it for ``run``."""
    held = _HELD.get(lock_path)
    if held is None or held[1]["run"] != run:
        return False
    handle, _record = _HELD.pop(lock_path)
    handle.close()
    return True


def require_backup(record, created, verified, who, before):
    """``record`` of a backup of ``who`` taken in this run (not before ``created``) that the
    master still verifies (``verified(path, sha256)``); otherwise ``before`` is refused."""
    if not record or record["taken"] < created or not verified(record["path"], record["sha256"]):
        raise CommandExecutionError(
            f"no verified backup of {who} taken in this run is on the master: {before} "
            "refused; run phase backup again (move the ledger aside to restart)"
        )
    return record
