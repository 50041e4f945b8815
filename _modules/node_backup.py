"""
Back up and restore the configuration of a Lustre server or IML manager node.

The archive is the runbook's backup (``bck-<host>-<timestamp>.tgz``, one top directory
holding the listed files under their absolute paths, the CIB as
``cluster-cfg-<host>.xml`` or the IML database as ``pgbackup-<timestamp>.sql.gz``) plus two
members that make it verifiable: ``SHA256SUMS`` (``sha256sum`` format, paths relative to
the top directory) and ``backup.json`` (who, what, when, and which listed paths were
absent on the node). EL6 nodes, which cannot run this module, produce the same layout with
``salt://lustre/files/node-backup.sh``.

Backups hold /etc/shadow, SSH host keys and fence passwords. On the master they are
root-only; to bring one back, the master seals it for the node's own minion key
(``seal``), so the copy in transit and in the job cache opens only on that node. Anyone can
seal for a public key, so ``restore`` also takes the sha256 the master recorded and
refuses any other file; once the master holds a verified copy, ``prune`` removes the
node's plaintext ones.

A restore is one transaction: each file is written beside its target and renamed over
it, the replaced originals are put back if any step (or the SELinux relabelling) fails,
and what was put back is reported. Restored files carry content, mode, owner and times,
never the staging directory's extended attributes; where SELinux is enabled, ``restorecon
-RF`` relabels every restored path.

The format (manifests, checksums, ``backup.json``, verification, sealing, the restore
comparison) is the library's ``lustre_upgrade_lib.backup_format``: the master verifies and
seals with the same code. This module takes the backup (``cibadmin``, ``pg_dumpall``,
``cp.push``) and restores it.
"""

import glob
import gzip
import logging
import os
import shutil
import socket
import tempfile
import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    import cryptography  # noqa: F401  (backup_format seals and opens backups with it)

    import lustre_upgrade_lib
    from lustre_upgrade_lib import backup_format, cli_args, file_transaction, fileio, hostid_value
except ImportError as exc:
    if (exc.name or "").startswith("cryptography"):
        _MISSING = f"{exc}: install python3-cryptography (EL7: python36-cryptography)"
    else:
        _MISSING = f"{exc}: sync _utils/ with saltutil.sync_all, or pip install the extension"
else:
    _MISSING = None

log = logging.getLogger(__name__)

__virtualname__ = "node_backup"

DEFAULT_DEST = "/var/lib/lustre-upgrade/backups"
DEFAULT_HOME = "/root"
# Seconds each command may run before the backup or restore fails.
CIBADMIN_TIMEOUT = 120
PG_DUMPALL_TIMEOUT = 3600
HOSTID_TIMEOUT = 30
RESTORECON_TIMEOUT = 900


def __virtual__():
    if _MISSING:
        return (False, f"node_backup needs the library lustre_upgrade_lib: {_MISSING}")
    lustre_upgrade_lib.reload_changed()
    return __virtualname__


# ---------------------------------------------------------------------------
# Checking and describing a backup
# ---------------------------------------------------------------------------


def verify(path):
    """
    Verify a backup archive: every member listed in SHA256SUMS is present with its
    checksum, every listed path the node had is in it. Returns ``backup.json`` plus the
    archive's size and sha256.

    CLI Example:

    .. code-block:: bash

        salt-call node_backup.verify /var/lib/lustre-upgrade/backups/bck-oss1-a-20260101-120000.tgz
    """
    return backup_format.verify(path)


def manifest(kind="server", keep_minion_identity=False):
    """
    The paths a backup of ``kind`` ("server" or "manager") holds, in the runbook's order.

    CLI Example:

    .. code-block:: bash

        salt '*' node_backup.manifest server
    """
    return backup_format.manifest(kind, keep_minion_identity)


# ---------------------------------------------------------------------------
# Creating a backup
# ---------------------------------------------------------------------------


