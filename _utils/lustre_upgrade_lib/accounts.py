"""
The account files of an EL6 backup merged into those of a fresh EL7 installation.

The runbook copies EL6's ``passwd``, ``group``, ``shadow`` and ``gshadow`` over the new
installation; that removes the system accounts EL7 created for itself (polkitd, chrony,
systemd-network, libstoragemgmt…), whose ids EL6 did not have or gave to others. Instead,
EL7's files are kept, and the backup's *site* accounts are added: users and groups with an
EL6 id of 500 or more (EL6's ``UID_MIN``/``GID_MIN``, nfsnobody's 65534 excepted), the
accounts a caller names (``keep``), and the primary groups of those users. They come back
with their ids, password hashes and aging, and their memberships of the groups EL7 also
has. An id EL7 already gives another account, or a site account EL7 has under another id,
is a clash: the caller stops before writing anything, never overwrites an account.

Nothing here reads or writes a file: texts in, texts out.
"""

from dataclasses import dataclass, field

from salt.exceptions import CommandExecutionError

FILES = ("passwd", "group", "shadow", "gshadow")
SITE_ID_MIN = 500
OVERFLOW_IDS = frozenset({65534})
_FIELDS = {"passwd": 7, "group": 4, "shadow": 9, "gshadow": 4}


@dataclass
class Merged:
    """The merged texts (``files``) and what the merge brought, refused or noted."""

    files: dict
    users: list = field(default_factory=list)
    groups: list = field(default_factory=list)
    clashes: list = field(default_factory=list)
    notes: list = field(default_factory=list)


@dataclass
class _Entry:
    fields: list
    opaque: bool = False  # a line kept as it is (NIS "+"/"-" entries, comments)

    @property
    def name(self):
        return self.fields[0]

    def text(self):
        return ":".join(self.fields)


def parse(text, kind, source):
    """The entries of one account file; a malformed line raises, naming it."""
    entries = []
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith(("+", "-", "#")):
            entries.append(_Entry([line], opaque=True))
            continue
        fields = line.split(":")
        if len(fields) != _FIELDS[kind] or not fields[0]:
            raise CommandExecutionError(
                f"{source}'s {kind}, line {number} is not an account entry "
                f"({_FIELDS[kind]} fields separated by ':'): fix the file and run again"
            )
        if kind in ("passwd", "group") and not fields[2].isdigit():
            raise CommandExecutionError(
                f"{source}'s {kind}, line {number}: id {fields[2]!r} is not a number"
            )
        entries.append(_Entry(fields))
    return entries


def _is_site_id(number):
    return number >= SITE_ID_MIN and number not in OVERFLOW_IDS


def _by_name(entries):
    found = {}
    for entry in entries:
        if not entry.opaque:
            found.setdefault(entry.name, entry)
    return found


def _by_id(entries):
    found = {}
    for entry in entries:
        if not entry.opaque:
            found.setdefault(int(entry.fields[2]), entry)
    return found


def _members(text):
    return [m for m in text.split(",") if m]


def _union(first, second):
    return first + [m for m in second if m not in first]


