"""node_backup in Salt's loader: real archives from a node-shaped tree, real cibadmin."""

import json
import os
import shutil
import stat
import tarfile

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.functional.node_backup_helpers import sha256
from tests.support import SERVER_FILES, make_tree, minion_key_pair, write_empty_cib


@pytest.fixture
def node_root(tmp_path):
    return make_tree(tmp_path / "node", SERVER_FILES)


@pytest.fixture
def cib_file(tmp_path):
    return write_empty_cib(tmp_path / "cib.xml")


@pytest.fixture
def backup(modules, node_root, cib_file, tmp_path):
    return modules.node_backup.create(
        "server",
        dest=str(tmp_path / "backups"),
        push=False,
        root=str(node_root),
        cib_file=str(cib_file),
    )


def test_server_backup_holds_the_runbook_manifest_and_the_cib(modules, backup, tmp_path):
    assert backup["pushed"] is False
    assert oct(os.stat(backup["path"]).st_mode & 0o777) == "0o600"
    assert oct(os.stat(tmp_path / "backups").st_mode & 0o777) == "0o700"
    assert set(backup["absent"]) == {"/etc/rsyslog.conf", "/etc/selinux/config", "/etc/hostid"}
    with tarfile.open(backup["path"]) as tar:
        names = tar.getnames()
        top = names[0]
        assert top.startswith("bck-") and all(n == top or n.startswith(top + "/") for n in names)
        for rel in SERVER_FILES:
            listed = not rel.endswith("/ifup")  # only ifcfg-* of network-scripts is listed
            assert (f"{top}/{rel}" in names) is listed, rel
        host = top.split("-")[1]
        assert any(n.startswith(f"{top}/cluster-cfg-") and n.endswith(".xml") for n in names), host
        shadow = tar.getmember(f"{top}/etc/shadow")
        assert shadow.mode == 0o000
    info = modules.node_backup.verify(backup["path"])
    assert info["minion"] == "functional" and info["kind"] == "server"
    assert info["sha256"] == backup["sha256"]
    sidecar = open(backup["path"] + ".sha256").read().split()
    assert sidecar == [backup["sha256"], os.path.basename(backup["path"])]


def test_manifest_can_keep_the_minion_identity(modules):
    paths = modules.node_backup.manifest("server", keep_minion_identity=True)
    assert "/etc/salt/pki/minion/minion.pem" in paths
    assert "/etc/corosync/corosync.conf" in paths
    assert "/etc/salt/pki/minion/minion.pem" not in modules.node_backup.manifest("server")


def test_a_server_backup_without_a_cib_fails(modules, node_root, tmp_path):
    with pytest.raises(CommandExecutionError, match="cibadmin --query failed"):
        modules.node_backup.create(
            "server",
            dest=str(tmp_path / "b"),
            push=False,
            root=str(node_root),
            cib_file=str(tmp_path / "no-such-cib.xml"),
        )


def test_an_unknown_kind_is_refused_before_anything_is_written(modules, tmp_path):
    with pytest.raises(SaltInvocationError, match="unknown backup kind 'client'"):
        modules.node_backup.create("client", dest=str(tmp_path / "b"), push=False)
    assert not (tmp_path / "b").exists()


def _rewrite(archive, tmp_path, edit):
    """Unpack, let `edit` change the tree, pack again (checksums untouched)."""
    work = tmp_path / "rewrite"
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="tar")
        top = tar.getnames()[0]
    edit(work / top)
    out = tmp_path / "rewritten.tgz"
    with tarfile.open(out, "w:gz") as tar:
        tar.add(work / top, arcname=top)
    return str(out)


def test_a_damaged_file_in_the_backup_fails_verification(modules, backup, tmp_path):
    bad = _rewrite(backup["path"], tmp_path, lambda top: (top / "etc/hosts").write_text("x\n"))
    with pytest.raises(CommandExecutionError, match="checksum of .*etc/hosts does not match"):
        modules.node_backup.verify(bad)