def create(
    kind="server",
    dest=DEFAULT_DEST,
    push=True,
    keep_minion_identity=False,
    root="/",
    cib_file=None,
    pg_host=None,
    pg_port=None,
):
    """
    Take a backup of this node, verify it, and push it to the master (``cp.push``).

    kind
        ``server`` (adds ``cibadmin --query``) or ``manager`` (adds ``pg_dumpall --clean``).
    keep_minion_identity
        Also keep /etc/salt/minion_id and the minion key pair.
    root
        The file system root the manifest is read from (``/`` on a node).
    cib_file, pg_host, pg_port
        Where the CIB and the IML database are, when not the node's own.

    Returns the archive's path, size, sha256, the listed paths that were absent and whether
    the push succeeded. Any listed file that exists but did not make it into the archive,
    or a failed cibadmin/pg_dumpall, fails the backup. A server backup records the hostid
    in effect in ``backup.json`` (``/etc/hostid`` is in the archive when the node has one),
    so the rebuilt node imports its ZFS pools under the same hostid.

    CLI Example:

    .. code-block:: bash

        salt oss1-a node_backup.create server
    """
    paths = backup_format.manifest(kind, keep_minion_identity)
    excludes = backup_format.EXCLUDES[kind]
    present, absent = backup_format.expand(paths, root, excludes)
    host = socket.gethostname().split(".")[0]
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    top = f"bck-{host}-{stamp}"
    os.makedirs(dest, mode=0o700, exist_ok=True)
    os.chmod(dest, 0o700)
    archive_path = os.path.join(dest, f"{top}.tgz")

    with tempfile.TemporaryDirectory(prefix=".node-backup.", dir=dest) as work:
        extras = {}
        if kind == "server":
            extras[f"cluster-cfg-{host}.xml"] = _dump_cib(work, cib_file)
        else:
            extras[f"pgbackup-{stamp}.sql.gz"] = _dump_database(work, pg_host, pg_port)
        contents = backup_format.walk(root, present, excludes)
        hostid = _hostid_in_effect(root) if kind == "server" else None
        info = backup_format.new_info(
            kind,
            __opts__["id"],
            socket.gethostname(),
            stamp,
            paths,
            absent,
            contents,
            extras,
            hostid=hostid,
        )
        tmp_archive = os.path.join(work, "archive.tgz")
        backup_format.write_archive(tmp_archive, top, root, contents, extras, info)
        os.chmod(tmp_archive, 0o600)
        os.rename(tmp_archive, archive_path)
    result = backup_format.verify(archive_path)
    backup_format.write_sidecar(archive_path, result["sha256"])
    pushed = False
    if push:
        pushed = bool(__salt__["cp.push"](archive_path)) and bool(
            __salt__["cp.push"](archive_path + backup_format.SIDECAR_SUFFIX)
        )
        if not pushed:
            raise CommandExecutionError(
                f"backup {archive_path} was written but cp.push to the master failed: "
                "check file_recv: True in the master config and file_recv_max_size"
            )
    return {
        "path": archive_path,
        "sha256": result["sha256"],
        "size": result["size"],
        "kind": kind,
        "absent": absent,
        "files": len(contents),
        "pushed": pushed,
    }


def _detail(res):
    """What a failed (or timed out) command said."""
    return (res.get("stderr") or res.get("stdout") or f"exit {res.get('retcode')}").strip()


def _hostid_in_effect(root):
    """The hostid of the node at ``root``: its /etc/hostid, else what ``hostid`` prints."""
    path = backup_format.under(root, backup_format.HOSTID_FILE)
    data = fileio.read_bytes(path) if os.path.isfile(path) else None
    if data is not None:
        return hostid_value.parse_file(data, path)
    res = __salt__["cmd.run_all"](["hostid"], python_shell=False, timeout=HOSTID_TIMEOUT)
    if res["retcode"] != 0:
        raise CommandExecutionError(
            f"hostid failed ({_detail(res)}): a server backup records the hostid its ZFS "
            "pools were imported under; check coreutils on this node"
        )
    return hostid_value.parse_command_output(res["stdout"])


