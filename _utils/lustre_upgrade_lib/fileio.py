"""Files written whole or not at all, and their checksums."""

import hashlib
import os
import tempfile

_BLOCK = 1 << 20


def atomic_write(path, data, mode=0o644, fsync=True, replace=True):
    """
    Write ``data`` (bytes) to ``path`` through a temporary file in the same directory.

    ``replace=True`` renames over an existing file (readers see the old or the new
    content, never a mix); ``replace=False`` links the new file into place with
    ``link(2)``, which fails with ``FileExistsError`` if ``path`` exists: a file that
    appeared meanwhile is kept, never replaced. ``fsync`` flushes the data before the
    file becomes visible, so a crash cannot leave an empty file under the final name.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
        if fsync:
            _fsync_directory(directory)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _fsync_directory(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_bytes(path):
    """The content of ``path``, or None when it does not exist."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def sha256_file(path):
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()
