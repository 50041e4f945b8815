"""Helpers of the node backup/restore tests: backups from node-shaped trees, archives
rewritten member by member, minion key pairs, and whole-tree snapshots."""

import hashlib
import io
import os
import stat
import tarfile

from tests.support import SERVER_FILES, make_tree, minion_key_pair, write_empty_cib


def take_backup(modules, tmp_path, files=SERVER_FILES, name="node", kind="server", **kwargs):
    """A backup made by node_backup.create from a tree holding ``files``."""
    root = make_tree(tmp_path / name, files)
    if kind == "server":
        kwargs.setdefault("cib_file", str(write_empty_cib(tmp_path / f"{name}-cib.xml")))
    return modules.node_backup.create(
        kind, dest=str(tmp_path / f"{name}-backups"), push=False, root=str(root), **kwargs
    )


key_pair = minion_key_pair


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


class Member:
    """One member of an archive being rewritten: its TarInfo and, for a file, its data."""

    def __init__(self, info, data=None):
        self.info, self.data = info, data

    @property
    def name(self):
        return self.info.name


def rewrite(archive, out, edit):
    """
    ``archive`` written again as ``out`` after ``edit(top, members)`` (a list of Member).
    SHA256SUMS is recomputed for the regular files, so the result verifies and only the
    extraction can refuse it.
    """
    members = []
    with tarfile.open(archive) as tar:
        for info in tar.getmembers():
            members.append(Member(info, tar.extractfile(info).read() if info.isfile() else None))
    top = members[0].name
    edit(top, members)
    sums = {}
    for m in members:
        if m.info.isfile() and m.name != f"{top}/SHA256SUMS":
            sums[m.name[len(top) + 1 :]] = hashlib.sha256(m.data).hexdigest()
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items())).encode()
    with tarfile.open(out, "w:gz") as tar:
        for m in members:
            if m.name == f"{top}/SHA256SUMS":
                m.data = text
            if m.info.isfile():
                m.info.size = len(m.data)
                tar.addfile(m.info, io.BytesIO(m.data))
            else:
                tar.addfile(m.info)
    return str(out)


def member(name, kind=tarfile.REGTYPE, data=b"", linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o644
    info.linkname = linkname
    return Member(info, data if kind == tarfile.REGTYPE else None)


def snapshot(root, skip=()):
    """Every entry below ``root``: type, content or link, mode, owner, inode, xattrs."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = [
            d for d in dirnames if os.path.normpath(os.path.join(rel_dir, d)) not in skip
        ]
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                what = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                what = ("dir",)
            else:
                what = ("file", open(path, "rb").read())
            xattrs = () if stat.S_ISLNK(st.st_mode) else tuple(sorted(os.listxattr(path)))
            found[os.path.relpath(path, root)] = (
                *what,
                stat.S_IMODE(st.st_mode),
                st.st_uid,
                st.st_gid,
                st.st_ino,
                xattrs,
            )
    return found
