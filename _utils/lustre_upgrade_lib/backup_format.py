"""
The node backup's format: what it holds, how it is checked, sealed and compared.

The archive is the runbook's backup (``bck-<host>-<timestamp>.tgz``, one top directory
holding the listed files under their absolute paths, the CIB as
``cluster-cfg-<host>.xml`` or the IML database as ``pgbackup-<timestamp>.sql.gz``) plus two
members that make it verifiable: ``SHA256SUMS`` (``sha256sum`` format, paths relative to
the top directory) and ``backup.json`` (who, what, when, and which listed paths were
absent on the node). Beside it, ``<archive>.sha256`` holds the archive's own checksum.
EL6 nodes produce the same layout with ``salt://lustre/files/node-backup.sh``.

A sealed copy (``SEAL_MAGIC``, a JSON header, then the AES-256-GCM ciphertext) opens only
with the private key of the minion it was sealed for: the key is wrapped with that
minion's RSA public key (OAEP/SHA-256).

Everything here reads and writes files it is given; nothing runs a command or reads Salt's
configuration, so the master verifies and seals with the same code the node uses.
"""

import base64
import glob
import io
import json
import os
import stat
import tarfile
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from salt.exceptions import CommandExecutionError, SaltInvocationError

from . import fileio

FORMAT = 1
SUMS = "SHA256SUMS"
INFO = "backup.json"
SIDECAR_SUFFIX = ".sha256"
SEAL_MAGIC = b"LUSTRE-UPGRADE-SEALED-1\n"
INFO_KEYS = ("format", "kind", "minion", "hostname", "created")

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

# What a restore puts back (runbook "Restore the Node OS Configuration from Backup" and
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

_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


# --- what a backup holds ---------------------------------------------------------------


def manifest(kind="server", keep_minion_identity=False):
    """The paths (and globs) a backup of ``kind`` holds, in the runbook's order."""
    if kind not in MANIFESTS:
        raise SaltInvocationError(f"unknown backup kind {kind!r}: use 'server' or 'manager'")
    paths = list(MANIFESTS[kind])
    if keep_minion_identity:
        paths += list(MINION_IDENTITY)
    return paths


def under(root, path):
    """Where the node's absolute ``path`` is when the node's file system is at ``root``."""
    return os.path.join(root, path.lstrip("/")) if root != "/" else path


def _as_on_node(root, real):
    return "/" + os.path.relpath(real, root) if root != "/" else real


def _excluded(path, excludes):
    return any(path == ex or path.startswith(ex.rstrip("/") + "/") for ex in excludes)


def expand(patterns, root, excludes=()):
    """Manifest patterns → (existing absolute paths, absent patterns), under ``root``."""
    present, absent = [], []
    for pattern in patterns:
        matches = sorted(glob.glob(under(root, pattern)))
        if not matches:
            absent.append(pattern)
            continue
        present += [_as_on_node(root, m) for m in matches]
    return [p for p in present if not _excluded(p, excludes)], absent


def walk(root, paths, excludes=()):
    """Every file, directory and link below ``paths`` (absolute, as on the node)."""
    found = []
    for path in paths:
        real = under(root, path)
        found.append(path)
        if os.path.isdir(real) and not os.path.islink(real):
            for dirpath, dirnames, filenames in os.walk(real):
                rel_dir = _as_on_node(root, dirpath)
                dirnames[:] = sorted(
                    d for d in dirnames if not _excluded(os.path.join(rel_dir, d), excludes)
                )
                for name in sorted(dirnames) + sorted(filenames):
                    member = os.path.join(rel_dir, name)
                    if not _excluded(member, excludes):
                        found.append(member)
    return found


# --- SHA256SUMS, backup.json and the sidecar ---------------------------------------------


def parse_sums(text, source):
    """``sha256sum`` output → {relative path: hex digest}; ``source`` names it in errors."""
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