def test_a_listed_file_missing_from_the_backup_fails_verification(modules, backup, tmp_path):
    bad = _rewrite(backup["path"], tmp_path, lambda top: (top / "etc/ssh/sshd_config").unlink())
    with pytest.raises(CommandExecutionError, match="etc/ssh/sshd_config"):
        modules.node_backup.verify(bad)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a gzip tar archive"),
        (b"\x1f\x8b\x08\x00garbage", "not a gzip tar archive|truncated"),
    ],
)
def test_a_corrupt_archive_fails_verification(modules, tmp_path, content, message):
    path = tmp_path / "bad.tgz"
    path.write_bytes(content)
    with pytest.raises(CommandExecutionError, match=message):
        modules.node_backup.verify(str(path))


def test_a_missing_backup_is_named(modules, tmp_path):
    with pytest.raises(CommandExecutionError, match="does not exist"):
        modules.node_backup.verify(str(tmp_path / "nope.tgz"))


# --- restore -----------------------------------------------------------------


@pytest.fixture
def fresh_root(tmp_path):
    """A freshly installed EL7 node: its own hosts, passwd, ssh keys; no chroma files."""
    return make_tree(
        tmp_path / "fresh",
        {
            "etc/hosts": ("127.0.0.1 localhost\n", 0o644),
            "etc/passwd": ("root:x:0:0:root:/root:/bin/bash\n", 0o644),
            "etc/shadow": ("root:!!:19000::::::\n", 0o000),
            "etc/ntp.conf": ("pool 2.centos.pool.ntp.org iburst\n", 0o644),
            "etc/ssh/sshd_config": ("#PermitRootLogin yes\n", 0o600),
            "etc/ssh/ssh_host_rsa_key": ("new-host-key\n", 0o600),
            "etc/sysconfig/network-scripts/ifcfg-eth0": ("DEVICE=eth0\nBOOTPROTO=dhcp\n", 0o644),
        },
    )


def test_restore_puts_the_runbook_files_back_and_keeps_the_originals(
    modules, backup, fresh_root, testmode
):
    before = {p: p.read_bytes() for p in fresh_root.rglob("*") if p.is_file()}
    ret = modules.node_backup.restore(
        backup["path"], sha256=backup["sha256"], root=str(fresh_root), test=testmode
    )
    assert "/etc/hosts" in ret["changed"]
    assert "/etc/ssh" in ret["changed"] and "/var/lib/chroma" in ret["changed"]
    assert "/etc/ssh.inst" in ret["kept_as_inst"]
    assert "/var/lib/chroma.inst" not in ret["kept_as_inst"]  # nothing was there
    if testmode:
        after = {p: p.read_bytes() for p in fresh_root.rglob("*") if p.is_file()}
        assert after == before
        return
    assert (fresh_root / "etc/hosts").read_text() == SERVER_FILES["etc/hosts"][0]
    assert (fresh_root / "etc/hosts.inst").read_text() == "127.0.0.1 localhost\n"
    assert (fresh_root / "etc/ssh/ssh_host_rsa_key").read_text().endswith("old-host-key\n")
    assert (fresh_root / "etc/ssh.inst/ssh_host_rsa_key").read_text() == "new-host-key\n"
    assert oct(os.stat(fresh_root / "etc/shadow").st_mode & 0o777) == "0o0"
    assert oct(os.stat(fresh_root / "etc/sudoers").st_mode & 0o777) == "0o440"
    assert (fresh_root / "var/lib/chroma/targets/9aaf3d9d").exists()
    # Network files are unpacked for reference only.
    assert "BOOTPROTO=dhcp" in (fresh_root / "etc/sysconfig/network-scripts/ifcfg-eth0").read_text()
    staged = fresh_root / "root" / ret["backup"]
    assert (staged / "etc/sysconfig/network-scripts/ifcfg-eth0").exists()
    assert oct(os.stat(staged).st_mode & 0o777) == "0o700"

    again = modules.node_backup.restore(
        backup["path"], sha256=backup["sha256"], root=str(fresh_root)
    )
    assert again["changed"] == [] and again["kept_as_inst"] == []


