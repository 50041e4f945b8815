"""
Persistent host id for ZFS-safe Lustre servers.

ZFS records the importing host's hostid in every pool (and multihost protection relies
on it), so a server that may import a shared pool needs a hostid that survives reboots:
the 4 bytes of ``/etc/hostid``, in host byte order, which glibc's ``gethostid()`` reads.
The runbook generates it with ``genhostid``; EL7 without initscripts has no such tool, so
this module writes the value ``hostid`` prints now, the way genhostid/zgenhostid store
it, and never replaces an existing persistent hostid.
"""

import os
import re
import sys
import tempfile

from salt.exceptions import CommandExecutionError

__virtualname__ = "hostid"

DEFAULT_PATH = "/etc/hostid"
HOSTID_BYTES = 4
_HEX8 = re.compile(r"^[0-9a-f]{8}$")


def __virtual__():
    return __virtualname__


def _parse_hostid_bytes(data, byteorder=sys.byteorder):
    """Return the 8-hex-digit hostid stored in the raw bytes of a hostid file."""
    if len(data) != HOSTID_BYTES:
        raise ValueError(f"holds {len(data)} bytes; a hostid file holds exactly {HOSTID_BYTES}")
    return f"{int.from_bytes(data, byteorder):08x}"


def _hostid_to_bytes(hostid, byteorder=sys.byteorder):
    """Return the 4 bytes a hostid file holds for an 8-hex-digit hostid."""
    return int(_normalize(hostid), 16).to_bytes(HOSTID_BYTES, byteorder)


def _normalize(hostid):
    """Return a hostid as 8 lowercase hex digits (``hostid`` prints it so)."""
    text = str(hostid).strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if not re.fullmatch(r"[0-9a-f]{1,8}", text):
        raise ValueError(f"{hostid!r} is not a hostid (up to 8 hex digits)")
    return text.zfill(8)


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
    res = __salt__["cmd.run_all"](["hostid"], python_shell=False, ignore_retcode=True)
    if res["retcode"] != 0:
        raise CommandExecutionError(f"hostid failed: {res['stderr'].strip()}")
    out = res["stdout"].strip().lower()
    if not _HEX8.match(out):
        raise CommandExecutionError(f"hostid printed {out!r}, not 8 hex digits")
    return out


def make_persistent(path=DEFAULT_PATH, test=False):
    """
    Write the current hostid to ``path`` unless a persistent hostid already exists.

    Returns ``{"changed": bool, "hostid": "xxxxxxxx", "path": path}``. An existing file
    is never rewritten, even if it differs from what ``hostid`` prints: pools may already
    carry that value.

    CLI Example:

    .. code-block:: bash

        salt '*' hostid.make_persistent
    """
    existing = _read_file(path)
    if existing is not None:
        return {"changed": False, "hostid": existing, "path": path}
    value = current()
    if not test:
        _atomic_write(path, _hostid_to_bytes(value))
        written = _read_file(path)
        if written != value:
            raise CommandExecutionError(
                f"{path} reads {written} after writing {value}; check the file system"
            )
    return {"changed": True, "hostid": value, "path": path}


def _read_file(path):
    try:
        with open(path, "rb") as fh:
            data = fh.read(HOSTID_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {path}: {exc}") from exc
    try:
        return _parse_hostid_bytes(data)
    except ValueError as exc:
        raise CommandExecutionError(
            f"{path} {exc}; it is not a valid hostid file. Inspect it (od -An -tx {path}) "
            "and remove or repair it by hand: it is never overwritten automatically"
        ) from exc


def _atomic_write(path, data):
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".hostid.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        # link(2), unlike rename(2), fails when the target exists: a hostid written
        # meanwhile by someone else is kept, never replaced.
        os.link(tmp, path)
    except FileExistsError as exc:
        raise CommandExecutionError(
            f"{path} appeared while the hostid was being written; it was left as it is"
        ) from exc
    finally:
        os.unlink(tmp)