def format_sums(sums):
    """{relative path: hex digest} → ``sha256sum`` output, sorted by path."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))


def new_info(kind, minion, hostname, created, manifest_paths, absent, contents, extras):
    """The ``backup.json`` of a backup taken now."""
    return {
        "format": FORMAT,
        "kind": kind,
        "minion": minion,
        "hostname": hostname,
        "created": created,
        "manifest": list(manifest_paths),
        "absent": list(absent),
        "contents": list(contents),
        "extras": sorted(extras),
    }


def dump_info(info):
    return json.dumps(info, indent=2, sort_keys=True).encode() + b"\n"


def load_info(raw, source):
    """``backup.json`` → dict, checked for the keys every reader relies on."""
    try:
        info = json.loads(raw)
    except ValueError as exc:
        raise CommandExecutionError(f"backup {source}: {INFO} is not JSON: {exc}") from exc
    if not isinstance(info, dict):
        raise CommandExecutionError(f"backup {source}: {INFO} is not a JSON object")
    for key in INFO_KEYS:
        if key not in info:
            raise CommandExecutionError(f"backup {source}: {INFO} has no {key!r}")
    if info["kind"] not in MANIFESTS:
        raise CommandExecutionError(f"backup {source}: unknown kind {info['kind']!r} in {INFO}")
    return info


def write_sidecar(archive_path, digest):
    """``<archive>.sha256``, ``sha256sum`` format, mode 0600."""
    line = f"{digest}  {os.path.basename(archive_path)}\n"
    fileio.atomic_write(archive_path + SIDECAR_SUFFIX, line.encode("ascii"), mode=0o600)


def read_sidecar(path):
    """The digest a ``.sha256`` sidecar holds, lowercase."""
    try:
        with open(path, encoding="ascii") as fh:
            fields = fh.read().split()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandExecutionError(f"cannot read the checksum file {path}: {exc}") from exc
    if not fields or len(fields[0]) != 64:
        raise CommandExecutionError(f"{path} holds no sha256 checksum")
    return fields[0].lower()


# --- writing and checking an archive -----------------------------------------------------


def write_archive(archive_path, top, root, contents, extras, info):
    """
    Write the gzip tar ``archive_path``: ``top/`` holding ``contents`` (absolute paths as
    on the node, read under ``root``), ``extras`` ({member name: local file}), ``INFO``
    and ``SUMS`` (every regular file's sha256).
    """
    sums = {}
    with tarfile.open(archive_path, "w:gz") as archive:
        top_dir = tarfile.TarInfo(top)
        top_dir.type = tarfile.DIRTYPE
        top_dir.mode = 0o700
        top_dir.mtime = int(time.time())
        archive.addfile(top_dir)
        for path in contents:
            real = under(root, path)
            try:
                archive.add(real, arcname=f"{top}{path}", recursive=False)
            except OSError as exc:
                raise CommandExecutionError(f"cannot back up {path}: {exc}") from exc
            if os.path.isfile(real) and not os.path.islink(real):
                sums[path.lstrip("/")] = fileio.sha256_file(real)
        for name, source in sorted(extras.items()):
            archive.add(source, arcname=f"{top}/{name}", recursive=False)
            sums[name] = fileio.sha256_file(source)
        info_bytes = dump_info(info)
        _add_bytes(archive, f"{top}/{INFO}", info_bytes)
        sums[INFO] = fileio.sha256_bytes(info_bytes)
        _add_bytes(archive, f"{top}/{SUMS}", format_sums(sums).encode())


def _add_bytes(archive, name, data):
    member = tarfile.TarInfo(name)
    member.size = len(data)
    member.mode = 0o600
    member.mtime = int(time.time())
    archive.addfile(member, io.BytesIO(data))


def verify(path):
    """
    Check the archive ``path``: one top directory, every member listed in SHA256SUMS
    present with its checksum, every regular file listed, every path ``backup.json``
    lists present. Returns ``backup.json`` plus ``archive``, ``top``, ``size`` and
    ``sha256`` (of the archive); CommandExecutionError says what is wrong.
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
        if top in ("", ".", ".."):
            raise CommandExecutionError(
                f"backup {path} must hold one top directory bck-<host>-<timestamp>, "
                f"not members named {members[0].name!r}"
            )
        by_name = {m.name[len(top) + 1 :]: m for m in members if m.name != top}
        for required in (SUMS, INFO):
            if required not in by_name:
                raise CommandExecutionError(f"backup {path} has no {top}/{required}")
        info = load_info(archive.extractfile(by_name[INFO]).read(), path)
        sums = parse_sums(archive.extractfile(by_name[SUMS]).read().decode(), path)
        for name, member in by_name.items():
            if member.isfile() and name != SUMS and name not in sums:
                raise CommandExecutionError(f"backup {path}: {top}/{name} is not in {SUMS}")
        for name, digest in sums.items():
            member = by_name.get(name)
            if member is None or not member.isfile():
                raise CommandExecutionError(
                    f"backup {path}: {top}/{name} listed in {SUMS} is missing"
                )
            if fileio.sha256_bytes(archive.extractfile(member).read()) != digest:
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
        {
            "archive": path,
            "top": top,
            "size": os.path.getsize(path),
            "sha256": fileio.sha256_file(path),
        }
    )
    return info