def test_restore_refuses_another_minions_backup_before_changing_anything(
    modules, backup, fresh_root, tmp_path
):
    def other_minion(top):
        info = json.loads((top / "backup.json").read_text())
        info["minion"] = "oss1-b"
        (top / "backup.json").write_text(json.dumps(info))
        sums = (top / "SHA256SUMS").read_text().splitlines()
        import hashlib

        digest = hashlib.sha256((top / "backup.json").read_bytes()).hexdigest()
        sums = [f"{digest}  backup.json" if s.endswith("  backup.json") else s for s in sums]
        (top / "SHA256SUMS").write_text("\n".join(sums) + "\n")

    foreign = _rewrite(backup["path"], tmp_path, other_minion)
    before = sorted(str(p) for p in fresh_root.rglob("*"))
    with pytest.raises(CommandExecutionError, match="belongs to minion 'oss1-b'"):
        modules.node_backup.restore(foreign, sha256=sha256(foreign), root=str(fresh_root))
    assert sorted(str(p) for p in fresh_root.rglob("*")) == before


# --- sealing for one node ------------------------------------------------------


_key_pair = minion_key_pair


def test_a_sealed_backup_opens_only_with_the_nodes_own_key(
    modules, loaders, backup, fresh_root, tmp_path
):
    node_keys = _key_pair(tmp_path / "node-pki")
    other_keys = _key_pair(tmp_path / "other-pki")
    sealed = tmp_path / "backup.sealed"
    delivered = modules.node_backup.seal(backup["path"], str(node_keys / "minion.pub"), str(sealed))
    assert oct(os.stat(sealed).st_mode & 0o777) == "0o600"
    assert b"oss1-b" not in sealed.read_bytes() and b"old-host-key" not in sealed.read_bytes()

    loaders.opts["pki_dir"] = str(other_keys)
    with pytest.raises(CommandExecutionError, match="not sealed for this node"):
        modules.node_backup.restore(str(sealed), sha256=delivered["sha256"], root=str(fresh_root))
    assert not (fresh_root / "etc/hosts.inst").exists()

    loaders.opts["pki_dir"] = str(node_keys)
    ret = modules.node_backup.restore(str(sealed), sha256=delivered["sha256"], root=str(fresh_root))
    assert "/etc/hosts" in ret["changed"]
    shutil.rmtree(tmp_path / "other-pki")


def test_restored_state_predicts_applies_and_then_reports_no_changes(
    states, backup, fresh_root, testmode
):
    ret = states.node_backup.restored(
        name=backup["path"], sha256=backup["sha256"], root=str(fresh_root), test=testmode
    )
    assert (ret.result is None) is testmode
    assert "/etc/sudoers" in ret.changes["restored"]
    assert (fresh_root / "etc/hosts.inst").exists() is not testmode
    if not testmode:
        again = states.node_backup.restored(
            name=backup["path"], sha256=backup["sha256"], root=str(fresh_root)
        )
        assert again.result is True and again.changes == {}


def test_restored_state_fails_clearly_on_a_missing_backup(states, fresh_root, tmp_path):
    ret = states.node_backup.restored(
        name=str(tmp_path / "none.tgz"), sha256="0" * 64, root=str(fresh_root)
    )
    assert ret.result is False
    assert "does not exist" in ret.comment


# --- hostid ---------------------------------------------------------------------


def test_a_server_backup_records_the_hostid_in_effect(modules, backup):
    info = modules.node_backup.verify(backup["path"])
    assert info["hostid"] == modules.hostid.current()
    assert "/etc/hostid" in info["absent"]


def test_a_server_backup_holds_the_nodes_hostid_file(modules, tmp_path, cib_file):
    root = make_tree(tmp_path / "zfs-node", SERVER_FILES)
    (root / "etc/hostid").write_bytes(b"\x78\x56\x34\x12")
    ret = modules.node_backup.create(
        "server", dest=str(tmp_path / "b"), push=False, root=str(root), cib_file=str(cib_file)
    )
    info = modules.node_backup.verify(ret["path"])
    assert info["hostid"] == "12345678"
    assert "/etc/hostid" in info["contents"]


