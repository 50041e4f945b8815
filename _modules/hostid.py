"""
Persistent host id for ZFS-safe Lustre servers.

ZFS records the importing host's hostid in every pool (and multihost protection relies
on it), so a server that may import a shared pool needs a hostid that survives reboots:
the 4 bytes of ``/etc/hostid``, in host byte order, which glibc's ``gethostid()`` reads.
The runbook generates it with ``genhostid``; EL7 without initscripts has no such tool, so
this module writes the value ``hostid`` prints now, the way genhostid/zgenhostid store
it, and never replaces an existing persistent hostid.
"""

from salt.exceptions import CommandExecutionError

try:
    import lustre_upgrade_lib
    from lustre_upgrade_lib import fileio, hostid_value
except ImportError as exc:
    _MISSING = f"{exc}: sync _utils/ with saltutil.sync_all, or pip install the extension"
else:
    _MISSING = None

__virtualname__ = "hostid"

DEFAULT_PATH = "/etc/hostid"
HOSTID_TIMEOUT = 30


def __virtual__():
    if _MISSING:
        return (False, f"hostid needs the library lustre_upgrade_lib: {_MISSING}")
    lustre_upgrade_lib.reload_changed()
    return __virtualname__


def read(path=DEFAULT_PATH):
    """
    Return the persistent hostid and the one in effect.

    ``persistent`` is None when the file does not exist. A file that is not exactly 4
    bytes is an error: gethostid() would ignore it and ZFS would see another hostid.

    CLI Example:

    .. code-block:: bash

        salt '*' hostid.read
    """
    return {"path": path, "persistent": _read_file(path), "current": current()}


def current():
    """
    Return the hostid in effect now (``hostid``), as 8 lowercase hex digits.

    CLI Example:

    .. code-block:: bash

        salt '*' hostid.current
    """
    res = __salt__["cmd.run_all"](
        ["hostid"], python_shell=False, ignore_retcode=True, timeout=HOSTID_TIMEOUT
    )
    if res["retcode"] != 0:
        raise CommandExecutionError(f"hostid failed: {res['stderr'].strip()}")
    return hostid_value.parse_command_output(res["stdout"])


def make_persistent(path=DEFAULT_PATH, test=False, hostid=None):
    """
    Write the current hostid (or ``hostid``) to ``path`` unless a persistent hostid
    already exists.

    hostid
        The hostid to keep, e.g. the one the node's backup recorded (what its ZFS pools
        were last imported under); default: what ``hostid`` prints now.

    Returns ``{"changed": bool, "hostid": "xxxxxxxx", "path": path}``. An existing file
    is never rewritten, even if it differs from what ``hostid`` prints: pools may already
    carry that value. If it differs from ``hostid``, that is an error naming both values.

    CLI Example:

    .. code-block:: bash

        salt '*' hostid.make_persistent
        salt '*' hostid.make_persistent hostid=c0a8000a
    """
    wanted = None if hostid is None else hostid_value.normalize(hostid)
    existing = _read_file(path)
    if existing is not None:
        if wanted is not None and existing != wanted:
            raise CommandExecutionError(
                f"{path} holds hostid {existing}, not {wanted}: it is never replaced, since "
                "pools may carry either value. Check which hostid the node's ZFS pools were "
                "last imported under (zpool import shows the host id) and correct the file "
                "by hand"
            )
        return {"changed": False, "hostid": existing, "path": path}
    value = wanted or current()
    if not test:
        try:
            # link(2), not rename(2): a hostid written meanwhile by someone else is kept.
            fileio.atomic_write(path, hostid_value.to_bytes(value), mode=0o644, replace=False)
        except FileExistsError as exc:
            raise CommandExecutionError(
                f"{path} appeared while the hostid was being written; it was left as it is"
            ) from exc
        written = _read_file(path)
        if written != value:
            raise CommandExecutionError(
                f"{path} reads {written} after writing {value}; check the file system"
            )
    return {"changed": True, "hostid": value, "path": path}


def _read_file(path):
    try:
        data = fileio.read_bytes(path)
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {path}: {exc}") from exc
    return None if data is None else hostid_value.parse_file(data, path)
