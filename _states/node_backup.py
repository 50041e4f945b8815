"""
State: this node's configuration is restored from its own backup.

.. code-block:: yaml

    node-configuration-restored:
      node_backup.restored:
        - name: /var/lib/lustre-upgrade/restore/bck-oss1-a-20260101-120000.tgz.sealed
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "node_backup"


def __virtual__():
    if "node_backup.restore" in __salt__:
        return __virtualname__
    return (False, "the node_backup execution module is not loaded")


def restored(name, root="/"):
    """
    Restore the runbook's files from the backup ``name`` (the archive or the sealed copy
    the master delivered); differing files are replaced and the installed originals kept
    as ``.inst``. A backup of another node, or one that does not verify, fails the state
    before anything changes.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    test = bool(__opts__.get("test"))
    try:
        outcome = __salt__["node_backup.restore"](name, root=root, test=test)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret
    if not outcome["changed"]:
        ret["comment"] = f"the configuration already matches backup {outcome['backup']}"
        return ret
    ret["changes"] = {
        "restored": outcome["changed"],
        "kept_as_inst": outcome["kept_as_inst"],
    }
    reference = outcome["reference_only"]
    note = f"; network files for reference in {', '.join(reference)}" if reference else ""
    if test:
        ret["result"] = None
        ret["comment"] = (
            f"{len(outcome['changed'])} paths would be restored from {outcome['backup']}"
        )
    else:
        ret["comment"] = f"{len(outcome['changed'])} paths restored from {outcome['backup']}{note}"
    return ret
