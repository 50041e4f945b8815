#!/usr/bin/python3 -I
"""The lab's stand-in for systemctl inside a lab node (there is no systemd as PID 1).

It reads the real unit files (Debian's for corosync, pacemaker, pcsd; the lab RPMs' for
their services) and does what systemd would for the parts our tools use: start with
Requires= first, wait for READY=1 on a real NOTIFY_SOCKET for Type=notify, stop with
ExecStop= then SIGTERM, enable/disable as symlinks in multi-user.target.wants, and answer
is-active/is-enabled/status/show/list-unit-files in systemctl's formats (pcs and Salt parse
them). It is the lab's init in every node image (/usr/lib/lab/unitctl: boot and shutdown),
EL7's /usr/bin/systemctl (the lab's systemd RPM), and on a node in its EL6 life the SysV
front ends EL6 has instead (the lab's initscripts and chkconfig RPMs link `service` and
`chkconfig` to it): `service NAME start|stop|restart|status|condrestart` and `chkconfig
NAME on|off`, `chkconfig --list [NAME]` over the same units, in EL6's output formats and
exit codes. reboot/poweroff/halt/shutdown are symlinks to it, so it also answers to those
names by signalling the node's init (SIGINT: reboot, SIGTERM: power off), as systemd and
upstart do.

Standard library only: it runs on the node's own python3.
"""

import contextlib
import fcntl
import os
import re
import shlex
import signal
import socket
import sys
import time

VERSION = "systemd 219 (lab stand-in)\n+PAM -AUDIT -SELINUX"
UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)
WANTS_DIR = "/etc/systemd/system/multi-user.target.wants"
STATE_DIR = "/run/lab/units"
LOG_DIR = "/var/log/lab-units"
BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
BOOT_ORDER_FILE = os.path.join(STATE_DIR, "start-order")


class UnitError(Exception):
    """A unit operation failed; the message is what systemctl would print."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- unit files


def canonical(name):
    """`corosync` -> `corosync.service` (a name with a known suffix is kept)."""
    if re.search(r"\.(service|target|socket|timer|mount|path|scope|slice)$", name):
        return name
    return name + ".service"


def find_unit_file(unit):
    for directory in UNIT_DIRS:
        path = os.path.join(directory, unit)
        if os.path.isfile(path):
            return path
    return None


def parse_unit(text):
    """Unit file text -> {section: {key: [values]}} (continuation lines joined)."""
    sections = {}
    current = None
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if current is None or "=" not in line:
            continue
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


class Unit:
    def __init__(self, name):
        self.name = canonical(name)
        self.path = find_unit_file(self.name)
        self.sections = {}
        if self.path:
            with open(self.path, encoding="utf-8") as handle:
                self.sections = parse_unit(handle.read())

    @property
    def exists(self):
        return self.path is not None

    def get(self, section, key, default=None):
        values = self.sections.get(section, {}).get(key)
        return values[-1] if values else default

    def get_all(self, section, key):
        out = []
        for value in self.sections.get(section, {}).get(key, []):
            if value == "":
                out = []
            else:
                out.append(value)
        return out

    def words(self, section, key):
        return [w for value in self.get_all(section, key) for w in value.split()]

    @property
    def service_type(self):
        return self.get("Service", "Type", "simple")

    @property
    def description(self):
        return self.get("Unit", "Description", self.name)

    def timeout(self, key, default):
        value = self.get("Service", key) or self.get("Service", "TimeoutSec")
        return _seconds(value, default)


def _seconds(value, default):
    if not value:
        return default
    if value == "infinity":
        return 24 * 3600
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)\s*(min|ms|s|h)?", value):
        factor = {"min": 60, "ms": 0.001, "s": 1, "h": 3600, None: 1, "": 1}[unit]
        total += float(number) * factor
    return total or default


def unit_env(unit):
    env = dict(BASE_ENV)
    for assignment in unit.get_all("Service", "Environment"):
        for word in shlex.split(assignment):
            if "=" in word:
                key, value = word.split("=", 1)
                env[key] = value
    for path in unit.get_all("Service", "EnvironmentFile"):
        optional = path.startswith("-")
        path = path.lstrip("-")
        try:
            with open(path, encoding="utf-8") as handle:
                env.update(_parse_env_file(handle.read()))
        except OSError:
            if not optional:
                raise UnitError(f"Failed to load environment file {path}") from None
    return env


def _parse_env_file(text):
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        words = shlex.split(value) if value else [""]
        env[key.strip()] = " ".join(words)
    return env


def expand_command(line, env):
    """ExecStart= line -> argv with systemd's $VAR (split) and ${VAR} (one word) rules."""
    line = line.lstrip("-@+!:")
    argv = []
    for word in shlex.split(line):
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if whole:
            argv.extend(env.get(whole.group(1), "").split())
            continue
        argv.append(
            re.sub(
                r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)",
                lambda m: env.get(m.group(1) or m.group(2), ""),
                word,
            )
        )
    return argv


