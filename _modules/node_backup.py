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
(``seal``), so the copy in transit and in the job cache opens only on that node.

The format (manifests, checksums, ``backup.json``, verification, sealing, the restore
comparison) is the library's ``lustre_upgrade_lib.backup_format``: the master verifies and
seals with the same code. This module takes the backup (``cibadmin``, ``pg_dumpall``,
``cp.push``) and restores it.
"""

import errno
import fnmatch
import glob
import gzip
import os
import shutil
import socket
import tempfile
import time

from salt.exceptions import CommandExecutionError

try:
    import cryptography  # noqa: F401  (backup_format seals and opens backups with it)

    import lustre_upgrade_lib
    from lustre_upgrade_lib import backup_format, fileio
except ImportError as exc:
    if (exc.name or "").startswith("cryptography"):
        _MISSING = f"{exc}: install python3-cryptography (EL7: python36-cryptography)"
    else:
        _MISSING = f"{exc}: sync _utils/ with saltutil.sync_all, or pip install the extension"
else:
    _MISSING = None

__virtualname__ = "node_backup"

DEFAULT_DEST = "/var/lib/lustre-upgrade/backups"
SSH_HOST_KEY_LABEL = "system_u:object_r:sshd_key_t:s0"


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
    or a failed cibadmin/pg_dumpall, fails the backup.

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
        info = backup_format.new_info(
            kind, __opts__["id"], socket.gethostname(), stamp, paths, absent, contents, extras
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


def _dump_cib(work, cib_file):
    env = {"CIB_file": cib_file} if cib_file else None
    res = __salt__["cmd.run_all"](
        ["cibadmin", "--query"], env=env, python_shell=False, output_loglevel="quiet"
    )
    if res["retcode"] != 0:
        raise CommandExecutionError(
            f"cibadmin --query failed ({res['stderr'].strip()}): a server backup needs the "
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
        ["runuser", "-u", "postgres", "--", *argv], python_shell=False, cwd=dump_dir
    )
    if res["retcode"] != 0:
        raise CommandExecutionError(
            f"pg_dumpall --clean failed ({res['stderr'].strip()}): a manager backup needs the "
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

    CLI Example:

    .. code-block:: bash

        salt-call node_backup.seal /path/bck.tgz /etc/salt/pki/master/minions/oss1-a /tmp/bck.sealed
    """
    return backup_format.seal(path, pubkey, output)


# ---------------------------------------------------------------------------
# Restoring
# ---------------------------------------------------------------------------


