"""node_backup.restore takes only the backup the master recorded, and unpacks it contained:
hostile archives are refused and nothing outside the private staging directory changes."""

import tarfile

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from lustre_upgrade_lib import backup_format
from tests.functional.node_backup_helpers import (
    key_pair,
    member,
    rewrite,
    sha256,
    snapshot,
    take_backup,
)
from tests.support import SERVER_FILES, make_tree


@pytest.fixture
def backup(modules, tmp_path):
    return take_backup(modules, tmp_path)


@pytest.fixture
def fresh_root(tmp_path):
    return make_tree(
        tmp_path / "fresh",
        {
            "etc/hosts": ("127.0.0.1 localhost\n", 0o644),
            "etc/passwd": ("root:x:0:0:root:/root:/bin/bash\n", 0o644),
            "etc/shadow": ("root:!!:19000::::::\n", 0o000),
        },
    )


@pytest.fixture
def outside(tmp_path):
    victim = tmp_path / "outside" / "victim"
    victim.parent.mkdir()
    victim.write_text("untouched\n")
    return victim


@pytest.fixture
def node_keys(loaders, tmp_path):
    keys = key_pair(tmp_path / "node-pki")
    loaders.opts["pki_dir"] = str(keys)
    return keys


def refused(modules, archive, fresh_root, outside=None, match=None, **kwargs):
    """The restore of ``archive`` fails with ``match``; the node and ``outside`` are as before."""
    before = snapshot(fresh_root)
    kwargs.setdefault("sha256", sha256(archive))
    with pytest.raises((CommandExecutionError, SaltInvocationError), match=match) as err:
        modules.node_backup.restore(archive, root=str(fresh_root), **kwargs)
    assert snapshot(fresh_root) == before
    if outside is not None:
        assert outside.read_text() == "untouched\n"
        assert sorted(p.name for p in outside.parent.iterdir()) == ["victim"]
    return str(err.value)


def test_a_restore_without_the_masters_sha256_is_a_bad_argument(modules, backup, fresh_root):
    message = refused(modules, backup["path"], fresh_root, match="sha256", sha256=None)
    assert "deliver_backup" in message


def test_a_backup_whose_sha256_is_not_the_masters_is_refused(modules, backup, fresh_root):
    message = refused(modules, backup["path"], fresh_root, match="not the one", sha256="0" * 64)
    assert "nothing was restored" in message


def test_a_backup_sealed_for_another_key_is_refused(
    modules, loaders, backup, fresh_root, tmp_path, node_keys
):
    other = key_pair(tmp_path / "other-pki")
    sealed = tmp_path / "for-other.sealed"
    backup_format.seal(backup["path"], str(other / "minion.pub"), str(sealed))
    refused(modules, str(sealed), fresh_root, match="not sealed for this node")


def test_a_backup_sealed_for_this_node_by_someone_else_is_refused(
    modules, backup, fresh_root, tmp_path, node_keys
):
    genuine = tmp_path / "genuine.sealed"
    delivered = backup_format.seal(backup["path"], str(node_keys / "minion.pub"), str(genuine))
    # Anyone holding the node's public key can seal an archive of their own for it.
    forged_archive = rewrite(
        backup["path"],
        tmp_path / "forged.tgz",
        lambda top, members: [
            setattr(m, "data", b"10.6.6.6 oss1-b\n")
            for m in members
            if m.name == f"{top}/etc/hosts"
        ],
    )
    forged = tmp_path / "forged.sealed"
    backup_format.seal(forged_archive, str(node_keys / "minion.pub"), str(forged))
    message = refused(
        modules, str(forged), fresh_root, match="not the one", sha256=delivered["sha256"]
    )
    assert delivered["sha256"] in message
    # Even with the forged copy's own checksum, the archive inside is not the master's.
    refused(
        modules,
        str(forged),
        fresh_root,
        match="not the backup the master recorded",
        archive_sha256=backup["sha256"],
    )
    ok = modules.node_backup.restore(
        str(genuine),
        sha256=delivered["sha256"],
        archive_sha256=backup["sha256"],
        root=str(fresh_root),
    )
    assert "/etc/hosts" in ok["changed"]


HOSTILE = {
    "hard-link-escape": lambda top, victim: [
        member(f"{top}/etc/hosts.d", tarfile.LNKTYPE, linkname=str(victim)),
        member(f"{top}/etc/hosts.d", data=b"pwned\n"),
    ],
    "absolute-symlink": lambda top, victim: [
        member(f"{top}/etc/ssh/moduli", tarfile.SYMTYPE, linkname=str(victim))
    ],
    "dot-dot-member": lambda top, victim: [member(f"{top}/../../outside/victim", data=b"pwned\n")],
    "device-node": lambda top, victim: [member(f"{top}/etc/ssh/sda", tarfile.CHRTYPE)],
    "symlink-then-write-through-it": lambda top, victim: [
        member(f"{top}/etc/ssh/keys", tarfile.SYMTYPE, linkname="../../root"),
        member(f"{top}/etc/ssh/keys/authorized_keys", data=b"ssh-rsa attacker\n"),
    ],
    "relative-symlink-out-of-the-tree": lambda top, victim: [
        member(f"{top}/etc/ssh/out", tarfile.SYMTYPE, linkname="../../../../outside/victim")
    ],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_archive_is_refused_and_nothing_outside_the_staging_changes(
    modules, backup, fresh_root, outside, tmp_path, case
):
    archive = rewrite(
        backup["path"],
        tmp_path / f"{case}.tgz",
        lambda top, members: members.extend(HOSTILE[case](top, outside)),
    )
    assert modules.node_backup.verify(archive)  # its checksums hold: only extraction refuses
    message = refused(modules, archive, fresh_root, outside, match="backup member")
    assert "nothing was restored" in message
    assert not (fresh_root / "root").exists()


def test_a_plain_archive_restores_with_its_recorded_sha256(modules, backup, fresh_root):
    ret = modules.node_backup.restore(backup["path"], sha256=backup["sha256"], root=str(fresh_root))
    assert (fresh_root / "etc/hosts").read_text() == SERVER_FILES["etc/hosts"][0]
    assert "/etc/hosts" in ret["changed"]