def _dump_cib(work, cib_file):
    env = {"CIB_file": cib_file} if cib_file else None
    res = __salt__["cmd.run_all"](
        ["cibadmin", "--query"],
        env=env,
        python_shell=False,
        output_loglevel="quiet",
        timeout=CIBADMIN_TIMEOUT,
    )
    if res["retcode"] != 0:
        raise CommandExecutionError(
            f"cibadmin --query failed ({_detail(res)}): a server backup needs the "
            "cluster configuration; check that Pacemaker runs on this node (crm_mon -1)"
        )
    out = os.path.join(work, "cib.xml")
    # The CIB holds the fence passwords: 0600, like every other member of the backup.
    text = res["stdout"] if res["stdout"].endswith("\n") else res["stdout"] + "\n"
    fileio.atomic_write(out, text.encode("utf-8"), mode=0o600, fsync=False)
    return out


def _dump_database(work, pg_host, pg_port):
    # pg_dumpall runs as postgres, which cannot enter the root-only backup directory:
    # it writes into a private directory of its own, removed once compressed.
    dump_dir = tempfile.mkdtemp(prefix="node-backup-pg.")
    try:
        shutil.chown(dump_dir, user="postgres")
        return _run_pg_dumpall(work, dump_dir, pg_host, pg_port)
    finally:
        shutil.rmtree(dump_dir, ignore_errors=True)


def _run_pg_dumpall(work, dump_dir, pg_host, pg_port):
    plain = os.path.join(dump_dir, "dump.sql")
    argv = ["pg_dumpall", "--clean", "-f", plain]
    if pg_host:
        argv += ["-h", str(pg_host)]
    if pg_port:
        argv += ["-p", str(pg_port)]
    # runuser, not cmd.run's runas: runas re-reads the user's login environment with
    # Salt's own Python, which the postgres account may not be able to execute.
    res = __salt__["cmd.run_all"](
        ["runuser", "-u", "postgres", "--", *argv],
        python_shell=False,
        cwd=dump_dir,
        timeout=PG_DUMPALL_TIMEOUT,
    )
    if res["retcode"] != 0:
        raise CommandExecutionError(
            f"pg_dumpall --clean failed ({_detail(res)}): a manager backup needs the "
            "IML database; check that PostgreSQL runs (systemctl status postgresql)"
        )
    out = os.path.join(work, "pgbackup.sql.gz")
    with open(plain, "rb") as src, gzip.open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


# ---------------------------------------------------------------------------
# Sealing for delivery to one node
# ---------------------------------------------------------------------------


def seal(path, pubkey, output):
    """
    Encrypt a verified backup for one node: AES-256-GCM under a random key, the key
    wrapped with the node's minion RSA public key (OAEP/SHA-256). Only that node's
    ``minion.pem`` opens it. The master's runner seals with the same library code.
    Returns the sealed path, the archive's name, and the sha256 of the sealed copy
    (``sha256``) and of the archive (``archive_sha256``): ``restore`` takes both.

    CLI Example:

    .. code-block:: bash

        salt-call node_backup.seal /path/bck.tgz /etc/salt/pki/master/minions/oss1-a /tmp/bck.sealed
    """
    return backup_format.seal(path, pubkey, output)


# ---------------------------------------------------------------------------
# Restoring
# ---------------------------------------------------------------------------


