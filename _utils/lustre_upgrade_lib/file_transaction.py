"""
Files and trees of a node replaced as one transaction, and copied without the source's
extended attributes.

Each replacement is prepared beside its target (same directory, so the final rename is
atomic), flushed to disk, then renamed over it; the installed original is kept first as a
hard link (files) or by renaming it aside (trees), either as the runbook's ``.inst`` copy or
as a private undo copy. Until :meth:`Transaction.commit`, :meth:`Transaction.rollback`
puts every original back where it was and says which paths it put back. A file is
never missing under its name: readers see the old file or the new one.

Copies keep content, permission bits, numeric owner and times, and nothing else: the
extended attributes of a staging directory (``security.selinux`` labels of a temporary
directory above all) never reach the node; the caller relabels the restored paths.
"""

import errno
import os
import shutil
import stat
import uuid

from .backup_format import under

_BLOCK = 1 << 20


# --- copies without extended attributes ------------------------------------------------------


def copy_file(src, dst):
    """Copy the file or symlink ``src`` to the new name ``dst``: content, mode, owner, times."""
    st = os.lstat(src)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(st.st_mode):
        with open(src, "rb", opener=_no_follow) as source:
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, _BLOCK)
                out.flush()
                os.fchown(out.fileno(), st.st_uid, st.st_gid)
                os.fchmod(out.fileno(), stat.S_IMODE(st.st_mode))
                os.fsync(out.fileno())
    else:
        raise OSError(errno.EINVAL, f"{src} is neither a regular file nor a symlink")
    _copy_owner_and_times(st, dst)


def copy_tree(src, dst):
    """Copy the directory ``src`` into the existing directory ``dst``, then ``dst``'s own
    mode, owner and times from ``src``."""
    directories = [(src, dst)]
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        out_dir = os.path.normpath(os.path.join(dst, rel))
        for name in sorted(dirnames):
            source = os.path.join(dirpath, name)
            if os.path.islink(source):
                copy_file(source, os.path.join(out_dir, name))
                continue
            os.mkdir(os.path.join(out_dir, name), 0o700)
            directories.append((source, os.path.join(out_dir, name)))
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            copy_file(os.path.join(dirpath, name), os.path.join(out_dir, name))
    for source, target in reversed(directories):
        st = os.lstat(source)
        os.chmod(target, stat.S_IMODE(st.st_mode))
        _copy_owner_and_times(st, target)


def write_file(dst, content, mode, uid, gid):
    """Write ``content`` to the new name ``dst`` with ``mode`` and owner, flushed to disk."""
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
        out.flush()
        os.fchown(out.fileno(), uid, gid)
        os.fchmod(out.fileno(), mode)
        os.fsync(out.fileno())


def _no_follow(path, flags):
    return os.open(path, flags | os.O_NOFOLLOW)


def _copy_owner_and_times(st, dst):
    os.lchown(dst, st.st_uid, st.st_gid)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_owners(src, dst):
    """The owners of the tree ``src`` on its copy ``dst`` (copytree keeps the rest)."""
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        for name in [None, *dirnames, *filenames]:
            source = dirpath if name is None else os.path.join(dirpath, name)
            copy = os.path.normpath(os.path.join(dst, rel, name or ""))
            st = os.lstat(source)
            os.lchown(copy, st.st_uid, st.st_gid)


def fsync_directory(directory):
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def beside(path, what):
    """A fresh hidden name in ``path``'s directory, e.g. ``.hosts.restore-new-<id>``."""
    directory, name = os.path.split(path)
    return os.path.join(directory, f".{name}.restore-{what}-{uuid.uuid4().hex[:12]}")


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


# --- the transaction ---------------------------------------------------------------------------


