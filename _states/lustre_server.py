"""
What the upgrade run of an EL7 Lustre server would change on it, reported, never done.

A routine ``state.highstate`` on a server that serves Lustre targets must not reboot it
nor change the software its targets depend on (kernel, Lustre, ZFS/SPL, e2fsprogs, the HA
stack, the IML agent). Outside the upgrade run of that node the state tree
(``salt/lustre/server``, ``salt/lustre/ha.sls``, ``salt/iml/agent/install.sls``) renders
this state in place of those package states and of the reboot: it succeeds, changes
nothing (with or without ``test=True``) and lists in its comment what the upgrade run
would change. Only the orchestration, for a node it has evacuated, passes the pillar
``lustre_upgrade_run:evacuated_node: <minion id>`` that renders the changes themselves.

.. code-block:: yaml

    lustre-server-kernel-upgrade-pending:
      lustre_server.upgrade_pending:
        - pkgs:
          - kernel: 3.10.0-957.10.1.el7_lustre
          - gcc
        - latest: [e2fsprogs]
        - fromrepo: e2fsprogs-wc
        - removed_if_newer: [kernel-tools, kernel-tools-libs]
        - newer_than: 3.10.0-957.10.1.el7_lustre
        - kernel_release: 3.10.0-957.10.1.el7_lustre.x86_64
"""

import shlex

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "lustre_server"

RUN_KEY = "lustre_upgrade_run:evacuated_node"


def __virtual__():
    if "pkg.list_pkgs" in __salt__ and "pkg.version_cmp" in __salt__:
        return __virtualname__
    return (False, "no package manager (pkg.list_pkgs, pkg.version_cmp) on this minion")


def _wanted(pkgs):
    """``pkgs`` as pkg.installed takes it (names, or one-key mappings name: version)."""
    wanted = []
    for entry in pkgs or []:
        if isinstance(entry, dict) and len(entry) == 1:
            ((name, version),) = entry.items()
            wanted.append((str(name), None if version in (None, "") else str(version)))
        elif isinstance(entry, str) and entry:
            wanted.append((entry, None))
        else:
            raise SaltInvocationError(
                f"pkgs entry {entry!r} is neither a package name nor a mapping name: version"
            )
    return wanted


def _compare(first, second):
    """cmp of two package versions (epoch ignored); None when they cannot be compared."""
    return __salt__["pkg.version_cmp"](first, second, ignore_epoch=True)


def _is(installed, wanted):
    return installed == wanted or _compare(installed, wanted) == 0


def _newest(names, fromrepo):
    """The newest version of each name in ``fromrepo`` newer than the installed one."""
    kwargs = {"refresh": False}
    if fromrepo:
        kwargs["fromrepo"] = fromrepo
    try:
        found = __salt__["pkg.latest_version"](*names, **kwargs)
    except (CommandExecutionError, SaltInvocationError) as exc:
        return {}, str(exc)
    if len(names) == 1:
        found = {names[0]: found}
    return {n: v for n, v in (found or {}).items() if v}, None


def _running_kernel(command):
    # The pillar gives a command line (default `uname -r`); it runs as argv, no shell.
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    out = __salt__["cmd.run_all"](argv, python_shell=False, ignore_retcode=True, timeout=60)
    if out["retcode"] != 0 or not out["stdout"].strip():
        raise CommandExecutionError(
            f"cannot tell the running kernel: {command!r} exited {out['retcode']}: "
            f"{(out['stderr'] or out['stdout']).strip()}"
        )
    return out["stdout"].strip()


def upgrade_pending(
    name,
    pkgs=None,
    latest=None,
    fromrepo=None,
    removed_if_newer=None,
    newer_than=None,
    kernel_release=None,
    running_kernel_command="uname -r",
):
    """
    Report, without changing anything, what the upgrade run of this node would change:
    each package whose installed version differs from the wanted one, and the reboot
    into the Lustre kernel when another kernel runs. The state succeeds with no changes
    (also with ``test=True``); it fails only when it cannot read the package database or
    the running kernel.

    name
        What is reported (free text).
    pkgs
        Packages the run installs, as ``pkg.installed`` takes them: a name (any version
        will do: reported when not installed) or ``name: version`` (reported unless that
        version is installed).
    latest
        Packages the run upgrades to the newest of ``fromrepo`` (``pkg.latest``):
        reported when not installed, or when the repository (as the node's cache knows
        it, not refreshed) has a newer one.
    fromrepo
        The repository of ``latest``.
    removed_if_newer
        Packages the run removes when installed at a version newer than ``newer_than``.
    newer_than
        The version of ``removed_if_newer``'s comparison.
    kernel_release
        The kernel release the run reboots into (``uname -r`` of the Lustre kernel);
        reported when ``running_kernel_command`` prints another one.
    running_kernel_command
        Shell command printing the running kernel release (default ``uname -r``).
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    try:
        wanted = _wanted(pkgs)
        installed = __salt__["pkg.list_pkgs"](versions_as_list=True)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["comment"] = f"Cannot read what an upgrade run would change: {exc}"
        return ret

    lines = []
    removed = list(removed_if_newer or [])
    if removed and newer_than:
        newer = {
            n: v
            for n in removed
            for v in installed.get(n, [])
            if (_compare(v, str(newer_than)) or 0) > 0
        }
        if newer:
            for package in removed:
                for version in installed.get(package, []):
                    lines.append(
                        f"- {package}: installed {version}, newer than {newer_than}: removed"
                    )

    latest = [str(n) for n in (latest or [])]
    if latest:
        present = [n for n in latest if n in installed]
        newest, error = _newest(present, fromrepo) if present else ({}, None)
        where = f"the newest of {fromrepo}" if fromrepo else "the newest available"
        for package in latest:
            if package not in installed:
                lines.append(f"- {package}: not installed, wanted {where}")
            elif package in newest:
                versions = ", ".join(installed[package])
                lines.append(f"- {package}: installed {versions}, wanted {newest[package]}")
        if error:
            lines.append(f"- {', '.join(present)}: {where} is not known ({error})")

    for package, version in wanted:
        versions = installed.get(package, [])
        if not versions:
            lines.append(f"- {package}: not installed" + (f", wanted {version}" if version else ""))
        elif version and not any(_is(v, version) for v in versions):
            lines.append(f"- {package}: installed {', '.join(versions)}, wanted {version}")

    if kernel_release:
        try:
            running = _running_kernel(running_kernel_command)
        except CommandExecutionError as exc:
            ret["comment"] = str(exc)
            return ret
        if running != kernel_release:
            lines.append(f"- reboot into {kernel_release} (running {running})")

    ret["result"] = True
    minion = __opts__.get("id")
    if not lines:
        ret["comment"] = f"Nothing pending for the upgrade run of this node ({name})"
        return ret
    ret["comment"] = (
        f"Pending for the upgrade run of this node ({name}):\n"
        + "\n".join(lines)
        + "\nNothing was changed: only the upgrade run that has evacuated this node makes "
        f"these changes (pillar {RUN_KEY}: {minion})"
    )
    return ret
