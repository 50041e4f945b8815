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
minion's RSA public key (OAEP/SHA-256). The header, authenticated by GCM, carries the
archive's sha256. Anyone holding a minion's public key can seal for it, so a sealed copy
proves nothing about who made it: a restore also checks the sha256 the master recorded.

Unpacking is member by member and accepts only regular files, directories and relative
symlinks that stay inside the backup's top directory; nothing is written through a link.

Everything here reads and writes files it is given; nothing runs a command or reads Salt's
configuration, so the master verifies and seals with the same code the node uses.
"""

import base64
import glob
import io
import json
import os
import re
import stat
import tarfile
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from salt.exceptions import CommandExecutionError, SaltInvocationError

from . import accounts, fileio, hostid_value

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
        # ZFS pools were last imported under this hostid (absent: backup.json records
        # the value ``hostid`` printed).
        "/etc/hostid",
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
    "/etc/hostid",
)
RESTORED_TREES = ("/etc/ssh", "/root/.ssh", "/var/lib/chroma")
REFERENCE_ONLY = ("/etc/sysconfig/network", "/etc/sysconfig/network-scripts")
ACCOUNT_FILES = tuple(f"/etc/{name}" for name in accounts.FILES)
HOSTID_FILE = "/etc/hostid"
# The IML manager's /var/lib/chroma holds the installer's package mirror (repo/): only the
# certificates and keys at its top go back, the installed ones kept aside (runbook
# "Restore the IML Configuration": mv /var/lib/chroma/*.* certs-inst/).
CHROMA = "/var/lib/chroma"
MANAGER_CERTS_ASIDE = "/var/lib/chroma/certs-inst"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_HOSTID = re.compile(r"[0-9a-f]{8}")

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


def new_info(
    kind, minion, hostname, created, manifest_paths, absent, contents, extras, hostid=None
):
    """The ``backup.json`` of a backup taken now (``hostid``: the one in effect, if known)."""
    info = {
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
    if hostid is not None:
        info["hostid"] = hostid_value.normalize(hostid)
    return info


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
    hostid = info.get("hostid")
    if hostid is not None and not (isinstance(hostid, str) and _HOSTID.fullmatch(hostid)):
        raise CommandExecutionError(
            f"backup {source}: hostid {hostid!r} in {INFO} is not 8 lowercase hex digits"
        )
    return info


def check_sha256(value, what="sha256"):
    """``value`` as 64 lowercase hex digits; SaltInvocationError otherwise."""
    text = str(value or "").strip().lower()
    if not _SHA256.fullmatch(text):
        raise SaltInvocationError(f"{what} {value!r} is not a sha256 (64 hex digits)")
    return text


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
    """
    Unpack an archive into the directory ``dest`` (created if missing), member by member,
    keeping content, modes (permission bits), numeric owners and times.

    Only regular files, directories and relative symlinks that stay inside the archive's
    top directory are accepted; a member named absolute or with ``..``, one appearing
    twice, a hard link, a device, a fifo, or a member below a symlink is refused
    (CommandExecutionError naming it), and nothing is written outside ``dest``.
    """
    os.makedirs(dest, mode=0o700, exist_ok=True)
    dest = os.path.realpath(dest)
    directories, links = [], []
    seen = set()
    top = None
    try:
        with tarfile.open(archive_path, "r:gz") as tar:
            for member in tar:
                name = _member_name(member)
                parts = name.split("/")
                top = top or parts[0]
                if parts[0] != top:
                    raise _refused(member, f"is outside the top directory {top}/")
                if name in seen:
                    raise _refused(member, "appears twice in the archive")
                seen.add(name)
                target = os.path.join(dest, *parts)
                _make_parents(dest, parts[:-1], member)
                if member.isdir():
                    _extract_directory(target, member)
                    directories.append((target, member))
                elif member.isreg():
                    _extract_file(tar, member, target)
                elif member.issym():
                    _check_link(member, name, top)
                    os.symlink(member.linkname, target)
                    os.lchown(target, member.uid, member.gid)
                    os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)
                    links.append((target, member))
                elif member.islnk():
                    raise _refused(member, "is a hard link: a backup holds no hard links")
                else:
                    raise _refused(member, f"is a {_KINDS.get(member.type, 'special file')}")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise CommandExecutionError(f"cannot unpack backup {archive_path}: {exc}") from exc
    tree = os.path.join(dest, top) if top else dest
    for target, member in links:
        resolved = os.path.realpath(target)
        if not _inside(resolved, tree):
            raise _refused(member, f"points outside the backup (to {resolved})")
    for target, member in reversed(directories):
        os.chmod(target, member.mode & 0o777)
        os.utime(target, (member.mtime, member.mtime))


_KINDS = {
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "fifo",
}


def _refused(member, why):
    return CommandExecutionError(f"backup member {member.name!r} {why}: the archive is refused")


def _member_name(member):
    name = member.name.rstrip("/")
    if name.startswith("/"):
        raise _refused(member, "has an absolute name")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise _refused(member, "has an empty, '.' or '..' path component")
    return name


def _inside(path, top):
    return path == top or path.startswith(top.rstrip("/") + "/")


def _make_parents(dest, parts, member):
    """Create the missing parents of a member; an existing one must be a real directory."""
    current = dest
    for part in parts:
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            os.mkdir(current, 0o700)
            continue
        if stat.S_ISLNK(st.st_mode):
            raise _refused(member, f"is below the symlink {part!r}: nothing is written through it")
        if not stat.S_ISDIR(st.st_mode):
            raise _refused(member, f"is below {part!r}, which is not a directory")


def _extract_directory(target, member):
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        os.mkdir(target, 0o700)
    else:
        if not stat.S_ISDIR(st.st_mode):
            raise _refused(member, "replaces a member that is not a directory")
    os.lchown(target, member.uid, member.gid)


def _extract_file(tar, member, target):
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "wb") as out:
        source = tar.extractfile(member)
        for block in iter(lambda: source.read(1 << 20), b""):
            out.write(block)
        os.fchown(out.fileno(), member.uid, member.gid)
        os.fchmod(out.fileno(), member.mode & 0o777)
    os.utime(target, (member.mtime, member.mtime))


def _check_link(member, name, top):
    link = member.linkname
    if not link or link.startswith("/"):
        raise _refused(member, f"is an absolute symlink (to {link!r})")
    resolved = os.path.normpath(os.path.join(os.path.dirname(name), link))
    if not _inside(resolved, top):
        raise _refused(member, f"points outside the backup (to {link!r})")


# --- sealing for one node ----------------------------------------------------------------


def seal_bytes(plain, name, public_pem):
    """
    ``plain`` (the archive ``name``) sealed for the RSA public key ``public_pem``; the
    header (authenticated by GCM) carries the archive's sha256.
    """
    try:
        public = serialization.load_pem_public_key(public_pem)
    except (ValueError, TypeError) as exc:
        raise CommandExecutionError(f"not a PEM RSA public key: {exc}") from exc
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    header = json.dumps(
        {
            "name": os.path.basename(name),
            "sha256": fileio.sha256_bytes(plain),
            "key": base64.b64encode(public.encrypt(key, _OAEP)).decode(),
            "nonce": base64.b64encode(nonce).decode(),
        }
    ).encode()
    return SEAL_MAGIC + header + b"\n" + AESGCM(key).encrypt(nonce, plain, header)


def seal_header(sealed):
    """The header of a sealed copy (name, archive sha256, wrapped key) as a dict, unchecked."""
    if not sealed.startswith(SEAL_MAGIC):
        raise ValueError("not a sealed backup")
    header, _, _ = sealed[len(SEAL_MAGIC) :].partition(b"\n")
    meta = json.loads(header)
    if not isinstance(meta, dict):
        raise ValueError("the header of the sealed backup is not a JSON object")
    return meta


def unseal_bytes(sealed, private_pem):
    """
    ``(name, plain)`` from a sealed copy; ValueError when this key cannot open it, the
    copy is damaged, or the archive inside is not the one its header names.
    """
    if not sealed.startswith(SEAL_MAGIC):
        raise ValueError("not a sealed backup")
    header, _, body = sealed[len(SEAL_MAGIC) :].partition(b"\n")
    try:
        meta = json.loads(header)
        private = serialization.load_pem_private_key(private_pem, password=None)
        key = private.decrypt(base64.b64decode(meta["key"]), _OAEP)
        plain = AESGCM(key).decrypt(base64.b64decode(meta["nonce"]), body, header)
        name = os.path.basename(meta["name"])
        digest = meta["sha256"]
    except (ValueError, KeyError, TypeError, InvalidTag) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc
    if fileio.sha256_bytes(plain) != digest:
        raise ValueError("the archive inside does not match the sha256 its header names")
    return name, plain


def is_sealed(path):
    with open(path, "rb") as fh:
        return fh.read(len(SEAL_MAGIC)) == SEAL_MAGIC


def seal(path, pubkey, output):
    """
    Seal the archive ``path`` for the minion whose public key file is ``pubkey``; write
    it to ``output`` (mode 0600). Returns ``{"sealed": output, "name": <archive name>,
    "sha256": <of the sealed copy>, "archive_sha256": <of the archive>}``: a restore
    checks both.
    """
    public_pem = _read(pubkey, "the minion's public key")
    plain = _read(path, "the backup")
    sealed = seal_bytes(plain, path, public_pem)
    fileio.atomic_write(output, sealed, mode=0o600)
    return {
        "sealed": output,
        "name": os.path.basename(path),
        "sha256": fileio.sha256_bytes(sealed),
        "archive_sha256": fileio.sha256_bytes(plain),
    }


def unseal(sealed_path, private_key_path, out_dir, archive_sha256=None):
    """
    Open a sealed copy with the minion key ``private_key_path`` into ``out_dir``. With
    ``archive_sha256`` (the master's record of the backup), the archive inside must be
    that one.
    """
    sealed = _read(sealed_path, "the sealed backup")
    if not sealed.startswith(SEAL_MAGIC):
        raise CommandExecutionError(f"{sealed_path} is not a sealed backup")
    try:
        name, plain = unseal_bytes(sealed, _read(private_key_path, "the minion key"))
    except ValueError as exc:
        raise CommandExecutionError(
            f"{sealed_path} was not sealed for this node's minion key ({private_key_path}) "
            f"or is damaged ({exc}): deliver it again with salt-run "
            "lustre_upgrade.deliver_backup"
        ) from exc
    if archive_sha256 is not None:
        expected = check_sha256(archive_sha256, "archive_sha256")
        actual = fileio.sha256_bytes(plain)
        if actual != expected:
            raise CommandExecutionError(
                f"{sealed_path} holds the archive {name} with sha256 {actual}: not the backup "
                f"the master recorded ({expected}); deliver it again with salt-run "
                "lustre_upgrade.deliver_backup"
            )
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


def restore_plan(source, root, keep_accounts=()):
    """
    What a restore of the unpacked backup ``source`` changes on the node at ``root``, in
    restore order: one step per path that differs, ``{"path", "tree", "source",
    "content", "keep_original", "inst"}`` (+ ``mode``, ``uid``, ``gid`` when the step
    writes ``content`` rather than copying ``source``). ``inst`` is where the installed
    original is kept, ``keep_original`` whether it exists and is not kept yet.

    The account files are merged (:mod:`accounts`: the site's accounts and
    ``keep_accounts`` added to the node's own), an id clash raises before any step. A
    manager backup restores only the certificates at the top of /var/lib/chroma. The
    hostid is the backup's /etc/hostid, else the value ``backup.json`` recorded.
    """
    info = _source_info(source)
    merged = _merged_accounts(source, root, keep_accounts)
    plan = []
    for path in RESTORED_FILES:
        if path in ACCOUNT_FILES:
            if merged is not None:
                text = merged.files[path[len("/etc/") :]]
                mode = 0o000 if path.endswith("shadow") else 0o644
                content = text.encode("utf-8", "surrogateescape")
                _add_content(plan, path, root, content, source, mode)
            continue
        if path == HOSTID_FILE:
            _add_hostid(plan, source, root, info)
            continue
        _add_copy(plan, path, source, root)
    for path in RESTORED_TREES:
        if path == CHROMA and info.get("kind") == "manager":
            _add_manager_certificates(plan, source, root)
            continue
        _add_copy(plan, path, source, root, tree=True)
    return plan


def account_merge(source, root, keep_accounts=()):
    """The account merge a restore of ``source`` on ``root`` makes (None: no account files)."""
    return _merged_accounts(source, root, keep_accounts)


def _source_info(source):
    raw = fileio.read_bytes(os.path.join(source, INFO))
    return load_info(raw, source) if raw is not None else {"kind": "server"}


def _merged_accounts(source, root, keep_accounts):
    backed_up = {name: _text(os.path.join(source, "etc", name)) for name in accounts.FILES}
    if backed_up["passwd"] is None and backed_up["group"] is None:
        return None
    installed = {name: _text(under(root, f"/etc/{name}")) for name in accounts.FILES}
    merged = accounts.merge(backed_up, installed, keep_accounts)
    if merged.clashes:
        raise CommandExecutionError(
            "the backup's accounts clash with this node's: "
            + "; ".join(merged.clashes)
            + "; nothing was restored: give the site account a free id on the old node and "
            "take a new backup, or remove the EL7 account if nothing uses it"
        )
    return merged


def _text(path):
    data = fileio.read_bytes(path)
    return None if data is None else data.decode("utf-8", "surrogateescape")


def _inst_of(path):
    return path + ".inst"


def _step(path, root, tree=False, source=None, content=None, inst=None):
    inst = inst or _inst_of(path)
    target = under(root, path)
    return {
        "path": path,
        "tree": tree,
        "source": source,
        "content": content,
        "inst": inst,
        "keep_original": os.path.lexists(target) and not os.path.lexists(under(root, inst)),
    }


def _add_copy(plan, path, source, root, tree=False, inst=None):
    backed_up = os.path.join(source, path.lstrip("/"))
    if not os.path.lexists(backed_up) or same(backed_up, under(root, path)):
        return
    plan.append(_step(path, root, tree=tree, source=backed_up, inst=inst))


def _add_content(plan, path, root, content, source, mode=0o644):
    target = under(root, path)
    current = fileio.read_bytes(target) if os.path.isfile(target) else None
    if current == content or (current is None and not content):
        return
    model = target if os.path.isfile(target) else os.path.join(source, path.lstrip("/"))
    try:
        st = os.lstat(model)
        mode, uid, gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
    except FileNotFoundError:
        uid = gid = 0
    step = _step(path, root, content=content)
    step.update({"mode": mode, "uid": uid, "gid": gid})
    plan.append(step)


def _add_hostid(plan, source, root, info):
    backed_up = os.path.join(source, HOSTID_FILE.lstrip("/"))
    if os.path.lexists(backed_up):
        if not os.path.isfile(backed_up) or os.path.islink(backed_up):
            raise CommandExecutionError(f"{HOSTID_FILE} in the backup is not a regular file")
        hostid_value.parse_file(fileio.read_bytes(backed_up), f"{HOSTID_FILE} in the backup")
        _add_copy(plan, HOSTID_FILE, source, root)
    elif info.get("hostid"):
        _add_content(plan, HOSTID_FILE, root, hostid_value.to_bytes(info["hostid"]), source)


def _add_manager_certificates(plan, source, root):
    backed_up = os.path.join(source, CHROMA.lstrip("/"))
    if not os.path.isdir(backed_up) or os.path.islink(backed_up):
        return
    for name in sorted(os.listdir(backed_up)):
        full = os.path.join(backed_up, name)
        if os.path.isfile(full) and not os.path.islink(full):
            _add_copy(
                plan,
                f"{CHROMA}/{name}",
                source,
                root,
                inst=f"{MANAGER_CERTS_ASIDE}/{name}",
            )


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