class Transaction:
    """
    Replace paths of the node at ``root``, reversibly. :meth:`apply` takes one step of
    ``backup_format.restore_plan``: ``path``, ``tree``, ``source`` or ``content`` (+
    ``mode``, ``uid``, ``gid``), ``keep_original`` and ``inst``.
    """

    def __init__(self, root):
        self.root = root
        self.current = None
        self._records = []
        self._created = []

    @property
    def changed(self):
        """The paths replaced so far, in order."""
        return [r["path"] for r in self._records if r["placed"]]

    def apply(self, step):
        path = step["path"]
        self.current = path
        target = under(self.root, path)
        record = {"path": path, "target": target, "saved": None, "moved": False}
        record.update({"inst": False, "placed": False})
        self._records.append(record)
        parent = os.path.dirname(target)
        self._makedirs(parent, 0o755)
        new = beside(target, "new")
        try:
            self._prepare(step, new)
            if os.path.lexists(target):
                if step.get("keep_original"):
                    saved = under(self.root, step["inst"])
                    self._makedirs(os.path.dirname(saved), 0o700)
                    record["inst"] = True
                else:
                    saved = beside(target, "undo")
                self._set_aside(target, saved, record)
            if record["saved"] and not record["moved"] and os.path.isdir(new):
                os.unlink(target)  # a directory replaces a file: the file is kept aside
            os.rename(new, target)
            record["placed"] = True
        finally:
            if not record["placed"] and os.path.lexists(new):
                remove(new)
        fsync_directory(parent)
        self.current = None

    def _prepare(self, step, new):
        if step.get("content") is not None:
            write_file(new, step["content"], step["mode"], step["uid"], step["gid"])
        elif step.get("tree"):
            os.mkdir(new, 0o700)
            copy_tree(step["source"], new)
        else:
            copy_file(step["source"], new)

    @staticmethod
    def _set_aside(target, saved, record):
        if not (os.path.isdir(target) and not os.path.islink(target)):
            # A second name for the same inode: the original stays untouched under it.
            os.link(target, saved, follow_symlinks=False)
            record["saved"] = saved
            return
        try:
            os.rename(target, saved)
        except OSError as exc:
            # Overlay and bind-mounted trees refuse to rename a directory (EXDEV): copy it
            # aside (its own attributes included), then remove the original.
            if exc.errno != errno.EXDEV:
                raise
            try:
                shutil.copytree(target, saved, symlinks=True)
                _copy_owners(target, saved)
            except OSError:
                shutil.rmtree(saved, ignore_errors=True)
                raise
            record.update(saved=saved, moved=True)
            shutil.rmtree(target)
            return
        record.update(saved=saved, moved=True)

    def _makedirs(self, directory, mode):
        missing = []
        while not os.path.lexists(directory):
            missing.append(directory)
            directory = os.path.dirname(directory)
        for path in reversed(missing):
            os.mkdir(path, mode)
            self._created.append(path)

    def rollback(self):
        """
        Put back every original, newest first. Returns ``(rolled_back, left)``: the paths
        put back as they were (in the order they had been changed), and ``(path, what to
        do)`` for any that could not be.
        """
        rolled_back, left = [], []
        for record in reversed(self._records):
            if not (record["placed"] or record["saved"]):
                continue
            try:
                self._undo(record)
            except OSError as exc:
                where = record["saved"] or "nowhere: it did not exist"
                left.append((record["path"], f"{exc}; the original is at {where}"))
            else:
                rolled_back.append(record["path"])
        for path in reversed(self._created):
            try:
                os.rmdir(path)
            except OSError:
                pass
        self._records, self._created = [], []
        return list(reversed(rolled_back)), list(reversed(left))

    @staticmethod
    def _undo(record):
        target, saved = record["target"], record["saved"]
        if not record["placed"]:
            if record["moved"]:
                remove(target)  # what an interrupted removal left
                os.rename(saved, target)
            else:
                os.unlink(saved)  # the target was never touched
            return
        if saved and not record["moved"] and not os.path.isdir(target):
            os.rename(saved, target)  # atomic: the original inode is back under its name
        else:
            remove(target)
            if saved:
                os.rename(saved, target)
        fsync_directory(os.path.dirname(target))

    def commit(self):
        """Drop the undo copies (the ``.inst`` copies stay); returns any left behind."""
        left = []
        for record in self._records:
            if record["saved"] and not record["inst"]:
                try:
                    remove(record["saved"])
                except OSError as exc:
                    left.append((record["saved"], str(exc)))
        self._records, self._created = [], []
        return left