def restore(
    backup,
    sha256=None,
    root="/",
    staging=None,
    test=False,
    selinux=None,
    keep_accounts=None,
    archive_sha256=None,
):
    """
    Restore this node's configuration from its backup, as the runbook's "Restore the
    Node OS Configuration from Backup" and "Restore the IML Agent configuration" do.

    backup
        The archive (``.tgz``) or the sealed copy the master delivered (``.sealed``).
    sha256
        Required: the sha256 the master recorded for the file ``backup`` (the ``sha256``
        that ``salt-run lustre_upgrade.deliver_backup`` returns). Any other file is
        refused before it is opened.
    archive_sha256
        The sha256 of the backup archive the master verified (``archive_sha256`` of
        ``deliver_backup``): the archive inside the sealed copy must be that one.
    root
        The file system root to restore into (``/`` on a node).
    staging
        Where the archive is unpacked and kept for reference (default ``<root>/root``,
        like the runbook's ``$HOME/bck-<host>-*``).
    selinux
        Relabel the restored paths with ``restorecon -RF`` (default: the ``selinux:enabled``
        grain).
    keep_accounts
        Accounts (user or group names) restored from the backup besides the site's (EL6
        ids of 500 and more); default: pillar ``lustre_upgrade:backup:keep_accounts``.

    Every file or directory that differs is replaced, the installed original kept once as
    ``<path>.inst`` (a manager's certificates in ``/var/lib/chroma/certs-inst/``);
    identical ones are left alone, so a second run changes nothing. The account files are
    merged: EL7's system accounts stay, the backup's site accounts come back with their
    ids, hashes and memberships; an id clash is refused before anything changes. For a
    manager backup only the certificates of /var/lib/chroma go back (its ``repo/`` is the
    installer's). The backup's /etc/hostid (or the hostid ``backup.json`` recorded) is
    written. The network configuration is only unpacked for reference.

    Refused before anything changes: a file whose sha256 is not ``sha256``, a sealed copy
    that does not open with this node's key, a backup of another minion, checksums that
    do not verify, an archive member that is not a regular file, directory or relative
    symlink inside the backup. If any step fails, every replaced path is put back and the
    error says which (``info``: ``failed``, ``rolled_back``, ``left_changed``, ``staged``).

    Returns ``backup``, ``staging``, ``changed`` (the restored paths), ``kept_as_inst``,
    ``reference_only``, ``relabelled`` and ``accounts`` (``users``, ``groups`` brought
    back, ``notes``).

    CLI Example:

    .. code-block:: bash

        salt oss1-a node_backup.restore /var/lib/lustre-upgrade/restore/bck-oss1-a-20260101-120000.tgz.sealed sha256=<sha256 from deliver_backup>
    """
    if not sha256:
        raise SaltInvocationError(
            "node_backup.restore needs sha256=, the sha256 the master recorded for this file: "
            f"salt-run lustre_upgrade.deliver_backup {__opts__['id']} returns it; nothing "
            "was restored"
        )
    expected = backup_format.check_sha256(sha256)
    if archive_sha256 is not None:
        archive_sha256 = backup_format.check_sha256(archive_sha256, "archive_sha256")
    keep = _keep_accounts(keep_accounts)
    staging = staging or backup_format.under(root, DEFAULT_HOME)
    if not os.path.isfile(backup):
        raise CommandExecutionError(
            f"backup {backup} does not exist on this node: deliver it with "
            f"salt-run lustre_upgrade.deliver_backup {__opts__['id']}"
        )
    with tempfile.TemporaryDirectory(prefix=".node-restore.") as work:
        archive = _received(backup, expected, archive_sha256, work)
        info = backup_format.verify(archive)
        if info["minion"] != __opts__["id"]:
            raise CommandExecutionError(
                f"backup {backup} belongs to minion {info['minion']!r}, not {__opts__['id']!r}: "
                "nothing was restored; deliver this node's own backup"
            )
        unpacked = os.path.join(work, "unpacked")
        try:
            backup_format.unpack(archive, unpacked)
        except CommandExecutionError as exc:
            raise CommandExecutionError(
                f"{exc}; nothing was restored: this is not a backup node_backup.create or "
                "node-backup.sh wrote, take a new one"
            ) from exc
        source = os.path.join(unpacked, info["top"])
        plan = backup_format.restore_plan(source, root, keep)
        merged = backup_format.account_merge(source, root, keep)
        final_staging = os.path.join(staging, info["top"])
        changed = [step["path"] for step in plan]
        result = {
            "backup": info["top"],
            "staging": final_staging,
            "changed": changed,
            "kept_as_inst": [step["inst"] for step in plan if step["keep_original"]],
            "reference_only": [
                os.path.join(final_staging, p.lstrip("/"))
                for p in backup_format.REFERENCE_ONLY
                if os.path.lexists(os.path.join(source, p.lstrip("/")))
            ],
            "relabelled": [],
            "accounts": {
                "users": merged.users if merged else [],
                "groups": merged.groups if merged else [],
                "notes": merged.notes if merged else [],
            },
        }
        if test:
            return result
        staged = _stage(source, staging, final_staging)
        transaction = file_transaction.Transaction(root)
        try:
            for step in plan:
                transaction.apply(step)
            result["relabelled"] = _relabel(root, selinux, changed)
        except (OSError, CommandExecutionError) as exc:
            raise _rolled_back(transaction, exc, staged) from exc
        for path, why in transaction.commit():
            log.warning("node_backup.restore: could not remove the undo copy %s: %s", path, why)
    return result


