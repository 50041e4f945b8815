"""The run's state file: everything the lab made, written *before* it is made.

`down` reads it to remove exactly those things, also after a crash of the lab itself:
network namespaces (by name, all carrying the run id), processes (by PID and start time,
so a recycled PID is never killed), and the run directory. Two writers (labctl and labd)
share it under an flock.

A run is a directory `<run base>/<run id>` (6 hex digits) whose state file is complete
and its own (its run id is the directory's name, every namespace it lists carries that id);
nothing else under the run base (a copy of a state file among logs, a half-written
directory) is ever taken for a run.
"""

import contextlib
import fcntl
import json
import os
import re
import secrets
import time
from pathlib import Path

STATE_NAME = "state.json"
RUN_ID = re.compile(r"[0-9a-f]{6}")


def new_run_id():
    return secrets.token_hex(3)


def is_run_id(name):
    return isinstance(name, str) and RUN_ID.fullmatch(name) is not None


def netns_prefix(run_id):
    """Every network namespace of run `run_id` is named `lul-<run id>-<role>`."""
    return f"lul-{run_id}-"


def run_state(run_dir):
    """The state of the run in `run_dir`, or None when `run_dir` is not a run."""
    run_dir = Path(run_dir)
    if not is_run_id(run_dir.name):
        return None
    try:
        with open(run_dir / STATE_NAME, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("run_id") != run_dir.name:
        return None
    netns = data.get("netns")
    if not isinstance(netns, list) or not isinstance(data.get("processes"), dict):
        return None
    prefix = netns_prefix(run_dir.name)
    if not all(isinstance(name, str) and name.startswith(prefix) for name in netns):
        return None
    return data


def process_start_time(pid):
    """Start time (clock ticks since boot) of a live PID, or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


class RunState:
    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / STATE_NAME
        self.lock_path = self.run_dir / "state.lock"

    @property
    def run_id(self):
        return self.run_dir.name

    @contextlib.contextmanager
    def _locked(self):
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def read(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return {"run_id": self.run_id, "netns": [], "processes": {}, "host": {}, "notes": {}}

    def _write(self, data):
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def update(self, change):
        with self._locked():
            data = self.read()
            change(data)
            self._write(data)
            return data

    def create(self, **notes):
        self.run_dir.mkdir(parents=True, exist_ok=False, mode=0o700)

        def init(data):
            data["created"] = time.time()
            data["notes"].update(notes)

        return self.update(init)

    # -- records -----------------------------------------------------------------
    def add_netns(self, name):
        self.update(lambda d: d["netns"].append(name) if name not in d["netns"] else None)

    def add_process(self, role, pid, **extra):
        start = process_start_time(pid)

        def change(data):
            data["processes"][role] = {"pid": pid, "start": start, **extra}

        self.update(change)

    def drop_process(self, role):
        self.update(lambda d: d["processes"].pop(role, None))

    def note(self, **values):
        self.update(lambda d: d["notes"].update(values))

    def note_host(self, **values):
        self.update(lambda d: d["host"].update(values))


def list_runs(run_base):
    """The runs under `run_base`, oldest state first."""
    base = Path(run_base)
    if not base.is_dir():
        return []
    return sorted(
        (p for p in base.iterdir() if p.is_dir() and run_state(p) is not None),
        key=lambda p: (p / STATE_NAME).stat().st_mtime,
    )
