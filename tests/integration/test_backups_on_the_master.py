"""Backups travel node → master (verified, root-only) → the same node only."""

import os
import stat

import pytest

from tests.support import SERVER_FILES, make_tree, write_empty_cib


@pytest.fixture(scope="module")
def cib_file(tmp_path_factory):
    return write_empty_cib(tmp_path_factory.mktemp("cib") / "cib.xml")


@pytest.fixture(scope="module")
def pushed_backup(synced_master, synced_minions, salt_cli, cib_file, tmp_path_factory):
    node = make_tree(tmp_path_factory.mktemp("oss1-a-root"), SERVER_FILES)
    dest = tmp_path_factory.mktemp("oss1-a-backups")
    ret = salt_cli.run(
        "node_backup.create",
        "server",
        f"root={node}",
        f"cib_file={cib_file}",
        f"dest={dest}",
        minion_tgt="oss1-a",
    )
    assert ret.returncode == 0, ret
    return ret.data


@pytest.fixture(scope="module")
def collected(pushed_backup, salt_run_cli):
    ret = salt_run_cli.run("lustre_upgrade.collect_backup", "oss1-a", pushed_backup["path"])
    assert ret.returncode == 0, ret
    return ret.data


def test_a_pushed_backup_is_verified_and_kept_root_only(master, pushed_backup, collected):
    assert pushed_backup["pushed"] is True
    assert collected["sha256"] == pushed_backup["sha256"]
    assert collected["kind"] == "server"
    mode = os.stat(collected["path"]).st_mode
    assert stat.S_IMODE(mode) == 0o600 and os.stat(collected["path"]).st_uid == 0
    directory = os.path.dirname(collected["path"])
    while directory != master.config["cachedir"]:
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700, directory
        directory = os.path.dirname(directory)
    pushed_copy = os.path.join(
        master.config["cachedir"], "minions", "oss1-a", "files", pushed_backup["path"].lstrip("/")
    )
    assert not os.path.exists(pushed_copy)


def test_the_nodes_plaintext_copy_is_removed_once_the_master_holds_it(pushed_backup, collected):
    assert collected["on_node"]["removed"][0] == pushed_backup["path"]
    assert not os.path.exists(pushed_backup["path"])


def test_another_minion_cannot_fetch_or_list_the_backup(
    collected, pushed_backup, salt_cli, tmp_path
):
    name = os.path.basename(collected["path"])
    listing = salt_cli.run("cp.list_master", minion_tgt="oss1-b")
    assert listing.returncode == 0
    assert not [f for f in listing.data if name in f or "bck-" in f]
    for source in (
        f"salt://oss1-a{pushed_backup['path']}",
        f"salt://oss1-a/files{pushed_backup['path']}",
        f"salt://{name}",
    ):
        got = salt_cli.run("cp.get_file", source, str(tmp_path / "stolen"), minion_tgt="oss1-b")
        assert not got.data
    assert not (tmp_path / "stolen").exists()


def test_the_backup_is_delivered_sealed_and_opens_only_on_its_node(
    collected, salt_run_cli, salt_cli, tmp_path
):
    delivered = salt_run_cli.run(
        "lustre_upgrade.deliver_backup", "oss1-a", f"dest_dir={tmp_path / 'restore'}"
    )
    assert delivered.returncode == 0, delivered
    path = delivered.data["path"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert b"old-host-key" not in open(path, "rb").read()

    fresh_b = tmp_path / "fresh-b"
    fresh_b.mkdir()
    checksums = [
        f"sha256={delivered.data['sha256']}",
        f"archive_sha256={delivered.data['archive_sha256']}",
    ]
    assert delivered.data["archive_sha256"] == collected["sha256"]
    refused = salt_cli.run(
        "node_backup.restore", path, f"root={fresh_b}", *checksums, minion_tgt="oss1-b"
    )
    assert "not sealed for this node" in str(refused.data)
    assert list(fresh_b.iterdir()) == []

    fresh_a = make_tree(tmp_path / "fresh-a", {"etc/hosts": ("127.0.0.1 localhost\n", 0o644)})
    restored = salt_cli.run(
        "node_backup.restore", path, f"root={fresh_a}", *checksums, minion_tgt="oss1-a"
    )
    assert restored.returncode == 0, restored
    assert "/etc/hosts" in restored.data["changed"]
    assert (fresh_a / "etc/hosts").read_text() == SERVER_FILES["etc/hosts"][0]


def test_a_backup_damaged_on_the_way_is_refused(
    synced_master, synced_minions, salt_cli, salt_run_cli, cib_file, master, tmp_path
):
    node = make_tree(tmp_path / "root", SERVER_FILES)
    ret = salt_cli.run(
        "node_backup.create",
        "server",
        f"root={node}",
        f"cib_file={cib_file}",
        f"dest={tmp_path / 'b'}",
        minion_tgt="oss1-a",
    )
    pushed = os.path.join(
        master.config["cachedir"], "minions", "oss1-a", "files", ret.data["path"].lstrip("/")
    )
    with open(pushed, "r+b") as fh:
        fh.seek(100)
        fh.write(b"\0\0\0\0")
    refused = salt_run_cli.run("lustre_upgrade.collect_backup", "oss1-a", ret.data["path"])
    assert refused.returncode != 0
    assert "take a new backup" in refused.stdout + refused.stderr


def test_delivery_without_a_verified_backup_says_which_phase_is_missing(
    synced_master, salt_run_cli
):
    ret = salt_run_cli.run("lustre_upgrade.deliver_backup", "oss1-b")
    assert ret.returncode != 0
    assert "no verified backup of oss1-b" in ret.stdout + ret.stderr


@pytest.mark.parametrize("method", ["module", "script"])
def test_backup_node_brings_a_verified_backup_to_the_master(
    synced_master, synced_minions, salt_run_cli, cib_file, tmp_path, method
):
    node = make_tree(tmp_path / "root", SERVER_FILES)
    ret = salt_run_cli.run(
        "lustre_upgrade.backup_node",
        "oss1-b",
        f"method={method}",
        f"root={node}",
        f"cib_file={cib_file}",
    )
    assert ret.returncode == 0, ret
    assert ret.data["minion"] == "oss1-b" and ret.data["kind"] == "server"
    assert stat.S_IMODE(os.stat(ret.data["path"]).st_mode) == 0o600
    listed = salt_run_cli.run("lustre_upgrade.backups", "oss1-b")
    assert ret.data["path"] in listed.data


def test_backup_node_fails_when_the_node_cannot_produce_its_cib(
    synced_master, synced_minions, salt_run_cli, tmp_path
):
    ret = salt_run_cli.run(
        "lustre_upgrade.backup_node",
        "oss1-b",
        "method=script",
        f"root={tmp_path}",
        f"cib_file={tmp_path / 'none.xml'}",
    )
    assert ret.returncode != 0
    assert "cibadmin --query failed" in ret.stdout + ret.stderr