# ---------------------------------------------------------------- runtime state


def _pid_file(unit):
    return os.path.join(STATE_DIR, unit + ".pid")


def _read_pid(unit):
    try:
        with open(_pid_file(unit), encoding="ascii") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid):
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def main_pid(unit):
    pid = _read_pid(unit)
    return pid if _alive(pid) else None


def is_active(unit):
    if unit.endswith(".target"):
        return True
    return main_pid(unit) is not None


def is_enabled(unit):
    return os.path.lexists(os.path.join(WANTS_DIR, unit))


def _failed_marker(unit):
    return os.path.join(STATE_DIR, unit + ".failed")


def _log_path(unit):
    return os.path.join(LOG_DIR, unit + ".log")


def _record_start_order(unit):
    with contextlib.suppress(OSError), open(BOOT_ORDER_FILE, "a", encoding="ascii") as handle:
        handle.write(unit + "\n")


# ---------------------------------------------------------------- actions


_HELD = set()  # unit locks this process holds (flock is per open file, not re-entrant)


@contextlib.contextmanager
def unit_lock(unit_name):
    """One job per unit at a time, across concurrent systemctl calls (as systemd's queue)."""
    if unit_name in _HELD:
        yield
        return
    os.makedirs(STATE_DIR, exist_ok=True)
    fd = os.open(os.path.join(STATE_DIR, unit_name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD.add(unit_name)
        yield
    finally:
        _HELD.discard(unit_name)
        os.close(fd)


def start(name, seen=None):
    with unit_lock(canonical(name)):
        _start(name, seen)


def _start(name, seen=None):
    unit = Unit(name)
    seen = seen if seen is not None else set()
    if unit.name in seen:
        return
    seen.add(unit.name)
    if unit.name.endswith(".target"):
        return
    if not unit.exists:
        raise UnitError(f"Failed to start {unit.name}: Unit {unit.name} not found.", 5)
    if is_active(unit.name):
        return
    for required in unit.words("Unit", "Requires") + unit.words("Unit", "BindsTo"):
        start(required, seen)
    env = unit_env(unit)
    os.makedirs(STATE_DIR, exist_ok=True)
    os.makedirs(LOG_DIR, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_failed_marker(unit.name))
    _runtime_directories(unit)
    for pre in unit.get_all("Service", "ExecStartPre"):
        rc = _run_wait(expand_command(pre, env), env, unit, as_user=not _privileged(pre))
        if rc != 0 and not pre.startswith("-"):
            _fail(unit, f"ExecStartPre exited with status {rc}")
    commands = unit.get_all("Service", "ExecStart")
    if not commands:
        raise UnitError(f"Failed to start {unit.name}: no ExecStart= in {unit.path}")
    argv = expand_command(commands[0], env)
    kind = unit.service_type
    notify = None
    if kind == "notify":
        notify = _notify_socket(unit.name)
        env["NOTIFY_SOCKET"] = notify.getsockname()
    pid = _spawn(argv, env, unit)
    timeout = unit.timeout("TimeoutStartSec", 90)
    try:
        if kind == "notify":
            _wait_ready(notify, pid, timeout, unit)
        elif kind == "forking":
            pid = _wait_forked(pid, unit, timeout)
        elif kind == "oneshot":
            rc = _wait_exit(pid, timeout)
            if rc != 0:
                _fail(unit, f"exited with status {rc}")
            return
        else:
            time.sleep(0.2)
            if not _alive(pid):
                _fail(unit, "main process exited right after start")
    finally:
        if notify is not None:
            path = notify.getsockname()
            notify.close()
            with contextlib.suppress(OSError):
                os.unlink(path)
    with open(_pid_file(unit.name), "w", encoding="ascii") as handle:
        handle.write(f"{pid}\n")
    _record_start_order(unit.name)
    for post in unit.get_all("Service", "ExecStartPost"):
        _run_wait(expand_command(post, env), env, unit, as_user=not _privileged(post))


def _fail(unit, why):
    with contextlib.suppress(OSError), open(_failed_marker(unit.name), "w", encoding="utf-8") as h:
        h.write(why + "\n")
    raise UnitError(
        f"Job for {unit.name} failed: {why}. See {_log_path(unit.name)} for details.", 1
    )


def _credentials(unit):
    """(uid, gid, user name, home) of the unit's User=/Group=, or None (root)."""
    user = unit.get("Service", "User")
    if not user:
        return None
    import grp
    import pwd

    try:
        entry = pwd.getpwnam(user)
        group = unit.get("Service", "Group")
        gid = grp.getgrnam(group).gr_gid if group else entry.pw_gid
    except KeyError as exc:
        raise UnitError(f"Failed to start {unit.name}: no such user or group: {exc}", 217) from None
    return entry.pw_uid, gid, entry.pw_name, entry.pw_dir


def _runtime_directories(unit):
    """RuntimeDirectory=: /run/<name>, owned by the unit's User=/Group=, made at start."""
    credentials = _credentials(unit)
    mode = int(unit.get("Service", "RuntimeDirectoryMode", "0755"), 8)
    for name in unit.words("Service", "RuntimeDirectory"):
        path = os.path.join("/run", name)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)
        if credentials:
            os.chown(path, credentials[0], credentials[1])


def _spawn(argv, env, unit, as_user=True):
    log = os.open(_log_path(unit.name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    devnull = os.open(os.devnull, os.O_RDONLY)
    workdir = unit.get("Service", "WorkingDirectory", "/")
    credentials = _credentials(unit) if as_user else None
    pid = os.fork()
    if pid == 0:  # child: a new session, detached from the caller like a systemd service
        try:
            os.setsid()
            os.dup2(devnull, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            if credentials:
                # User=/Group=: the service's own identity (systemd sets HOME, USER too).
                uid, gid, name, home = credentials
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
                env = dict(env, USER=name, LOGNAME=name, HOME=home)
            os.chdir(workdir.lstrip("-") or "/")
            os.execvpe(argv[0], argv, env)
        except Exception as exc:  # noqa: BLE001 - report anything before _exit
            os.write(2, f"lab systemctl: cannot exec {argv}: {exc}\n".encode())
        os._exit(203)
    os.close(log)
    os.close(devnull)
    return pid


def _notify_socket(unit):
    os.makedirs("/run/lab/notify", exist_ok=True)
    path = f"/run/lab/notify/{unit}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o777)
    return sock


def _wait_ready(sock, pid, timeout, unit):
    deadline = time.monotonic() + timeout
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            data = sock.recv(4096).decode(errors="replace")
        except TimeoutError:
            data = ""
        except OSError:
            data = ""
        if "READY=1" in data.split("\n"):
            return
        if _reap(pid) is not None or not _alive(pid):
            _fail(unit, "main process exited before it was ready")
    _fail(unit, f"not ready after {timeout:.0f}s")


def _reap(pid):
    """Reap our own child if it exited; its status, else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    if done == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def _wait_exit(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _reap(pid)
        if status is not None:
            return status
        time.sleep(0.05)
    return 124


def _wait_forked(pid, unit, timeout):
    rc = _wait_exit(pid, timeout)
    if rc != 0:
        _fail(unit, f"control process exited with status {rc}")
    pidfile = unit.get("Service", "PIDFile")
    if pidfile:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(pidfile, encoding="ascii") as handle:
                    return int(handle.read().split()[0])
            except (OSError, ValueError, IndexError):
                time.sleep(0.1)
    _fail(unit, "forking service without a readable PIDFile")
    return None


def _privileged(line):
    """An Exec line whose prefix has `+` runs as root whatever User= says (systemd)."""
    prefix = line[: len(line) - len(line.lstrip("-@+!:"))]
    return "+" in prefix


def _run_wait(argv, env, unit, as_user=True):
    pid = _spawn(argv, env, unit, as_user=as_user)
    return _wait_exit(pid, unit.timeout("TimeoutStartSec", 90))


def _dependents(unit_name):
    """Active units that Require/BindsTo/PartOf the given unit (systemd stops those too)."""
    out = []
    try:
        names = os.listdir(STATE_DIR)
    except FileNotFoundError:
        return out
    for entry in names:
        if not entry.endswith(".pid"):
            continue
        other = entry[: -len(".pid")]
        if other == unit_name or not is_active(other):
            continue
        candidate = Unit(other)
        deps = (
            candidate.words("Unit", "Requires")
            + candidate.words("Unit", "BindsTo")
            + candidate.words("Unit", "PartOf")
        )
        if unit_name in [canonical(d) for d in deps]:
            out.append(other)
    return out


def stop(name, stopping=None):
    with unit_lock(canonical(name)):
        _stop(name, stopping if stopping is not None else set())


def _stop(name, stopping):
    unit = Unit(name)
    if unit.name.endswith(".target") or unit.name in stopping:
        return
    stopping.add(unit.name)
    for dependent in _dependents(unit.name):
        stop(dependent, stopping)
    pid = main_pid(unit.name)
    if pid is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_pid_file(unit.name))
        return
    env = unit_env(unit) if unit.exists else dict(BASE_ENV)
    env["MAINPID"] = str(pid)
    for command in unit.get_all("Service", "ExecStop"):
        _run_wait(expand_command(command, env), env, unit, as_user=not _privileged(command))
    timeout = unit.timeout("TimeoutStopSec", 90)
    kill_mode = unit.get("Service", "KillMode", "control-group")
    kill_signal = getattr(signal, unit.get("Service", "KillSignal", "SIGTERM"), signal.SIGTERM)
    if _alive(pid):
        _signal(pid, kill_signal, whole_group=kill_mode == "control-group")
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.1)
    if _alive(pid) and unit.get("Service", "SendSIGKILL", "yes") != "no":
        _signal(pid, signal.SIGKILL, whole_group=kill_mode != "none")
    if kill_mode in ("control-group", "mixed"):
        _signal(pid, signal.SIGKILL, whole_group=True, group_only=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_pid_file(unit.name))


def _signal(pid, signum, whole_group=False, group_only=False):
    if not group_only:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
    if whole_group:
        # The service's session stands in for its cgroup.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)


def enable(name, quiet=False):
    unit = Unit(name)
    if not unit.exists:
        raise UnitError(f"Failed to enable unit: Unit file {unit.name} does not exist.")
    os.makedirs(WANTS_DIR, exist_ok=True)
    link = os.path.join(WANTS_DIR, unit.name)
    if not os.path.lexists(link):
        os.symlink(unit.path, link)
        if not quiet:
            print(f"Created symlink {link} \u2192 {unit.path}.")


def disable(name, quiet=False):
    unit = Unit(name)
    link = os.path.join(WANTS_DIR, unit.name)
    if os.path.lexists(link):
        os.unlink(link)
        if not quiet:
            print(f"Removed {link}.")


def unit_file_state(unit):
    if not unit.exists:
        return None
    if is_enabled(unit.name):
        return "enabled"
    if not unit.get_all("Install", "WantedBy") and not unit.get_all("Install", "RequiredBy"):
        return "static"
    return "disabled"


def all_unit_files():
    seen = {}
    for directory in UNIT_DIRS:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for entry in names:
            if entry.endswith((".service", ".target")) and entry not in seen:
                seen[entry] = os.path.join(directory, entry)
    return seen


def status_text(unit):
    if not unit.exists:
        raise UnitError(f"Unit {unit.name} could not be found.", 4)
    pid = main_pid(unit.name)
    state = unit_file_state(unit)
    lines = [
        f"\u25cf {unit.name} - {unit.description}",
        f"     Loaded: loaded ({unit.path}; {state}; vendor preset: disabled)",
    ]
    if pid:
        lines.append("     Active: active (running)")
        lines.append(f"   Main PID: {pid} ({_comm(pid)})")
    elif os.path.exists(_failed_marker(unit.name)):
        lines.append("     Active: failed (Result: exit-code)")
    else:
        lines.append("     Active: inactive (dead)")
    return "\n".join(lines), 0 if pid else 3


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return "?"


def show_properties(unit):
    pid = main_pid(unit.name) or 0
    active = (
        "active" if pid else ("failed" if os.path.exists(_failed_marker(unit.name)) else "inactive")
    )
    return {
        "Id": unit.name,
        "Names": unit.name,
        "Description": unit.description,
        "LoadState": "loaded" if unit.exists else "not-found",
        "ActiveState": active,
        "SubState": "running" if pid else "dead",
        "MainPID": str(pid),
        "UnitFileState": unit_file_state(unit) or "",
        "FragmentPath": unit.path or "",
        "Type": unit.service_type,
    }


# ---------------------------------------------------------------- boot / shutdown


def boot():
    """Start every enabled unit at once, each after its Requires= (multi-user.target)."""
    try:
        wanted = sorted(e for e in os.listdir(WANTS_DIR) if e.endswith(".service"))
    except FileNotFoundError:
        wanted = []
    jobs = {}
    for entry in wanted:
        pid = os.fork()
        if pid == 0:
            try:
                start(entry)
                print(f"lab-boot: started {entry}", flush=True)
                os._exit(0)
            except UnitError as exc:
                print(f"lab-boot: {exc}", file=sys.stderr, flush=True)
            except Exception as exc:  # noqa: BLE001 - a boot job reports, never raises
                print(f"lab-boot: {entry}: {exc}", file=sys.stderr, flush=True)
            os._exit(1)
        jobs[pid] = entry
    failures = 0
    for pid in jobs:
        _, status = os.waitpid(pid, 0)
        failures += os.waitstatus_to_exitcode(status) != 0
    return 1 if failures else 0


def shutdown():
    """Stop every running unit at once; Requires=/PartOf= and the unit locks order them
    (stopping corosync first stops pacemaker, which needs it)."""
    try:
        with open(BOOT_ORDER_FILE, encoding="ascii") as handle:
            order = list(dict.fromkeys(line.strip() for line in handle if line.strip()))
    except FileNotFoundError:
        order = []
    jobs = []
    for name in reversed(order):
        # A PartOf= unit stops with its owner (pcsd-ruby with pcsd): never on its own here,
        # or the two jobs would wait for each other's unit lock.
        if not is_active(name) or Unit(name).words("Unit", "PartOf"):
            continue
        pid = os.fork()
        if pid == 0:
            try:
                stop(name)
                os._exit(0)
            except Exception as exc:  # noqa: BLE001 - a shutdown job reports, never raises
                print(f"lab-shutdown: {name}: {exc}", file=sys.stderr, flush=True)
            os._exit(1)
        jobs.append(pid)
    for pid in jobs:
        os.waitpid(pid, 0)
    return 0


def _signal_init(signum, what):
    print(f"lab node: {what} requested", flush=True)
    os.kill(1, signum)
    return 0


# ---------------------------------------------------------------- EL6: service, chkconfig

SYSV_COLUMN = 60


def _sysv_services():
    """Service names (EL6 init script names) of the units that can be enabled."""
    names = []
    for name, _path in sorted(all_unit_files().items()):
        if name.endswith(".service"):
            unit = Unit(name)
            if unit.get_all("Install", "WantedBy") or unit.get_all("Install", "RequiredBy"):
                names.append(name[: -len(".service")])
    return names


def _sysv_line(text, ok):
    print(f"{text:<{SYSV_COLUMN}}{'[  OK  ]' if ok else '[FAILED]'}", flush=True)


def _sysv_status(name, unit):
    pid = main_pid(unit.name)
    if pid:
        print(f"{_comm(pid)} (pid  {pid}) is running...")
        return 0
    print(f"{name} is stopped")
    return 3


def service_main(args):
    """EL6's /sbin/service over the lab's units."""
    if args[:1] == ["--status-all"]:
        for name in _sysv_services():
            _sysv_status(name, Unit(name))
        return 0
    if len(args) < 2:
        print(
            "Usage: service < option > | --status-all | [ service_name [ command | --full-restart ] ]"
        )
        return 1 if not args else 2
    name, action = args[0], args[1]
    unit = Unit(name)
    if not unit.exists or not name.isprintable() or "/" in name:
        print(f"{name}: unrecognized service", file=sys.stderr)
        return 1
    what = unit.description
    doing = "Starting"
    try:
        if action == "status":
            return _sysv_status(name, unit)
        if action == "reload":
            return 0 if is_active(unit.name) else 7
        restart = action in ("restart", "force-reload") or (
            action in ("condrestart", "try-restart") and is_active(unit.name)
        )
        if action not in ("start", "stop", "restart", "force-reload", "condrestart", "try-restart"):
            print(f"Usage: {name} {{start|stop|status|restart|condrestart|reload}}")
            return 2
        if action == "stop" or restart:
            doing = "Stopping"
            stop(name)
            _sysv_line(f"Stopping {what}: ", True)
        if action == "start" or restart:
            doing = "Starting"
            start(name)
            _sysv_line(f"Starting {what}: ", True)
    except UnitError as exc:
        _sysv_line(f"{doing} {what}: ", False)
        print(exc, file=sys.stderr)
        return 1
    return 0


def chkconfig_main(args):
    """EL6's /sbin/chkconfig over the lab's units (enabled = on in runlevels 2-5)."""
    args = list(args)
    if "--level" in args:
        index = args.index("--level")
        del args[index : index + 2]
    if not args or args[0] == "--list":
        names = args[1:2] or _sysv_services()
        for name in names:
            unit = Unit(name)
            if not unit.exists:
                print(
                    f"error reading information on service {name}: No such file or directory",
                    file=sys.stderr,
                )
                return 1
            state = "on" if is_enabled(unit.name) else "off"
            levels = "\t".join(
                f"{level}:{state if 2 <= level <= 5 else 'off'}" for level in range(7)
            )
            print(f"{name:<15}\t{levels}")
        return 0
    if args[0] in ("--add", "--del"):
        if len(args) < 2 or not Unit(args[1]).exists:
            name = args[1] if len(args) > 1 else ""
            print(
                f"error reading information on service {name}: No such file or directory",
                file=sys.stderr,
            )
            return 1
        return 0
    name = args[0]
    unit = Unit(name)
    if not unit.exists:
        print(
            f"error reading information on service {name}: No such file or directory",
            file=sys.stderr,
        )
        return 1
    if len(args) == 1:
        return 0 if is_enabled(unit.name) else 1
    if args[1] == "on":
        enable(name, quiet=True)
    elif args[1] == "off":
        disable(name, quiet=True)
    elif args[1] not in ("reset", "resetpriorities"):
        print("usage: chkconfig [--list] [--type <type>] [name]", file=sys.stderr)
        return 2
    return 0


# ---------------------------------------------------------------- CLI


def main(argv):
    prog = os.path.basename(argv[0])
    args = [a for a in argv[1:]]
    if prog == "service":
        return service_main(args)
    if prog == "chkconfig":
        return chkconfig_main(args)
    if prog in ("reboot",):
        return _signal_init(signal.SIGINT, "reboot")
    if prog in ("poweroff", "halt"):
        return _signal_init(signal.SIGTERM, "power off")
    if prog == "shutdown":
        if "-r" in args or "--reboot" in args:
            return _signal_init(signal.SIGINT, "reboot")
        return _signal_init(signal.SIGTERM, "power off")
    options = [a for a in args if a.startswith("-")]
    words = [a for a in args if not a.startswith("-")]
    # `-n 0` (status lines) and `-P Id`/`-p Prop` (show) take a value.
    for flag in ("-n", "-P", "-p", "--property", "--root", "--type", "-t", "--state"):
        if flag in args:
            index = args.index(flag)
            if index + 1 < len(args) and args[index + 1] in words:
                words.remove(args[index + 1])
    properties = []
    for flag in ("-P", "-p", "--property"):
        if flag in args:
            index = args.index(flag)
            if index + 1 < len(args):
                properties.extend(args[index + 1].split(","))
    value_only = "-P" in args or "--value" in options
    if "--version" in options:
        print(VERSION)
        return 0
    if "--lab-boot" in options:
        return boot()
    if "--lab-shutdown" in options:
        return shutdown()
    if not words:
        words = ["list-units"]
    verb, names = words[0], words[1:]
    try:
        return _dispatch(verb, names, options, properties, value_only)
    except UnitError as exc:
        print(exc, file=sys.stderr)
        return exc.code


def _dispatch(verb, names, options, properties, value_only):
    if verb in ("start", "stop", "restart", "try-restart", "reload-or-restart", "condrestart"):
        for name in names:
            if verb in ("stop", "restart", "try-restart", "reload-or-restart", "condrestart"):
                was_active = is_active(canonical(name))
                if verb in ("try-restart", "condrestart") and not was_active:
                    continue
                if verb != "start":
                    stop(name)
            if verb != "stop":
                start(name)
        return 0
    if verb in ("reload", "force-reload"):
        for name in names:
            if not is_active(canonical(name)):
                raise UnitError(f"Job for {canonical(name)} failed: not active.", 1)
        return 0
    if verb == "is-active":
        code = 0
        for name in names:
            active = is_active(canonical(name))
            print("active" if active else "inactive")
            code = code or (0 if active else 3)
        return code
    if verb == "is-failed":
        failed = any(os.path.exists(_failed_marker(canonical(n))) for n in names)
        print("failed" if failed else "active")
        return 0 if failed else 1
    if verb == "is-enabled":
        code = 0
        for name in names:
            unit = Unit(name)
            state = unit_file_state(unit)
            if state is None:
                print(f"Failed to get unit file state for {unit.name}: No such file or directory")
                return 1
            print(state)
            code = code or (0 if state in ("enabled", "static") else 1)
        return code
    if verb in ("enable", "disable"):
        for name in names:
            (enable if verb == "enable" else disable)(name)
            if "--now" in options:
                (start if verb == "enable" else stop)(name)
        return 0
    if verb in ("daemon-reload", "reset-failed", "daemon-reexec", "mask", "unmask", "preset"):
        return 0
    if verb == "status":
        code = 0
        if not names:
            print("State: running (lab stand-in)")
            return 0
        for name in names:
            text, rc = status_text(Unit(name))
            print(text)
            code = code or rc
        return code
    if verb == "show":
        for name in names:
            props = show_properties(Unit(name))
            for key, value in props.items():
                if properties and key not in properties:
                    continue
                print(value if value_only else f"{key}={value}")
        return 0
    if verb == "list-unit-files":
        if "--no-legend" not in options:
            print("UNIT FILE                              STATE")
        for name, _path in all_unit_files().items():
            print(f"{name:<38} {unit_file_state(Unit(name))}")
        return 0
    if verb == "list-units":
        for entry in sorted(os.listdir(STATE_DIR)) if os.path.isdir(STATE_DIR) else []:
            if entry.endswith(".pid") and is_active(entry[:-4]):
                unit = Unit(entry[:-4])
                print(f"{unit.name} loaded active running {unit.description}")
        return 0
    if verb in ("reboot", "poweroff", "halt"):
        return main([verb])
    raise UnitError(f"Unknown operation '{verb}' (lab stand-in for systemctl).", 1)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
