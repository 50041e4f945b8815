"""
DKMS: what ``dkms status`` says about the kernel modules Lustre, SPL and ZFS need.

The runbook verifies a ZFS or mixed-OSD server by reading ``dkms status`` after the
Lustre packages are installed: every module must be ``installed`` for the kernel the node
boots. This module runs ``dkms status`` and answers with the library's reading of it
(``lustre_upgrade_lib.dkms_status``, every dkms format seen on Lustre servers); it never
builds or installs anything.
"""

import salt.utils.path
from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    import lustre_upgrade_lib
    from lustre_upgrade_lib import cli_args, commandline, dkms_status
except ImportError as exc:
    _MISSING = f"{exc}: sync _utils/ with saltutil.sync_all, or pip install the extension"
else:
    _MISSING = None

__virtualname__ = "dkms"

# ``dkms status`` reads /var/lib/dkms: it answers at once unless a build holds its lock.
STATUS_TIMEOUT = 120


def __virtual__():
    if _MISSING:
        return (False, f"dkms needs the library lustre_upgrade_lib: {_MISSING}")
    lustre_upgrade_lib.reload_changed()
    return __virtualname__


def parse_status(text):
    """
    Parse the whole output of ``dkms status`` into a list of entry dicts.

    Each entry is ``{"module", "version", "kernel", "arch", "state", "warning"}``;
    ``kernel``/``arch`` are None for modules only ``added``; ``warning`` is None or the
    distinct warning suffixes joined by ``"; "``. Lines that are not status lines (dkms
    prints deprecation notes and errors among them) are skipped.

    CLI Example:

    .. code-block:: bash

        salt '*' dkms.parse_status 'zfs/0.7.13, 3.10.0-957.el7.x86_64, x86_64: installed'
    """
    return dkms_status.parse(text)


def status(kernel=None, timeout=STATUS_TIMEOUT):
    """
    Return every ``dkms status`` entry, optionally only those for one kernel.
    ``dkms status`` must answer within ``timeout`` seconds.

    CLI Example:

    .. code-block:: bash

        salt '*' dkms.status
        salt '*' dkms.status kernel=3.10.0-957.1.3.el7_lustre.x86_64
    """
    entries = dkms_status.parse(_run_status(timeout))
    if kernel:
        entries = [e for e in entries if e["kernel"] == kernel]
    return entries


def verify(modules, kernel=None, arch=None, timeout=STATUS_TIMEOUT):
    """
    Check that each DKMS module is installed for a kernel (default: the running one),
    from a ``dkms status`` that must answer within ``timeout`` seconds.

    Returns ``{"ok": bool, "missing": [...], "warnings": [...], "kernel": ...,
    "found": {...}, "remedy": [...]}``. ``modules`` is a list or a comma-separated string.

    CLI Example:

    .. code-block:: bash

        salt '*' dkms.verify lustre,spl,zfs
        salt '*' dkms.verify '[lustre, zfs]' kernel=3.10.0-957.1.3.el7_lustre.x86_64
    """
    modules = cli_args.as_list(modules)
    if not modules:
        raise SaltInvocationError("dkms.verify needs at least one module name")
    if not kernel:
        kernel = __grains__.get("kernelrelease")
    if not kernel:
        raise CommandExecutionError("the running kernel is unknown: pass kernel=<release>")
    text = _run_status(timeout)
    return dkms_status.verification(dkms_status.parse(text), modules, kernel, arch=arch)


def _run_status(timeout):
    binary = salt.utils.path.which("dkms")
    if not binary:
        raise CommandExecutionError(
            "dkms is not installed: install it (yum install dkms, from EPEL) before the "
            "Lustre/ZFS DKMS packages"
        )
    argv = [binary, "status"]
    res = __salt__["cmd.run_all"](
        argv, python_shell=False, ignore_retcode=True, output_loglevel="debug", timeout=timeout
    )
    if commandline.timed_out(res):
        raise CommandExecutionError(
            f"dkms status did not finish within {commandline.seconds(timeout)}s and was "
            f"stopped ({' '.join(argv)}); a dkms build may hold its lock: check `ps -ef | "
            "grep dkms` and run again"
        )
    if res["retcode"] != 0:
        raise CommandExecutionError(
            f"dkms status failed (exit {res['retcode']}): {res['stderr'].strip()}"
        )
    return res["stdout"]
