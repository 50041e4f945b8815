"""
IML agent state on a Lustre server: target mount points and the manager's repository file.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "iml"


def __virtual__():
    if "iml.targets" in __salt__:
        return __virtualname__
    return (False, "the iml execution module of this extension is not loaded")


def target_mountpoints(name="/var/lib/chroma/targets", mode="0755"):
    """
    Create the mount point of every target in IML's target store ``name``.

    The ``ocf:chroma:Target`` resource agent fails when a target's ``mntpt`` is missing
    (runbook, "Configure the High Availability Framework"). Every target file is validated
    and every mount point checked before anything is created; existing directories are
    never changed.

    name
        The target store, ``/var/lib/chroma/targets`` or a backed-up copy of it.
    mode
        Mode of the directories created (default ``0755``).

    .. code-block:: yaml

        /var/lib/chroma/targets:
          iml.target_mountpoints
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    try:
        states = __salt__["iml.mountpoints"](name)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["comment"] = str(exc)
        return ret
    if not states:
        ret["result"] = True
        ret["comment"] = f"Target store {name} lists no target: no mount point to create"
        return ret
    blocked = sorted(m for m, s in states.items() if s == "not-a-directory")
    if blocked:
        ret["comment"] = (
            f"Target mount points exist but are not directories: {', '.join(blocked)}; "
            "move them away (they are not Lustre mounts) and run again. Nothing was created"
        )
        return ret
    missing = sorted(m for m, s in states.items() if s == "missing")
    if not missing:
        ret["result"] = True
        ret["comment"] = f"All {len(states)} target mount points exist"
        return ret
    if __opts__["test"]:
        try:
            predicted = __salt__["iml.make_mountpoints"](name, mode=mode, test=True)
        except (CommandExecutionError, SaltInvocationError) as exc:
            ret["comment"] = str(exc)
            return ret
        ret["result"] = None
        ret["changes"] = {"created": predicted["created"]}
        ret["comment"] = f"Would create {len(predicted['created'])} target mount point(s)"
        return ret
    try:
        __salt__["iml.make_mountpoints"](name, mode=mode)
        after = __salt__["iml.mountpoints"](name)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["comment"] = str(exc)
        return ret
    created = [m for m in missing if after.get(m) == "present"]
    still = sorted(m for m, s in after.items() if s != "present")
    if created:
        ret["changes"] = {"created": created}
    if still:
        ret["comment"] = f"Target mount points still missing after creation: {', '.join(still)}"
        return ret
    ret["result"] = True
    ret["comment"] = f"Created {len(created)} target mount point(s)"
    return ret


def agent_repo(
    name="/etc/yum.repos.d/Manager-for-Lustre.repo",
    manager=None,
    cert_dir="/var/lib/chroma",
    port=None,
    url=None,
):
    """
    Install the IML manager's ``Manager-for-Lustre.repo`` as ``name``.

    Fetched from ``https://<manager>/repo/Manager-for-Lustre.repo`` with the node's IML
    client certificate (``cert_dir``: ``authority.crt``, ``self.crt``, ``private.pem``),
    written only when it differs. With test=True the file is fetched and compared.

    name
        Where the repository file goes.
    manager
        The IML manager's host name (its FQDN).
    cert_dir
        Directory holding the node's IML certificates.
    port, url
        Override the manager's port, or the whole URL.

    .. code-block:: yaml

        /etc/yum.repos.d/Manager-for-Lustre.repo:
          iml.agent_repo:
            - manager: mgr.lfs.intl
    """
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    kwargs = {"dest": name, "cert_dir": cert_dir, "port": port, "url": url}
    try:
        predicted = __salt__["iml.fetch_agent_repo"](manager, test=True, **kwargs)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["comment"] = str(exc)
        return ret
    if not predicted["changed"]:
        ret["result"] = True
        ret["comment"] = f"{name} is up to date with {predicted['url']}"
        return ret
    if __opts__["test"]:
        ret["result"] = None
        ret["changes"] = {"diff": predicted["diff"]}
        ret["comment"] = f"Would write {name} from {predicted['url']}"
        return ret
    try:
        __salt__["iml.fetch_agent_repo"](manager, **kwargs)
        after = __salt__["iml.fetch_agent_repo"](manager, test=True, **kwargs)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["comment"] = str(exc)
        return ret
    ret["changes"] = {"diff": predicted["diff"]}
    if after["changed"]:
        ret["comment"] = (
            f"{name} still differs from {after['url']} after writing it; check whether "
            "something else manages the file"
        )
        return ret
    ret["result"] = True
    ret["comment"] = f"Wrote {name} from {predicted['url']}"
    return ret