def unpack(archive_path, dest):
    """Unpack a verified archive into ``dest``, keeping owners and modes, nothing outside."""
    with tarfile.open(archive_path, "r:gz") as tar:
        # The "tar" filter (Python 3.12, backported to 3.8.17+) refuses absolute paths and
        # links out of dest while keeping owners and modes; older Pythons get the same
        # checks here.
        if hasattr(tarfile, "tar_filter"):
            try:
                tar.extractall(dest, numeric_owner=True, filter="tar")
            except tarfile.FilterError as exc:
                raise CommandExecutionError(
                    f"backup member {exc.tarinfo.name!r} points outside the backup: {exc}"
                ) from exc
            return
        for member in tar.getmembers():
            name = os.path.normpath(member.name)
            if name.startswith(("/", "..")) or (member.islnk() and member.linkname.startswith("/")):
                raise CommandExecutionError(
                    f"backup member {member.name!r} points outside the backup"
                )
        tar.extractall(dest, numeric_owner=True)


# --- sealing for one node ----------------------------------------------------------------


def seal_bytes(plain, name, public_pem):
    """``plain`` (the archive ``name``) sealed for the RSA public key ``public_pem``."""
    try:
        public = serialization.load_pem_public_key(public_pem)
    except (ValueError, TypeError) as exc:
        raise CommandExecutionError(f"not a PEM RSA public key: {exc}") from exc
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    header = json.dumps(
        {
            "name": os.path.basename(name),
            "key": base64.b64encode(public.encrypt(key, _OAEP)).decode(),
            "nonce": base64.b64encode(nonce).decode(),
        }
    ).encode()
    return SEAL_MAGIC + header + b"\n" + AESGCM(key).encrypt(nonce, plain, header)


def unseal_bytes(sealed, private_pem):
    """``(name, plain)`` from a sealed copy; ValueError when this key cannot open it."""
    if not sealed.startswith(SEAL_MAGIC):
        raise ValueError("not a sealed backup")
    header, _, body = sealed[len(SEAL_MAGIC) :].partition(b"\n")
    try:
        meta = json.loads(header)
        private = serialization.load_pem_private_key(private_pem, password=None)
        key = private.decrypt(base64.b64decode(meta["key"]), _OAEP)
        plain = AESGCM(key).decrypt(base64.b64decode(meta["nonce"]), body, header)
        name = os.path.basename(meta["name"])
    except (ValueError, KeyError, TypeError, InvalidTag) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc
    return name, plain


def is_sealed(path):
    with open(path, "rb") as fh:
        return fh.read(len(SEAL_MAGIC)) == SEAL_MAGIC


def seal(path, pubkey, output):
    """
    Seal the archive ``path`` for the minion whose public key file is ``pubkey``; write
    it to ``output`` (mode 0600). Returns ``{"sealed": output, "name": <archive name>}``.
    """
    public_pem = _read(pubkey, "the minion's public key")
    sealed = seal_bytes(_read(path, "the backup"), path, public_pem)
    fileio.atomic_write(output, sealed, mode=0o600)
    return {"sealed": output, "name": os.path.basename(path)}


def unseal(sealed_path, private_key_path, out_dir):
    """Open a sealed copy with the minion key ``private_key_path`` into ``out_dir``."""
    sealed = _read(sealed_path, "the sealed backup")
    if not sealed.startswith(SEAL_MAGIC):
        raise CommandExecutionError(f"{sealed_path} is not a sealed backup")
    try:
        name, plain = unseal_bytes(sealed, _read(private_key_path, "the minion key"))
    except ValueError as exc:
        raise CommandExecutionError(
            f"{sealed_path} was not sealed for this node's minion key ({private_key_path}) "
            "or is damaged: deliver it again with salt-run lustre_upgrade.deliver_backup"
        ) from exc
    out = os.path.join(out_dir, name)
    fileio.atomic_write(out, plain, mode=0o600, fsync=False)
    return out


def _read(path, what):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {what} {path}: {exc}") from exc


# --- comparing a backup with the node ----------------------------------------------------


def restore_plan(source, root):
    """
    The files and trees of the unpacked backup ``source`` that differ from the node at
    ``root``, in restore order: ``{"path", "source", "tree", "keep_original"}`` each
    (``keep_original``: the installed one exists and no ``.inst`` copy yet).
    """
    plan = []
    for path in RESTORED_FILES + RESTORED_TREES:
        backed_up = os.path.join(source, path.lstrip("/"))
        if not os.path.lexists(backed_up):
            continue
        target = under(root, path)
        if same(backed_up, target):
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


def same(a, b):
    """Whether ``b`` is ``a``: content, links, modes and owners, trees compared whole."""
    if not os.path.lexists(b):
        return False
    if os.path.isdir(a) and not os.path.islink(a):
        return os.path.isdir(b) and _tree_identity(a) == _tree_identity(b)
    return os.path.isfile(b) and _file_identity(a) == _file_identity(b)


def _file_identity(path):
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    return ("file", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, fileio.sha256_file(path))


def _tree_identity(top):
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