def _received(backup, expected, archive_sha256, work):
    """
    A private copy of ``backup`` whose sha256 is ``expected``, opened when sealed: the
    archive to restore, which nobody can swap after it was checked.
    """
    copy = os.path.join(work, "received")
    try:
        with open(backup, "rb") as src, open(copy, "xb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except OSError as exc:
        raise CommandExecutionError(f"cannot read backup {backup}: {exc}") from exc
    actual = fileio.sha256_file(copy)
    if actual != expected:
        raise CommandExecutionError(
            f"backup {backup} has sha256 {actual}, not the one the master recorded "
            f"({expected}): nothing was restored; deliver it again with salt-run "
            f"lustre_upgrade.deliver_backup {__opts__['id']} and pass the sha256 it returns"
        )
    if backup_format.is_sealed(copy):
        opened = os.path.join(work, "opened")
        os.mkdir(opened, 0o700)
        try:
            return backup_format.unseal(copy, _minion_key(), opened, archive_sha256)
        except CommandExecutionError as exc:
            raise CommandExecutionError(
                str(exc).replace(copy, backup) + "; nothing was restored"
            ) from exc
    if archive_sha256 is not None and actual != archive_sha256:
        raise CommandExecutionError(
            f"backup {backup} is not the archive the master recorded ({archive_sha256}): "
            "nothing was restored"
        )
    return copy


def _keep_accounts(value):
    if value is None:
        value = _backup_pillar("keep_accounts", [])
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise SaltInvocationError(
            f"keep_accounts {value!r} is not a list of account names "
            "(pillar lustre_upgrade:backup:keep_accounts)"
        )
    return list(value)


def _backup_pillar(key, default):
    """``lustre_upgrade:backup:<key>`` of the loaded pillar (Salt 3008's pillar.get masks)."""
    return cli_args.nested_value(__pillar__, f"lustre_upgrade:backup:{key}", default)


def _stage(source, staging, final):
    """The unpacked backup kept in ``final`` for reference; its path if created now."""
    if os.path.isdir(final):
        return None
    os.makedirs(staging, mode=0o700, exist_ok=True)
    tmp = file_transaction.beside(final, "new")
    try:
        os.mkdir(tmp, 0o700)
        file_transaction.copy_tree(source, tmp)
        os.chmod(tmp, 0o700)
        os.rename(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CommandExecutionError(
            f"cannot unpack the backup into {final} ({exc}): nothing was restored"
        ) from exc
    return final


def _rolled_back(transaction, exc, staged):
    """The error of a failed restore, once everything it replaced is back."""
    failed = transaction.current
    rolled_back, left = transaction.rollback()
    parts = [f"restoring {failed} failed ({exc})" if failed else str(exc)]
    if rolled_back:
        parts.append(f"rolled back {', '.join(rolled_back)}: each is back as it was")
    else:
        parts.append("nothing had been replaced yet")
    if left:
        parts.append(
            "COULD NOT roll back "
            + "; ".join(f"{path} ({why})" for path, why in left)
            + ": put these back by hand"
        )
    if staged:
        parts.append(f"the backup stays unpacked in {staged} for reference")
    return CommandExecutionError(
        ". ".join(parts),
        info={
            "failed": failed or "restorecon -RF",
            "rolled_back": rolled_back,
            "left_changed": [path for path, _ in left],
            "staged": staged,
        },
    )


def _minion_key():
    return os.path.join(__opts__["pki_dir"], "minion.pem")


def _relabel(root, selinux, paths):
    """``restorecon -RF`` on every restored path where SELinux is enabled."""
    if selinux is None:
        selinux = bool((__grains__.get("selinux") or {}).get("enabled"))
    if not selinux or not paths:
        return []
    targets = [backup_format.under(root, path) for path in paths]
    res = __salt__["cmd.run_all"](
        ["restorecon", "-RF", *targets], python_shell=False, timeout=RESTORECON_TIMEOUT
    )
    if res["retcode"] != 0:
        raise CommandExecutionError(
            f"restorecon -RF failed ({_detail(res)}): the restored files would keep the labels "
            "of their staging directory; check the SELinux policy (sestatus) and run again"
        )
    return list(paths)


# ---------------------------------------------------------------------------
# Plaintext copies on the node
# ---------------------------------------------------------------------------


def prune(sha256, path=None, dest=DEFAULT_DEST, home=DEFAULT_HOME, keep_on_node=None, test=False):
    """
    Remove this node's plaintext copies of a backup once the master holds a verified one.

    sha256
        The sha256 the master verified (``collect_backup``): only a file with exactly this
        checksum is removed (with its ``.sha256`` sidecar); other backups are listed in
        ``other`` and left alone.
    path
        Only this file, instead of every ``bck-*.tgz`` in ``dest`` and ``home``.
    keep_on_node
        Keep the copies, root-only (0600), instead of removing them; default: pillar
        ``lustre_upgrade:backup:keep_on_node``.

    Returns ``{"sha256", "keep_on_node", "removed", "kept", "other", "unpacked"}``;
    ``unpacked`` lists the ``bck-*`` directories in ``home`` that ``restore`` left for
    reference (never removed here).

    CLI Example:

    .. code-block:: bash

        salt oss1-a node_backup.prune <sha256 the master verified>
    """
    digest = backup_format.check_sha256(sha256)
    if keep_on_node is None:
        keep_on_node = _backup_pillar("keep_on_node", False)
    keep_on_node = bool(keep_on_node)
    if path:
        candidates = [path]
    else:
        candidates = sorted(
            set(glob.glob(os.path.join(dest, "bck-*.tgz")))
            | set(glob.glob(os.path.join(home, "bck-*.tgz")))
        )
    ret = {"sha256": digest, "keep_on_node": keep_on_node, "removed": [], "kept": [], "other": []}
    for archive in candidates:
        if not os.path.isfile(archive) or os.path.islink(archive):
            continue
        if fileio.sha256_file(archive) != digest:
            ret["other"].append(archive)
            continue
        sidecar = archive + backup_format.SIDECAR_SUFFIX
        for name in [archive] + ([sidecar] if os.path.isfile(sidecar) else []):
            try:
                if keep_on_node:
                    if not test:
                        os.chmod(name, 0o600)
                    ret["kept"].append(name)
                else:
                    if not test:
                        os.unlink(name)
                    ret["removed"].append(name)
            except OSError as exc:
                raise CommandExecutionError(
                    f"cannot {'restrict' if keep_on_node else 'remove'} {name} ({exc}); "
                    f"done so far: removed {ret['removed']}, kept {ret['kept']}"
                ) from exc
    ret["unpacked"] = sorted(p for p in glob.glob(os.path.join(home, "bck-*")) if os.path.isdir(p))
    return ret
