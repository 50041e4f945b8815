"""
IML's target store: ``/var/lib/chroma/targets``, one JSON object per file (``bdev``,
``mntpt``, ``backfstype``, ``device_type``, ``target_name``), and the targets' mount points.

The ``ocf:chroma:Target`` resource agent fails when a mount point is missing; the restore
and the "nothing served here" checks read the mount points from this store.
"""

import json
import os
import posixpath
import stat

from salt.exceptions import CommandExecutionError, SaltInvocationError

TARGETS_DIR = "/var/lib/chroma/targets"
TARGET_KEYS = ("bdev", "mntpt", "backfstype", "device_type", "target_name")
RESTORE_HINT = (
    "restore /var/lib/chroma from the node's backup "
    "(runbook: cp -a $HOME/bck-`hostname`-*/var/lib/chroma /var/lib/.)"
)
# What a mount point path is on the node.
PRESENT, MISSING, NOT_A_DIRECTORY = "present", "missing", "not-a-directory"


def parse_target(text, source):
    """
    ``(target, [])`` for a target file's text, or ``(None, problems)``.

    ``target`` holds ``file`` (``source``, the file's path, also named in every problem)
    and the keys ``bdev``, ``mntpt``, ``backfstype``, ``device_type``, ``target_name``
    (None where absent). ``mntpt`` must be an absolute path other than ``/`` without
    ``.``/``..`` components; it is returned normalised.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, [f"{source}: not valid JSON ({exc})"]
    if not isinstance(data, dict):
        return None, [f"{source}: holds a JSON {type(data).__name__}, not an object"]
    if "mntpt" not in data:
        return None, [f"{source}: has no key 'mntpt' (keys: {', '.join(sorted(data)) or '-'})"]
    mntpt = data["mntpt"]
    if not isinstance(mntpt, str) or not mntpt:
        return None, [f"{source}: key 'mntpt' is {mntpt!r}, not a path"]
    if not posixpath.isabs(mntpt):
        return None, [f"{source}: key 'mntpt' is {mntpt!r}, not an absolute path"]
    parts = mntpt.split("/")
    mntpt = posixpath.normpath(mntpt)
    if "." in parts or ".." in parts or mntpt in ("/", "//") or "\0" in mntpt:
        return None, [f"{source}: key 'mntpt' is {data['mntpt']!r}, not a mount point path"]
    others = {}
    for key in TARGET_KEYS:
        value = data.get(key)
        if key != "mntpt" and value is not None and not isinstance(value, str):
            return None, [f"{source}: key {key!r} is {value!r}, not a string"]
        others[key] = value
    others["mntpt"] = mntpt
    return {"file": source, **others}, []


def read_store(path=TARGETS_DIR):
    """
    Every target of the store ``path``: one dict per file, with ``file`` and its keys.

    Files are those the runbook's ``/var/lib/chroma/targets/*`` glob sees: regular files
    not starting with a dot, in name order. Every file is validated; corrupt JSON, a
    missing ``mntpt`` or a relative ``mntpt`` raises one CommandExecutionError naming each
    bad file and key.
    """
    try:
        names = sorted(os.listdir(path))
    except FileNotFoundError as exc:
        raise CommandExecutionError(
            f"target store {path} does not exist: {RESTORE_HINT}, or pass the directory "
            "of the backed-up copy"
        ) from exc
    except OSError as exc:
        raise CommandExecutionError(f"cannot read target store {path}: {exc}") from exc
    records = []
    problems = []
    for name in names:
        file_path = os.path.join(path, name)
        if name.startswith(".") or not os.path.isfile(file_path):
            continue
        try:
            with open(file_path, "rb") as fh:
                text = fh.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{file_path}: cannot be read as UTF-8 text ({exc})")
            continue
        record, found = parse_target(text, file_path)
        problems.extend(found)
        if record is not None:
            records.append(record)
    if problems:
        raise CommandExecutionError(
            f"target store {path} has {len(problems)} invalid file(s); nothing was changed. "
            "Repair or remove them (compare with the node's backup of /var/lib/chroma/targets):"
            "\n" + "\n".join(f"- {p}" for p in problems)
        )
    return records


def path_state(path):
    """``present`` (a directory), ``missing`` or ``not-a-directory``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return MISSING
    except NotADirectoryError:
        return NOT_A_DIRECTORY
    return PRESENT if stat.S_ISDIR(st.st_mode) else NOT_A_DIRECTORY


def mountpoints(path=TARGETS_DIR):
    """Each target's mount point and whether it is there: ``{mntpt: path_state}``."""
    return {target["mntpt"]: path_state(target["mntpt"]) for target in read_store(path)}


def mountpoint_plan(states):
    """
    ``{"created": [...], "present": [...]}`` from :func:`mountpoints`' answer: the mount
    points to create and those already there, sorted.

    A mount point path that exists but is not a directory raises CommandExecutionError
    naming every one: it is no Lustre mount, and nothing may be created before it is moved.
    """
    blocked = sorted(m for m, s in states.items() if s == NOT_A_DIRECTORY)
    if blocked:
        raise CommandExecutionError(
            "these target mount points exist but are not directories: "
            + ", ".join(blocked)
            + "; move them away (they are not Lustre mounts) and run again"
        )
    return {
        "created": sorted(m for m, s in states.items() if s == MISSING),
        "present": sorted(m for m, s in states.items() if s == PRESENT),
    }


def parse_mode(mode):
    """
    A directory mode from the CLI or an SLS, as an int: digits are octal either way.

    Salt's YAML loader turns ``mode: 0755`` into the int 755; ``"0755"``, ``"0o750"`` and
    755 all read as octal. Anything else raises SaltInvocationError.
    """
    text = str(mode).strip().lower().removeprefix("0o")
    try:
        value = int(text, 8)
    except ValueError:
        value = -1
    if not 0 <= value <= 0o7777:
        raise SaltInvocationError(f"mode {mode!r} is not an octal file mode such as 0755")
    return value