def restore(backup, root="/", staging=None, test=False, selinux=None):
    """
    Restore this node's configuration from its backup, as the runbook's "Restore the
    Node OS Configuration from Backup" and "Restore the IML Agent configuration" do.

    backup
        The archive (``.tgz``) or the sealed copy the master delivered (``.sealed``).
    root
        The file system root to restore into (``/`` on a node).
    staging
        Where the archive is unpacked and kept for reference (default ``<root>/root``,
        like the runbook's ``$HOME/bck-<host>-*``).

    Every file or directory that differs is replaced, the installed original kept once as
    ``<path>.inst``; identical ones are left alone, so a second run changes nothing. The
    network configuration is only unpacked for reference. A backup that belongs to
    another minion, or whose checksums do not verify, is refused before anything changes.

    CLI Example:

    .. code-block:: bash

        salt oss1-a node_backup.restore /var/lib/lustre-upgrade/restore/bck-oss1-a-20260101-120000.tgz.sealed
    """
    staging = staging or backup_format.under(root, "/root")
    if not os.path.isfile(backup):
        raise CommandExecutionError(
            f"backup {backup} does not exist on this node: deliver it with "
            f"salt-run lustre_upgrade.deliver_backup {__opts__['id']}"
        )
    with tempfile.TemporaryDirectory(prefix=".node-restore.") as work:
        archive = backup
        if backup_format.is_sealed(backup):
            archive = backup_format.unseal(backup, _minion_key(), work)
        info = backup_format.verify(archive)
        if info["minion"] != __opts__["id"]:
            raise CommandExecutionError(
                f"backup {backup} belongs to minion {info['minion']!r}, not {__opts__['id']!r}: "
                "nothing was restored; deliver this node's own backup"
            )
        unpacked = os.path.join(work, "unpacked")
        os.mkdir(unpacked, 0o700)
        backup_format.unpack(archive, unpacked)
        source = os.path.join(unpacked, info["top"])
        plan = backup_format.restore_plan(source, root)
        reference = [
            p
            for p in backup_format.REFERENCE_ONLY
            if os.path.lexists(os.path.join(source, p.lstrip("/")))
        ]
        final_staging = os.path.join(staging, info["top"])
        if not test:
            if not os.path.isdir(final_staging):
                os.makedirs(staging, exist_ok=True)
                shutil.copytree(source, final_staging, symlinks=True)
                os.chmod(final_staging, 0o700)
            for step in plan:
                _apply(step, root)
            _relabel_ssh(root, selinux, [s for s in plan if s["path"] == "/etc/ssh"])
    return {
        "backup": info["top"],
        "staging": final_staging,
        "changed": [s["path"] for s in plan],
        "kept_as_inst": [s["path"] + ".inst" for s in plan if s["keep_original"]],
        "reference_only": [os.path.join(final_staging, p.lstrip("/")) for p in reference],
    }


def _minion_key():
    return os.path.join(__opts__["pki_dir"], "minion.pem")


def _apply(step, root):
    target = backup_format.under(root, step["path"])
    if step["keep_original"]:
        _move_aside(target, target + ".inst")
    elif os.path.lexists(target):
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        else:
            os.unlink(target)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if step["tree"]:
        shutil.copytree(step["source"], target, symlinks=True)
        _copy_ownership_tree(step["source"], target)
    else:
        shutil.copy2(step["source"], target, follow_symlinks=False)
        _copy_ownership(step["source"], target)


def _move_aside(src, dst):
    try:
        os.rename(src, dst)
        return
    except OSError as exc:
        # Overlay and bind-mounted trees refuse to rename a directory (EXDEV): copy it
        # aside with owners and modes, then remove the original.
        if exc.errno != errno.EXDEV:
            raise
    if os.path.isdir(src) and not os.path.islink(src):
        shutil.copytree(src, dst, symlinks=True)
        _copy_ownership_tree(src, dst)
        shutil.rmtree(src)
    else:
        shutil.copy2(src, dst, follow_symlinks=False)
        _copy_ownership(src, dst)
        os.unlink(src)


def _copy_ownership(src, dst):
    st = os.lstat(src)
    os.lchown(dst, st.st_uid, st.st_gid)


def _copy_ownership_tree(src, dst):
    _copy_ownership(src, dst)
    for dirpath, dirnames, filenames in os.walk(src):
        for name in dirnames + filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), src)
            _copy_ownership(os.path.join(src, rel), os.path.join(dst, rel))


def _relabel_ssh(root, selinux, ssh_steps):
    if not ssh_steps:
        return
    if selinux is None:
        selinux = bool(__grains__.get("selinux", {}).get("enabled"))
    if not selinux:
        return
    keys = sorted(
        p
        for p in glob.glob(backup_format.under(root, "/etc/ssh/ssh_host_*"))
        if fnmatch.fnmatch(os.path.basename(p), "ssh_host_*")
    )
    if keys:
        res = __salt__["cmd.run_all"](
            ["chcon", "-v", SSH_HOST_KEY_LABEL, *keys], python_shell=False
        )
        if res["retcode"] != 0:
            raise CommandExecutionError(
                f"chcon of the SSH host keys failed ({res['stderr'].strip()}); run "
                f"chcon -Rv {SSH_HOST_KEY_LABEL} /etc/ssh/ssh_host_* before restarting sshd"
            )
