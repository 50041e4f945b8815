"""Running commands and ending processes the lab started (by PID, never by name)."""

import contextlib
import os
import signal
import subprocess
import time

from .state import process_start_time

NODE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}


class CommandError(Exception):
    def __init__(self, argv, result):
        self.argv = argv
        self.result = result
        out = (result.stderr or result.stdout or "").strip()
        super().__init__(f"{' '.join(map(str, argv))} failed ({result.returncode}): {out}")


def run(argv, check=True, timeout=120, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    result = subprocess.run([str(a) for a in argv], timeout=timeout, check=False, **kwargs)
    if check and result.returncode != 0:
        raise CommandError(argv, result)
    return result


def same_process(pid, start):
    """Is `pid` still the process that was recorded (same start time)?"""
    return pid is not None and start is not None and process_start_time(pid) == start


def kill_recorded(pid, start, sig=signal.SIGKILL):
    if same_process(pid, start):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
            return True
    return False


def wait_gone(pid, start, timeout=10.0):
    deadline = time.monotonic() + timeout
    while same_process(pid, start) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    return not same_process(pid, start)


def child_pids(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def nsenter_argv(pid, argv, env=None):
    """argv that runs `argv` inside the namespaces of the node whose PID 1 is `pid`."""
    environment = dict(NODE_ENV, **(env or {}))
    return [
        "nsenter",
        "-t",
        str(pid),
        "-n",
        "-m",
        "-u",
        "-i",
        "-p",
        "--",
        "env",
        "-i",
        *[f"{k}={v}" for k, v in environment.items()],
        *argv,
    ]
