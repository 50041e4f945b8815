"""
Host ids as ``hostid`` prints them and as ``/etc/hostid`` stores them.

glibc's ``gethostid()`` reads the 4 bytes of ``/etc/hostid`` in host byte order and
``hostid`` prints the value as 8 lowercase hex digits; genhostid and zgenhostid write the
file that way. ZFS records that value in every pool it imports.
"""

import re
import sys

from salt.exceptions import CommandExecutionError, SaltInvocationError

HOSTID_BYTES = 4
_HEX = re.compile(r"[0-9a-f]{1,8}")
_HEX8 = re.compile(r"[0-9a-f]{8}")


def normalize(hostid):
    """
    A hostid as 8 lowercase hex digits (``hostid`` prints it so).

    Accepts what people write too (``0xC0A8000A``, ``a8c0``); anything else raises
    SaltInvocationError.
    """
    text = str(hostid).strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if not _HEX.fullmatch(text):
        raise SaltInvocationError(f"{hostid!r} is not a hostid (up to 8 hex digits)")
    return text.zfill(8)


def from_bytes(data, byteorder=sys.byteorder):
    """
    The hostid the raw bytes of a hostid file hold, as 8 hex digits.

    Raises ValueError unless ``data`` is exactly 4 bytes: ``gethostid()`` ignores such a
    file and ZFS would see another hostid.
    """
    if len(data) != HOSTID_BYTES:
        raise ValueError(f"holds {len(data)} bytes; a hostid file holds exactly {HOSTID_BYTES}")
    return f"{int.from_bytes(data, byteorder):08x}"


def to_bytes(hostid, byteorder=sys.byteorder):
    """The 4 bytes a hostid file holds for ``hostid`` (see :func:`normalize`)."""
    return int(normalize(hostid), 16).to_bytes(HOSTID_BYTES, byteorder)


def parse_command_output(stdout):
    """The hostid ``hostid`` printed; CommandExecutionError when it is not 8 hex digits."""
    out = (stdout or "").strip().lower()
    if not _HEX8.fullmatch(out):
        raise CommandExecutionError(f"hostid printed {out!r}, not 8 hex digits")
    return out


def parse_file(data, path):
    """
    The hostid stored in the content ``data`` of the hostid file ``path``.

    A file that is not exactly 4 bytes raises CommandExecutionError naming the file and
    what to do: it is never overwritten automatically.
    """
    try:
        return from_bytes(data)
    except ValueError as exc:
        raise CommandExecutionError(
            f"{path} {exc}; it is not a valid hostid file. Inspect it (od -An -tx {path}) "
            "and remove or repair it by hand: it is never overwritten automatically"
        ) from exc
