"""
Corosync configuration files and ring status, as data.

The parsing lives in the library (``lustre_upgrade_lib.corosync_conf``): a tokenizer
and a recursive parser of the brace format that read corosync.conf the way corosync
does, for all three generations (1.x: EL6 and IML's template, ``totem.interface``
rings; 2.x: EL7, a nodelist; 3.x: knet links). This module reads the local files and
runs ``corosync-cfgtool``.
"""

import os

from salt.exceptions import CommandExecutionError

try:
    import lustre_upgrade_lib
    from lustre_upgrade_lib import commandline, corosync_conf
except ImportError as exc:
    _MISSING = f"{exc}: sync _utils/ with saltutil.sync_all, or pip install the extension"
else:
    _MISSING = None

__virtualname__ = "corosync"

DEFAULT_CONF = "/etc/corosync/corosync.conf"
# corosync-cfgtool answers at once, or hangs when corosync is wedged.
CFGTOOL_TIMEOUT = 30


def __virtual__():
    if _MISSING:
        return (False, f"corosync needs the library lustre_upgrade_lib: {_MISSING}")
    lustre_upgrade_lib.reload_changed()
    return __virtualname__


def parse(text, source="corosync.conf"):
    """
    Parse corosync.conf text into nested dicts.

    Scalar keys map to their string value (a repeated key keeps the last value, as
    corosync does); block names map to a list of dicts, one per block, in file order.
    Unbalanced braces, a key with neither ``:`` nor ``{``, or a key used both as a
    value and as a block raise CommandExecutionError naming ``source`` and the line.

    CLI Example:

    .. code-block:: bash

        salt '*' corosync.parse "totem { version: 2 }"
    """
    return corosync_conf.parse(text, source)


def parse_conf(text, source="corosync.conf"):
    """
    Return the parts of a corosync.conf that a new cluster's setup needs.

    ``{"totem": {key: value}, "interfaces": [{"ringnumber", "bindnetaddr", "mcastaddr",
    "mcastport"}], "nodes": [{key: value}], "generation": "1.x"|"2.x"|"3.x"}``.
    ``totem`` holds its scalar keys as strings; ``interfaces`` are sorted by ring (a knet
    ``linknumber`` is reported as ``ringnumber``; absent values are None, ring and port
    are ints); ``nodes`` are the nodelist entries in file order (strings as written).

    CLI Example:

    .. code-block:: bash

        salt '*' corosync.parse_conf "$(cat /etc/corosync/corosync.conf)"
    """
    return corosync_conf.parse_conf(text, source)


def read_conf(path=DEFAULT_CONF):
    """
    Read a corosync.conf of any generation (see ``parse_conf`` for the returned shape).

    CLI Example:

    .. code-block:: bash

        salt '*' corosync.read_conf
        salt '*' corosync.read_conf /root/bck-mds1-20170418/etc/corosync/corosync.conf
    """
    return corosync_conf.read_conf(path)


def parse_ring_status(text):
    """
    Parse ``corosync-cfgtool -s`` output (2.x rings and 3.x knet links).

    Returns ``{"local_nodeid": int|None, "rings": [{"ring", "address", "status",
    "faulty"}]}``. For 3.x the status is the per-node link state joined as
    ``"nodeid N: state"`` lines; a ring is faulty when 2.x does not say "no faults" or a
    3.x peer is neither ``localhost`` nor ``connected``.

    CLI Example:

    .. code-block:: bash

        salt '*' corosync.parse_ring_status "$(corosync-cfgtool -s)"
    """
    return corosync_conf.parse_ring_status(text)


def ring_status(timeout=CFGTOOL_TIMEOUT):
    """
    Return the ring (link) status of the local corosync (``corosync-cfgtool -s``), which
    must answer within ``timeout`` seconds.

    CLI Example:

    .. code-block:: bash

        salt '*' corosync.ring_status
    """
    argv = ["corosync-cfgtool", "-s"]
    res = __salt__["cmd.run_all"](argv, python_shell=False, ignore_retcode=True, timeout=timeout)
    if commandline.timed_out(res):
        raise CommandExecutionError(
            f"{commandline.failure_message(argv, res, timeout)}; is corosync wedged? "
            "Check `systemctl status corosync` and the corosync log"
        )
    if res["retcode"] != 0 and not res["stdout"].strip():
        raise CommandExecutionError(
            f"corosync-cfgtool -s failed: {res['stderr'].strip()}; is corosync running?"
        )
    return corosync_conf.parse_ring_status(res["stdout"])


def exists(path=DEFAULT_CONF):
    """
    Whether a corosync.conf exists at ``path``.

    CLI Example:

    .. code-block:: bash

        salt '*' corosync.exists
    """
    return os.path.isfile(path)
