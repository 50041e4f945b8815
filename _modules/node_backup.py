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
"""

import base64
import errno
import fnmatch
import glob
import gzip
import hashlib
import io
import json
import logging
import os
import shutil
import socket
import stat
import tarfile
import tempfile
import time

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "node_backup"

FORMAT = 1
DEFAULT_DEST = "/var/lib/lustre-upgrade/backups"
SUMS = "SHA256SUMS"
INFO = "backup.json"
SEAL_MAGIC = b"LUSTRE-UPGRADE-SEALED-1\n"

# The runbook's manifests ("Prepare for the Upgrade" and "Backup the Existing IML
# Configuration"), in its order.
_COMMON = (
    "/var/lib/chroma",
    "/etc/sysconfig/network",
    "/etc/sysconfig/network-scripts/ifcfg-*",
    "/etc/yum.conf",
    "/etc/yum.repos.d",
    "/etc/hosts",
    "/etc/passwd",
    "/etc/group",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/rsyslog.conf",
    "/etc/ntp.conf",
    "/etc/selinux/config",
)
MANIFESTS = {
    "server": _COMMON
    + (
        "/etc/modprobe.d/iml_lnet_module_parameters.conf",
        "/etc/corosync/corosync.conf",
        "/etc/ssh",
        "/root/.ssh",
    ),
    "manager": _COMMON + ("/etc/ssh", "/root/.ssh"),
}
# The manager's package mirror is large and re-created from upstream.
EXCLUDES = {"server": (), "manager": ("/var/lib/chroma/repo",)}
MINION_IDENTITY = (
    "/etc/salt/minion_id",
    "/etc/salt/pki/minion/minion.pem",
    "/etc/salt/pki/minion/minion.pub",
)

# What `restore` puts back (runbook "Restore the Node OS Configuration from Backup" and
# "Install the IML Agent"), and what stays in the staging directory for reference only:
# the network is configured with the OS's own tools on the new installation.
RESTORED_FILES = (
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/ntp.conf",
    "/etc/modprobe.d/iml_lnet_module_parameters.conf",
)
RESTORED_TREES = ("/etc/ssh", "/root/.ssh", "/var/lib/chroma")
REFERENCE_ONLY = ("/etc/sysconfig/network", "/etc/sysconfig/network-scripts")
SSH_HOST_KEY_LABEL = "system_u:object_r:sshd_key_t:s0"


def __virtual__():
    return __virtualname__


# ---------------------------------------------------------------------------
# Archive format: pure functions
# ---------------------------------------------------------------------------


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _parse_sums(text, source):
    """``sha256sum`` output → {relative path: hex digest}."""
    sums = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            raise CommandExecutionError(
                f"{source}: line {number} of {SUMS} is not sha256sum output"
            )
        sums[name[2:] if name.startswith("./") else name] = digest.lower()
    return sums


def _expand(patterns, root, excludes=()):
    """Manifest patterns → (existing absolute paths, absent patterns), under ``root``."""
    present, absent = [], []
    for pattern in patterns:
        matches = sorted(glob.glob(_under(root, pattern)))
        if not matches:
            absent.append(pattern)
            continue
        present += ["/" + os.path.relpath(m, root) if root != "/" else m for m in matches]
    return [p for p in present if not _excluded(p, excludes)], absent


def _excluded(path, excludes):
    return any(path == ex or path.startswith(ex.rstrip("/") + "/") for ex in excludes)


def _under(root, path):
    return os.path.join(root, path.lstrip("/")) if root != "/" else path


def _walk(root, paths, excludes):
    """Every file, directory and link below ``paths`` (absolute, as on the node)."""
    found = []
    for path in paths:
        real = _under(root, path)
        found.append(path)
        if os.path.isdir(real) and not os.path.islink(real):
            for dirpath, dirnames, filenames in os.walk(real):
                rel_dir = "/" + os.path.relpath(dirpath, root) if root != "/" else dirpath
                dirnames[:] = sorted(
                    d for d in dirnames if not _excluded(os.path.join(rel_dir, d), excludes)
                )
                for name in sorted(dirnames) + sorted(filenames):
                    member = os.path.join(rel_dir, name)
                    if not _excluded(member, excludes):
                        found.append(member)
    return found


def verify(path):
    """
    Verify a backup archive: every member listed in SHA256SUMS is present with its
    checksum, every listed path the node had is in it. Returns ``backup.json`` plus the
    archive's size and sha256.

    CLI Example:

    .. code-block:: bash

        salt-call node_backup.verify /var/lib/lustre-upgrade/backups/bck-oss1-a-20260101-120000.tgz
    """
    try:
        archive = tarfile.open(path, "r:gz")
    except FileNotFoundError as exc:
        raise CommandExecutionError(f"backup {path} does not exist") from exc
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CommandExecutionError(f"backup {path} is not a gzip tar archive: {exc}") from exc
    with archive:
        try:
            members = archive.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise CommandExecutionError(f"backup {path} is truncated or corrupt: {exc}") from exc
        tops = {m.name.split("/", 1)[0] for m in members}
        if len(tops) != 1:
            raise CommandExecutionError(
                f"backup {path} must hold one top directory, not {sorted(tops)}"
            )
        (top,) = tops
        by_name = {m.name[len(top) + 1 :]: m for m in members if m.name != top}
        for required in (SUMS, INFO):
            if required not in by_name:
                raise CommandExecutionError(f"backup {path} has no {top}/{required}")
        info = _load_info(archive.extractfile(by_name[INFO]).read(), path)
        sums = _parse_sums(archive.extractfile(by_name[SUMS]).read().decode(), path)
        for name, member in by_name.items():
            if member.isfile() and name not in (SUMS,) and name not in sums:
                raise CommandExecutionError(f"backup {path}: {top}/{name} is not in {SUMS}")
        for name, digest in sums.items():
            member = by_name.get(name)
            if member is None or not member.isfile():
                raise CommandExecutionError(
                    f"backup {path}: {top}/{name} listed in {SUMS} is missing"
                )
            actual = hashlib.sha256(archive.extractfile(member).read()).hexdigest()
            if actual != digest:
                raise CommandExecutionError(
                    f"backup {path}: checksum of {top}/{name} does not match {SUMS}; "
                    "the backup is damaged: take a new one"
                )
        for entry in info.get("contents", []):
            if entry.lstrip("/") not in by_name:
                raise CommandExecutionError(
                    f"backup {path}: {entry} is listed in {INFO} but missing"
                )
    info.update(
        {"archive": path, "top": top, "size": os.path.getsize(path), "sha256": _sha256_file(path)}
    )
    return info


def _load_info(raw, path):
    try:
        info = json.loads(raw)
    except ValueError as exc:
        raise CommandExecutionError(f"backup {path}: {INFO} is not JSON: {exc}") from exc
    for key in ("format", "kind", "minion", "hostname", "created"):
        if key not in info:
            raise CommandExecutionError(f"backup {path}: {INFO} has no {key!r}")
    if info["kind"] not in MANIFESTS:
        raise CommandExecutionError(f"backup {path}: unknown kind {info['kind']!r} in {INFO}")
    return info


# ---------------------------------------------------------------------------
# Creating a backup
# ---------------------------------------------------------------------------


def manifest(kind="server", keep_minion_identity=False):
    """
    The paths a backup of ``kind`` ("server" or "manager") holds, in the runbook's order.

    CLI Example:

    .. code-block:: bash

        salt '*' node_backup.manifest server
    """
    if kind not in MANIFESTS:
        raise CommandExecutionError(f"unknown backup kind {kind!r}: use 'server' or 'manager'")
    paths = list(MANIFESTS[kind])
    if keep_minion_identity:
        paths += list(MINION_IDENTITY)
    return paths


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
    paths = manifest(kind, keep_minion_identity)
    excludes = EXCLUDES[kind]
    present, absent = _expand(paths, root, excludes)
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
        contents = _walk(root, present, excludes)
        info = {
            "format": FORMAT,
            "kind": kind,
            "minion": __opts__["id"],
            "hostname": socket.gethostname(),
            "created": stamp,
            "manifest": paths,
            "absent": absent,
            "contents": contents,
            "extras": sorted(extras),
        }
        tmp_archive = os.path.join(work, "archive.tgz")
        _write_archive(tmp_archive, top, root, contents, extras, info)
        os.chmod(tmp_archive, 0o600)
        os.rename(tmp_archive, archive_path)
    result = verify(archive_path)
    _write_sidecar(archive_path, result["sha256"])
    pushed = False
    if push:
        pushed = bool(__salt__["cp.push"](archive_path)) and bool(
            __salt__["cp.push"](archive_path + ".sha256")
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
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(res["stdout"])
        if not res["stdout"].endswith("\n"):
            fh.write("\n")
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


def _write_archive(archive_path, top, root, contents, extras, info):
    sums = []
    with tarfile.open(archive_path, "w:gz") as archive:
        top_dir = tarfile.TarInfo(top)
        top_dir.type = tarfile.DIRTYPE
        top_dir.mode = 0o700
        top_dir.mtime = int(time.time())
        archive.addfile(top_dir)
        for path in contents:
            real = _under(root, path)
            arcname = f"{top}{path}"
            try:
                archive.add(real, arcname=arcname, recursive=False)
            except OSError as exc:
                raise CommandExecutionError(f"cannot back up {path}: {exc}") from exc
            if os.path.isfile(real) and not os.path.islink(real):
                sums.append((path.lstrip("/"), _sha256_file(real)))
        for name, source in sorted(extras.items()):
            archive.add(source, arcname=f"{top}/{name}", recursive=False)
            sums.append((name, _sha256_file(source)))
        info_bytes = json.dumps(info, indent=2, sort_keys=True).encode() + b"\n"
        _add_bytes(archive, f"{top}/{INFO}", info_bytes)
        sums.append((INFO, hashlib.sha256(info_bytes).hexdigest()))
        text = "".join(f"{digest}  {name}\n" for name, digest in sorted(sums))
        _add_bytes(archive, f"{top}/{SUMS}", text.encode())


def _add_bytes(archive, name, data):
    member = tarfile.TarInfo(name)
    member.size = len(data)
    member.mode = 0o600
    member.mtime = int(time.time())
    archive.addfile(member, io.BytesIO(data))


def _write_sidecar(archive_path, digest):
    with open(archive_path + ".sha256", "w", encoding="ascii") as fh:
        fh.write(f"{digest}  {os.path.basename(archive_path)}\n")
    os.chmod(archive_path + ".sha256", 0o600)


# ---------------------------------------------------------------------------
# Sealing for delivery to one node
# ---------------------------------------------------------------------------


def seal(path, pubkey, output):
    """
    Encrypt a verified backup for one node: AES-256-GCM under a random key, the key
    wrapped with the node's minion RSA public key (OAEP/SHA-256). Only that node's
    ``minion.pem`` opens it.

    CLI Example:

    .. code-block:: bash

        salt-run salt.cmd node_backup.seal /path/bck.tgz /etc/salt/pki/master/minions/oss1-a /tmp/bck.sealed
    """
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    with open(pubkey, "rb") as fh:
        public = serialization.load_pem_public_key(fh.read())
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    with open(path, "rb") as fh:
        plain = fh.read()
    wrapped = public.encrypt(
        key,
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    header = json.dumps(
        {
            "name": os.path.basename(path),
            "key": base64.b64encode(wrapped).decode(),
            "nonce": base64.b64encode(nonce).decode(),
        }
    ).encode()
    sealed = SEAL_MAGIC + header + b"\n" + AESGCM(key).encrypt(nonce, plain, header)
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(sealed)
    return {"sealed": output, "name": os.path.basename(path)}


def _unseal(sealed_path, private_key_path, out_dir):
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    with open(sealed_path, "rb") as fh:
        data = fh.read()
    if not data.startswith(SEAL_MAGIC):
        raise CommandExecutionError(f"{sealed_path} is not a sealed backup")
    header, _, body = data[len(SEAL_MAGIC) :].partition(b"\n")
    meta = json.loads(header)
    with open(private_key_path, "rb") as fh:
        private = serialization.load_pem_private_key(fh.read(), password=None)
    try:
        key = private.decrypt(
            base64.b64decode(meta["key"]),
            padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
        )
        plain = AESGCM(key).decrypt(base64.b64decode(meta["nonce"]), body, header)
    except (ValueError, InvalidTag) as exc:
        raise CommandExecutionError(
            f"{sealed_path} was not sealed for this node's minion key ({private_key_path}) "
            "or is damaged: deliver it again with salt-run lustre_upgrade.deliver_backup"
        ) from exc
    name = os.path.basename(meta["name"])
    out = os.path.join(out_dir, name)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(plain)
    return out


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
    staging = staging or _under(root, "/root")
    if not os.path.isfile(backup):
        raise CommandExecutionError(
            f"backup {backup} does not exist on this node: deliver it with "
            f"salt-run lustre_upgrade.deliver_backup {__opts__['id']}"
        )
    with tempfile.TemporaryDirectory(prefix=".node-restore.") as work:
        archive = backup
        if _is_sealed(backup):
            archive = _unseal(backup, _minion_key(), work)
        info = verify(archive)
        if info["minion"] != __opts__["id"]:
            raise CommandExecutionError(
                f"backup {backup} belongs to minion {info['minion']!r}, not {__opts__['id']!r}: "
                "nothing was restored; deliver this node's own backup"
            )
        unpacked = os.path.join(work, "unpacked")
        os.mkdir(unpacked, 0o700)
        with tarfile.open(archive, "r:gz") as tar:
            _extract_all(tar, unpacked)
        source = os.path.join(unpacked, info["top"])
        plan = _restore_plan(source, root)
        reference = [
            p for p in REFERENCE_ONLY if os.path.lexists(os.path.join(source, p.lstrip("/")))
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


def _extract_all(tar, dest):
    # The "tar" filter (Python 3.12, backported to 3.8.17+) refuses absolute paths and
    # links out of dest while keeping owners and modes; older Pythons get the same checks here.
    if hasattr(tarfile, "tar_filter"):
        tar.extractall(dest, numeric_owner=True, filter="tar")
        return
    for member in tar.getmembers():
        name = os.path.normpath(member.name)
        if name.startswith(("/", "..")) or (member.islnk() and member.linkname.startswith("/")):
            raise CommandExecutionError(f"backup member {member.name!r} points outside the backup")
    tar.extractall(dest, numeric_owner=True)


def _is_sealed(path):
    with open(path, "rb") as fh:
        return fh.read(len(SEAL_MAGIC)) == SEAL_MAGIC


def _minion_key():
    return os.path.join(__opts__["pki_dir"], "minion.pem")


def _restore_plan(source, root):
    """The files and trees that differ from the backup, in restore order."""
    plan = []
    for path in RESTORED_FILES + RESTORED_TREES:
        backed_up = os.path.join(source, path.lstrip("/"))
        if not os.path.lexists(backed_up):
            continue
        target = _under(root, path)
        if _same(backed_up, target):
            continue
        plan.append(
            {
                "path": path,
                "source": backed_up,
                "tree": path in RESTORED_TREES,
                "keep_original": os.path.lexists(target) and not os.path.lexists(target + ".inst"),
            }
        )
    return plan


def _same(a, b):
    if not os.path.lexists(b):
        return False
    if os.path.isdir(a) and not os.path.islink(a):
        if not os.path.isdir(b):
            return False
        left = _tree_digest(a)
        return left == _tree_digest(b)
    return os.path.isfile(b) and _file_identity(a) == _file_identity(b)


def _file_identity(path):
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    return ("file", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, _sha256_file(path))


def _tree_digest(top):
    entries = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, top)
            if os.path.isdir(full) and not os.path.islink(full):
                st = os.lstat(full)
                entries[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
            else:
                entries[rel] = _file_identity(full)
    return entries


def _apply(step, root):
    target = _under(root, step["path"])
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
        for p in glob.glob(_under(root, "/etc/ssh/ssh_host_*"))
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
