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


def new(pair, nodes, now=None):
    """A ledger for ``pair`` whose nodes (pillar records, upgrade order) start their run."""
    now = time.time() if now is None else now
    return {
        "format": FORMAT,
        "pair": pair,
        "created": now,
        "nodes": [dict(node) for node in nodes],
        "phases": [
            {"name": name, "status": PENDING, "start": None, "end": None, "detail": None}
            for name in PHASE_NAMES
        ],
        "targets": {},
        "completed": False,
    }


def load(path):
    """The ledger at ``path``, or None when the pair never started an upgrade."""
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
        or tuple(names) != PHASE_NAMES
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
    if name not in PHASE_NAMES:
        raise SaltInvocationError(f"unknown phase {name!r}: phases are {', '.join(PHASE_NAMES)}")
    return ledger["phases"][PHASE_NAMES.index(name)]


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


def note_outage(ledger, target, node, stopped, started):
    """One outage of ``target``: from the stop the run issued to the start it verified."""
    entry = ledger["targets"].setdefault(target, {"node": None, "outages": []})
    entry["node"] = node
    entry["outages"].append({"stopped": stopped, "started": started})


# --------------------------------------------------------------------------- the lock


def _process_start(pid):
    """The start time of ``pid`` (clock ticks since boot), or None if it does not run."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields follow the last ")".
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def holder(lock_path):
    """The live holder of the lock ``{"run", "pid", "since"}``, or None (free or stale)."""
    data = fileio.read_bytes(lock_path)
    if not data:
        return None
    try:
        owner = json.loads(data)
        pid = int(owner["pid"])
    except (ValueError, KeyError, TypeError):
        return None
    if _process_start(pid) != owner.get("pid_start"):
        return None
    return owner


@contextlib.contextmanager
def guarded(lock_path):
    """One critical section across processes around ``lock_path`` (a ``.guard`` file beside
    it): the lock's check-then-write, a ledger's read-modify-write."""
    os.makedirs(os.path.dirname(lock_path), mode=0o700, exist_ok=True)
    fd = os.open(lock_path + ".guard", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def acquire(lock_path, run, pid=None, now=None):
    """
    Take the pair's lock for ``run`` in process ``pid`` (default: this one). Taking it
    again for the same run is a no-op; a lock held by a live process for another run
    refuses, naming it. Returns the lock record.
    """
    pid = os.getpid() if pid is None else pid
    with guarded(lock_path):
        return _acquire(lock_path, run, pid, now)


def _acquire(lock_path, run, pid, now):
    owner = holder(lock_path)
    if owner is not None and owner.get("run") != run:
        raise CommandExecutionError(
            f"another upgrade run of this pair ({owner['run']}, process {owner['pid']}, "
            f"since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(owner['since']))}) "
            "holds it; wait for it to end, or stop that process first"
        )
    if owner is not None and owner.get("pid") == pid:
        return owner
    record = {
        "run": run,
        "pid": pid,
        "pid_start": _process_start(pid),
        "since": time.time() if now is None else now,
    }
    fileio.atomic_write(lock_path, json.dumps(record).encode("utf-8"), mode=0o600)
    return record


def release(lock_path, run):
    """Give the lock up if ``run`` holds it (a stale or free lock is removed too)."""
    with guarded(lock_path):
        owner = holder(lock_path)
        if owner is not None and owner.get("run") != run:
            return False
        try:
            os.unlink(lock_path)
        except FileNotFoundError:
            pass
        return True
