"""
State: this node's configuration is restored from its own backup.

.. code-block:: yaml

    node-configuration-restored:
      node_backup.restored:
        - name: /var/lib/lustre-upgrade/restore/bck-oss1-a-20260101-120000.tgz.sealed
        - sha256: {{ pillar.lustre_upgrade_run.sha256 }}
        - archive_sha256: {{ pillar.lustre_upgrade_run.archive_sha256 }}
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "node_backup"


def __virtual__():
    if "node_backup.restore" in __salt__:
        return __virtualname__
    return (False, "the node_backup execution module is not loaded")


def restored(name, sha256=None, root="/", archive_sha256=None, keep_accounts=None, selinux=None):
    """
    Restore the runbook's files from the backup ``name`` (the archive or the sealed copy
    the master delivered); differing files are replaced and the installed originals kept
    as ``.inst``, the account files merged, the restored paths relabelled where SELinux
    is enabled.

    sha256
        Required: the sha256 the master recorded for ``name`` (``deliver_backup``'s
        ``sha256``); any other file fails the state before anything changes.
    archive_sha256
        The sha256 of the backup archive the master verified (``deliver_backup``'s
        ``archive_sha256``), checked inside the sealed copy.
    keep_accounts
        Accounts restored besides the site's (default: pillar
        ``lustre_upgrade:backup:keep_accounts``).

    A backup of another node, one that does not verify, or an account id clash fails the
    state before anything changes. A failure after the first change puts every replaced
    path back; ``changes`` then says what was rolled back, what could not be, and where
    the backup was unpacked.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    test = bool(__opts__.get("test"))
    try:
        outcome = __salt__["node_backup.restore"](
            name,
            sha256=sha256,
            root=root,
            test=test,
            selinux=selinux,
            keep_accounts=keep_accounts,
            archive_sha256=archive_sha256,
        )
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["result"] = False
        ret["comment"] = str(exc)
        info = getattr(exc, "info", None)
        if isinstance(info, dict):
            ret["changes"] = {
                key: info[key] for key in ("rolled_back", "left_changed", "staged") if info.get(key)
            }
        return ret
    if not outcome["changed"]:
        ret["comment"] = f"the configuration already matches backup {outcome['backup']}"
        return ret
    ret["changes"] = {
        "restored": outcome["changed"],
        "kept_as_inst": outcome["kept_as_inst"],
    }
    if outcome["accounts"]["users"] or outcome["accounts"]["groups"]:
        ret["changes"]["accounts"] = outcome["accounts"]
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
