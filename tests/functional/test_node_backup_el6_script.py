"""The POSIX shell backup that EL6 nodes run makes archives node_backup can verify."""

import json
import os
import subprocess
import sys
import tarfile

import pytest
from salt.exceptions import CommandExecutionError

from tests.support import REPO_ROOT, SERVER_FILES, make_tree, write_empty_cib

SCRIPT = REPO_ROOT / "salt" / "lustre" / "files" / "node-backup.sh"


@pytest.fixture
def cib_file(tmp_path):
    return write_empty_cib(tmp_path / "cib.xml")


def run_script(root, dest, cib_file, kind="server", minion="functional"):
    env = dict(os.environ, NODE_BACKUP_ROOT=str(root), CIB_file=str(cib_file))
    return subprocess.run(
        ["dash", str(SCRIPT), kind, str(dest), minion],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def members(path):
    with tarfile.open(path) as tar:
        top = tar.getnames()[0].split("/")[0]
        return {n[len(top) + 1 :] for n in tar.getnames() if n != top}


def test_the_el6_script_and_the_module_make_the_same_backup(modules, tmp_path, cib_file):
    root = make_tree(tmp_path / "node", SERVER_FILES)
    res = run_script(root, tmp_path / "el6", cib_file)
    assert res.returncode == 0, res.stderr
    archive = res.stdout.strip().splitlines()[-1]
    assert os.stat(archive).st_mode & 0o777 == 0o600

    info = modules.node_backup.verify(archive)
    assert info["minion"] == "functional" and info["kind"] == "server"
    assert set(info["absent"]) == {"/etc/rsyslog.conf", "/etc/selinux/config", "/etc/hostid"}
    sidecar = open(archive + ".sha256").read().split()[0]
    assert sidecar == info["sha256"]

    module_backup = modules.node_backup.create(
        "server", dest=str(tmp_path / "el7"), push=False, root=str(root), cib_file=str(cib_file)
    )
    # Parent directories the shell's tar creates implicitly.
    directories = {
        "etc",
        "etc/sysconfig",
        "etc/sysconfig/network-scripts",
        "etc/modprobe.d",
        "etc/corosync",
        "root",
        "var",
        "var/lib",
    }
    assert members(archive) - directories == members(module_backup["path"]) - directories


def test_an_el6_backup_restores_on_the_rebuilt_node(modules, tmp_path, cib_file):
    root = make_tree(tmp_path / "node", SERVER_FILES)
    archive = run_script(root, tmp_path / "el6", cib_file).stdout.strip().splitlines()[-1]
    fresh = make_tree(tmp_path / "fresh", {"etc/hosts": ("127.0.0.1 localhost\n", 0o644)})
    digest = open(archive + ".sha256").read().split()[0]
    ret = modules.node_backup.restore(archive, sha256=digest, root=str(fresh))
    assert "/etc/sudoers" in ret["changed"]
    assert (fresh / "etc/sudoers").stat().st_mode & 0o777 == 0o440
    assert (fresh / "var/lib/chroma/private.pem").read_text() == "KEY\n"


def test_the_el6_script_fails_without_a_cib_and_leaves_no_archive(tmp_path):
    root = make_tree(tmp_path / "node", SERVER_FILES)
    res = run_script(root, tmp_path / "el6", tmp_path / "missing.xml")
    assert res.returncode != 0
    assert "cibadmin --query failed" in res.stderr
    assert list((tmp_path / "el6").iterdir()) == []


def test_the_el6_script_refuses_an_unknown_kind(tmp_path, cib_file):
    res = run_script(tmp_path, tmp_path / "el6", cib_file, kind="client")
    assert res.returncode == 2 and "unknown kind 'client'" in res.stderr


def test_a_script_backup_of_another_minion_is_refused_on_restore(modules, tmp_path, cib_file):
    root = make_tree(tmp_path / "node", SERVER_FILES)
    res = run_script(root, tmp_path / "el6", cib_file, minion="oss1-b")
    archive = res.stdout.strip().splitlines()[-1]
    with pytest.raises(CommandExecutionError, match="belongs to minion 'oss1-b'"):
        digest = open(archive + ".sha256").read().split()[0]
        modules.node_backup.restore(archive, sha256=digest, root=str(tmp_path / "fresh"))


def _backup_json(archive):
    with tarfile.open(archive) as tar:
        (member,) = [m for m in tar.getmembers() if m.name.endswith("/backup.json")]
        return json.load(tar.extractfile(member))


def test_the_el6_backup_carries_the_hostid_pools_were_imported_under(tmp_path, cib_file):
    root = make_tree(tmp_path / "node", SERVER_FILES)
    archive = run_script(root, tmp_path / "el6", cib_file).stdout.strip().splitlines()[-1]
    printed = subprocess.run(["hostid"], capture_output=True, text=True, check=True)
    assert _backup_json(archive)["hostid"] == printed.stdout.strip()

    (root / "etc" / "hostid").write_bytes((0x0A00A8C0).to_bytes(4, sys.byteorder))
    archive = run_script(root, tmp_path / "el6-2", cib_file).stdout.strip().splitlines()[-1]
    assert _backup_json(archive)["hostid"] == "0a00a8c0"
    assert "etc/hostid" in members(archive)
