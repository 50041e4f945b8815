"""Replacing a node's files and trees as one transaction, on real files in a tmp dir."""

import os
import stat

import pytest

from lustre_upgrade_lib import file_transaction
from tests.functional.node_backup_helpers import snapshot
from tests.support import make_tree


@pytest.fixture
def node(tmp_path):
    return make_tree(
        tmp_path / "node",
        {
            "etc/hosts": ("installed hosts\n", 0o644),
            "etc/hosts.inst": ("kept by an earlier run\n", 0o644),
            "etc/ssh/sshd_config": ("installed sshd\n", 0o600),
            "etc/sudoers": ("installed sudoers\n", 0o440),
        },
    )


@pytest.fixture
def backup(tmp_path):
    source = make_tree(
        tmp_path / "backup",
        {
            "etc/hosts": ("backed-up hosts\n", 0o644),
            "etc/ssh/sshd_config": ("backed-up sshd\n", 0o600),
            "etc/ssh/ssh_host_rsa_key": ("old key\n", 0o600),
            "etc/sudoers": ("backed-up sudoers\n", 0o440),
        },
    )
    os.setxattr(source / "etc/hosts", "user.staging", b"tmp_t")
    return source


def steps(node, backup):
    return [
        # .inst exists already: the original is kept in a private undo copy.
        {"path": "/etc/hosts", "source": str(backup / "etc/hosts"), "keep_original": False},
        {
            "path": "/etc/ssh",
            "tree": True,
            "source": str(backup / "etc/ssh"),
            "keep_original": True,
            "inst": "/etc/ssh.inst",
        },
        {"path": "/etc/hostid", "content": b"\x78\x56\x34\x12", "mode": 0o644, "uid": 0, "gid": 0},
        {
            "path": "/etc/sudoers",
            "source": str(backup / "etc/sudoers"),
            "keep_original": True,
            "inst": "/etc/sudoers.inst",
        },
    ]


def test_every_step_is_rolled_back_to_the_same_inodes(node, backup):
    before = snapshot(node)
    transaction = file_transaction.Transaction(str(node))
    for step in steps(node, backup):
        transaction.apply(step)
    assert (node / "etc/ssh/ssh_host_rsa_key").read_text() == "old key\n"
    assert (node / "etc/hostid").read_bytes() == b"\x78\x56\x34\x12"
    rolled_back, left = transaction.rollback()
    assert rolled_back == ["/etc/hosts", "/etc/ssh", "/etc/hostid", "/etc/sudoers"]
    assert left == []
    assert snapshot(node) == before


def test_commit_keeps_the_inst_copies_and_drops_the_undo_copies(node, backup):
    transaction = file_transaction.Transaction(str(node))
    for step in steps(node, backup):
        transaction.apply(step)
    assert transaction.commit() == []
    assert (node / "etc/hosts.inst").read_text() == "kept by an earlier run\n"
    assert (node / "etc/sudoers.inst").read_text() == "installed sudoers\n"
    assert (node / "etc/ssh.inst/sshd_config").read_text() == "installed sshd\n"
    assert sorted(p for p in os.listdir(node / "etc") if p.startswith(".")) == []


def test_a_copy_carries_content_mode_owner_and_times_not_xattrs(tmp_path, backup):
    os.chown(backup / "etc/sudoers", 189, 189)
    target = tmp_path / "copy"
    file_transaction.copy_file(str(backup / "etc/sudoers"), str(target))
    source_st, st = os.stat(backup / "etc/sudoers"), os.stat(target)
    assert target.read_text() == "backed-up sudoers\n"
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o440, 189, 189)
    assert st.st_mtime_ns == source_st.st_mtime_ns
    file_transaction.copy_file(str(backup / "etc/hosts"), str(tmp_path / "hosts"))
    assert os.listxattr(tmp_path / "hosts") == []


def test_a_failed_step_leaves_its_target_and_no_temporary_file(node, backup):
    transaction = file_transaction.Transaction(str(node))
    transaction.apply(steps(node, backup)[0])
    missing = {"path": "/etc/resolv.conf", "source": str(backup / "etc/none")}
    with pytest.raises(FileNotFoundError):
        transaction.apply(missing)
    assert transaction.current == "/etc/resolv.conf"
    assert transaction.changed == ["/etc/hosts"]
    rolled_back, _ = transaction.rollback()
    assert rolled_back == ["/etc/hosts"]
    assert (node / "etc/hosts").read_text() == "installed hosts\n"
    assert not [p for p in os.listdir(node / "etc") if p.startswith(".")]
