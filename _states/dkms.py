"""
Checks on DKMS kernel modules (a check only: it never builds or installs a module).
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "dkms"


def __virtual__():
    if "dkms.verify" in __salt__:
        return __virtualname__
    return (False, "the dkms execution module of this extension is not loaded")


def installed(name, modules, arch=None):
    """
    Verify that every DKMS module in ``modules`` is installed for kernel ``name``.

    The runbook's check after installing the Lustre packages ("All packages should have
    the status installed"). It reports, never changes: a missing module makes the state
    fail with the command to run. With test=True a missing module gives result None
    (packages installed earlier in the same run may still provide it).

    name
        Kernel release, e.g. ``3.10.0-957.1.3.el7_lustre.x86_64``.
    modules
        DKMS module names, e.g. ``[lustre, spl, zfs]``.
    arch
        Only accept entries for this architecture (default: any).

    .. code-block:: yaml

        lustre-dkms-modules:
          dkms.installed:
            - name: 3.10.0-957.1.3.el7_lustre.x86_64
            - modules: [lustre, spl, zfs]
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    wanted = ", ".join(modules) if isinstance(modules, (list, tuple)) else str(modules)
    try:
        found = __salt__["dkms.verify"](modules, kernel=name, arch=arch)
    except (CommandExecutionError, SaltInvocationError) as exc:
        if __opts__["test"]:
            ret["result"] = None
            ret["comment"] = f"Cannot check DKMS modules {wanted} for {name} now: {exc}"
        else:
            ret["comment"] = str(exc)
        return ret

    warnings = "".join(f"\nWarning: {w}" for w in found["warnings"])
    if found["ok"]:
        ret["result"] = True
        ret["comment"] = f"DKMS modules {wanted} are installed for {name}{warnings}"
        return ret

    todo = "\n".join(f"- {line}" for line in found["remedy"])
    missing = ", ".join(found["missing"])
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = (
            f"DKMS modules {missing} are not installed for {name} now; this check fails "
            f"unless earlier states install them. To fix:\n{todo}{warnings}"
        )
    else:
        ret["comment"] = (
            f"DKMS modules {missing} are not installed for {name}. To fix:\n{todo}{warnings}"
        )
    return ret