def test_restore_writes_the_old_hostid_and_the_hostid_state_keeps_it(
    modules, states, tmp_path, cib_file, fresh_root
):
    root = make_tree(tmp_path / "zfs-node", SERVER_FILES)
    (root / "etc/hostid").write_bytes(b"\x78\x56\x34\x12")
    backup = modules.node_backup.create(
        "server", dest=str(tmp_path / "b"), push=False, root=str(root), cib_file=str(cib_file)
    )
    ret = modules.node_backup.restore(backup["path"], sha256=backup["sha256"], root=str(fresh_root))
    assert "/etc/hostid" in ret["changed"]
    assert (fresh_root / "etc/hostid").read_bytes() == b"\x78\x56\x34\x12"
    kept = states.hostid.persistent(name=str(fresh_root / "etc/hostid"), hostid="12345678")
    assert kept.result is True and kept.changes == {}
    assert (fresh_root / "etc/hostid").read_bytes() == b"\x78\x56\x34\x12"


def test_restore_writes_the_hostid_backup_json_recorded_when_the_node_had_no_file(
    modules, backup, fresh_root
):
    recorded = modules.node_backup.verify(backup["path"])["hostid"]
    modules.node_backup.restore(backup["path"], sha256=backup["sha256"], root=str(fresh_root))
    assert modules.hostid.read(path=str(fresh_root / "etc/hostid"))["persistent"] == recorded


# --- plaintext copies on the node -------------------------------------------------


@pytest.fixture
def copies(backup, tmp_path):
    """The backup in its directory, a copy in root's home, and another node's backup."""
    home = tmp_path / "home"
    home.mkdir()
    name = os.path.basename(backup["path"])
    shutil.copy(backup["path"], home / name)
    other = tmp_path / "backups" / "bck-oss1-b-20250101-000000.tgz"
    other.write_bytes(b"another backup\n")
    for path in (backup["path"], home / name, other):
        os.chmod(path, 0o644)
    return {"home": home, "name": name, "other": other}


def test_prune_removes_the_plaintext_copies_the_master_verified(modules, backup, copies, testmode):
    ret = modules.node_backup.prune(
        backup["sha256"],
        dest=os.path.dirname(backup["path"]),
        home=str(copies["home"]),
        test=testmode,
    )
    expected = sorted(
        [
            backup["path"],
            backup["path"] + ".sha256",
            str(copies["home"] / copies["name"]),
        ]
    )
    assert sorted(ret["removed"]) == expected and ret["kept"] == []
    assert ret["other"] == [str(copies["other"])]
    assert copies["other"].read_bytes() == b"another backup\n"
    for path in expected:
        assert os.path.exists(path) is testmode


@pytest.fixture
def pillar(modules):
    """The minion's loaded pillar, emptied again after the test."""
    loaded = modules.pack["__pillar__"]
    yield loaded
    loaded.pop("lustre_upgrade", None)


def test_prune_keeps_them_root_only_when_the_pillar_says_so(modules, pillar, backup, copies):
    pillar["lustre_upgrade"] = {"backup": {"keep_on_node": True}}
    ret = modules.node_backup.prune(
        backup["sha256"], dest=os.path.dirname(backup["path"]), home=str(copies["home"])
    )
    assert ret["removed"] == []
    assert str(copies["home"] / copies["name"]) in ret["kept"] and backup["path"] in ret["kept"]
    for path in ret["kept"]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(copies["other"]).st_mode) == 0o644


@pytest.mark.parametrize("digest", ["", "abc", "z" * 64])
def test_prune_needs_a_sha256(modules, digest, tmp_path):
    with pytest.raises(SaltInvocationError, match="sha256"):
        modules.node_backup.prune(digest, dest=str(tmp_path), home=str(tmp_path))