def merge(backup, node, keep=()):
    """
    ``backup`` (EL6) and ``node`` (EL7): {file name: text or None} for ``FILES``. Returns
    a Merged whose ``files`` hold the four merged texts; ``clashes`` must be empty before
    they are written.
    """
    keep = set(keep or ())
    old = {kind: parse(backup.get(kind), kind, "the backup") for kind in FILES}
    new = {kind: parse(node.get(kind), kind, "this node") for kind in FILES}
    merged = Merged(files={})

    users = [
        e
        for e in old["passwd"]
        if not e.opaque and (_is_site_id(int(e.fields[2])) or e.name in keep)
    ]
    primary = {int(e.fields[3]) for e in users}
    groups = [
        e
        for e in old["group"]
        if not e.opaque
        and (_is_site_id(int(e.fields[2])) or e.name in keep or int(e.fields[2]) in primary)
    ]
    merged.users = [e.name for e in users]
    merged.groups = [e.name for e in groups]
    merged.clashes = _clashes(users, new["passwd"], "user", "uid") + _clashes(
        groups, new["group"], "group", "gid"
    )

    brought_users = set(merged.users)
    brought_groups = set(merged.groups)
    merged.files["passwd"] = _merge_lines(new["passwd"], users, lambda old_e, _new_e: old_e)
    merged.files["shadow"] = _merge_shadow(old["shadow"], new["shadow"], merged.users)
    old_groups = _by_name(old["group"])
    merged.files["group"] = _merge_lines(
        new["group"],
        groups,
        lambda old_e, new_e: _group_line(old_e, new_e, 3),
        lambda new_e: _with_members(new_e, old_groups.get(new_e.name), brought_users, (3,)),
    )
    old_gshadow = _by_name(old["gshadow"])
    brought_gshadow = [
        old_gshadow.get(g.name) or _Entry([g.name, "!", "", g.fields[3]]) for g in groups
    ]
    merged.files["gshadow"] = _merge_lines(
        new["gshadow"],
        brought_gshadow,
        lambda old_e, new_e: _group_line(old_e, new_e, 2, 3),
        lambda new_e: _with_members(new_e, old_gshadow.get(new_e.name), brought_users, (2, 3)),
    )
    merged.notes = _notes(users, old["group"], _by_name(new["group"]), brought_groups)
    return merged


def _clashes(brought, installed, what, id_name):
    clashes = []
    by_name, by_id = _by_name(installed), _by_id(installed)
    for entry in brought:
        number = int(entry.fields[2])
        same_name = by_name.get(entry.name)
        if same_name is not None and int(same_name.fields[2]) != number:
            clashes.append(
                f"{what} {entry.name} is {id_name} {number} in the backup but "
                f"{id_name} {same_name.fields[2]} on this node"
            )
        same_id = by_id.get(number)
        if same_id is not None and same_id.name != entry.name:
            clashes.append(
                f"{id_name} {number} of the backup's {what} {entry.name} is "
                f"{same_id.name}'s on this node"
            )
    return clashes


def _merge_lines(installed, brought, replace, amend=None):
    """Installed entries in their order (replaced or amended), then the new ones."""
    by_name = _by_name(brought)
    out, seen = [], set()
    for entry in installed:
        if entry.opaque:
            out.append(entry.text())
        elif entry.name in by_name and entry.name not in seen:
            out.append(replace(by_name[entry.name], entry).text())
            seen.add(entry.name)
        else:
            out.append((amend(entry) if amend else entry).text())
    out += [e.text() for e in brought if e.name not in seen]
    return "".join(line + "\n" for line in out)


def _group_line(old_entry, new_entry, *member_fields):
    fields = list(old_entry.fields)
    for index in member_fields:
        fields[index] = ",".join(
            _union(_members(old_entry.fields[index]), _members(new_entry.fields[index]))
        )
    return _Entry(fields)


def _with_members(entry, old_entry, brought_users, member_fields):
    """EL7's own group, with the brought users the backup's same-named group held."""
    if old_entry is None:
        return entry
    fields = list(entry.fields)
    for index in member_fields:
        extra = [m for m in _members(old_entry.fields[index]) if m in brought_users]
        fields[index] = ",".join(_union(_members(fields[index]), extra))
    return _Entry(fields)


def _merge_shadow(old, installed, users):
    old_by_name = _by_name(old)
    brought = [
        old_by_name.get(name) or _Entry([name, "!!", "", "0", "99999", "7", "", "", ""])
        for name in users
    ]
    return _merge_lines(installed, brought, lambda old_e, _new_e: old_e)


def _notes(users, old_groups, new_groups, brought_groups):
    notes = []
    names = {e.name for e in users}
    for group in old_groups:
        if group.opaque or group.name in brought_groups or group.name in new_groups:
            continue
        for name in _members(group.fields[3]):
            if name in names:
                notes.append(
                    f"{name} was a member of the backup's group {group.name} "
                    f"(gid {group.fields[2]}), which this node does not have: add the "
                    "membership once the group exists, or list the group in "
                    "lustre_upgrade:backup:keep_accounts"
                )
    return notes
