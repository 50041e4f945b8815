"""The node backup format, on archives written at test time from a node-shaped tree
(tests.support.SERVER_FILES) with the real EL6 IML CIB as the cluster configuration."""

import io
import os
import stat
import tarfile

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from lustre_upgrade_lib import backup_format, fileio, hostid_value
from tests.support import SERVER_FILES, SUITE_FIXTURES, make_tree, minion_key_pair

CIB = SUITE_FIXTURES / "cluster" / "el6-iml-cib-backup.xml"
DIGEST = "0" * 63 + "a"


# --- manifests ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "keep", "holds", "lacks"),
    [
        ("server", False, ["/etc/corosync/corosync.conf", "/var/lib/chroma"], ["/etc/salt"]),
        ("manager", False, ["/etc/ssh", "/var/lib/chroma"], ["/etc/corosync/corosync.conf"]),
        ("server", True, ["/etc/salt/pki/minion/minion.pem", "/etc/salt/minion_id"], []),
    ],
)
def test_each_kind_holds_the_runbooks_paths(kind, keep, holds, lacks):
    paths = backup_format.manifest(kind, keep_minion_identity=keep)
    assert paths[0] == "/var/lib/chroma"
    assert set(holds) <= set(paths)
    assert not set(lacks) & set(paths)


def test_an_unknown_kind_is_a_bad_argument():
    with pytest.raises(SaltInvocationError, match="unknown backup kind 'client'"):
        backup_format.manifest("client")


def test_the_manifest_expands_under_a_root_and_names_what_is_absent(tmp_path):
    root = make_tree(tmp_path, SERVER_FILES)
    present, absent = backup_format.expand(backup_format.manifest("server"), str(root))
    assert set(absent) == {"/etc/rsyslog.conf", "/etc/selinux/config", "/etc/hostid"}
    assert "/etc/sysconfig/network-scripts/ifcfg-eth0" in present
    assert "/etc/sysconfig/network-scripts/ifup" not in present
    walked = backup_format.walk(str(root), present)
    assert "/var/lib/chroma/targets/9aaf3d9d" in walked and "/etc/ssh/sshd_config" in walked


def test_the_managers_package_mirror_is_left_out(tmp_path):
    root = make_tree(tmp_path, {"var/lib/chroma/repo/x.rpm": ("", 0o644), **SERVER_FILES})
    present, _ = backup_format.expand(["/var/lib/chroma"], str(root))
    walked = backup_format.walk(str(root), present, backup_format.EXCLUDES["manager"])
    assert "/var/lib/chroma/self.crt" in walked
    assert not [p for p in walked if p.startswith("/var/lib/chroma/repo")]


# --- SHA256SUMS, backup.json, the sidecar ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{DIGEST}  etc/hosts\n", {"etc/hosts": DIGEST}),
        (f"{DIGEST.upper()}  ./etc/hosts\n\n", {"etc/hosts": DIGEST}),
        (f"{DIGEST}  with two  spaces\n", {"with two  spaces": DIGEST}),
        ("", {}),
    ],
)
def test_sha256sum_output_parses(text, expected):
    assert backup_format.parse_sums(text, "b.tgz") == expected


@pytest.mark.parametrize(
    "text", [f"{DIGEST} etc/hosts", "abc  etc/hosts", f"{DIGEST}  ", f"ok\n{DIGEST}"]
)
def test_lines_that_are_not_sha256sum_output_are_named(text):
    with pytest.raises(CommandExecutionError, match=r"b.tgz: line \d of SHA256SUMS"):
        backup_format.parse_sums(text, "b.tgz")


def test_sums_are_written_as_sha256sum_writes_them():
    sums = {"etc/passwd": "b" * 64, "backup.json": "a" * 64}
    text = backup_format.format_sums(sums)
    assert text == f"{'a' * 64}  backup.json\n{'b' * 64}  etc/passwd\n"
    assert backup_format.parse_sums(text, "x") == sums


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"{", "backup.json is not JSON"),
        (b"[]", "is not a JSON object"),
        (b'{"format": 1, "kind": "server"}', "backup.json has no 'minion'"),
        (
            b'{"format": 1, "kind": "client", "minion": "m", "hostname": "h", "created": "c"}',
            "unknown kind 'client'",
        ),
    ],
)
def test_a_bad_backup_json_is_refused(raw, says):
    with pytest.raises(CommandExecutionError, match=says):
        backup_format.load_info(raw, "b.tgz")


def test_backup_json_round_trips():
    info = backup_format.new_info("server", "oss1-a", "oss1-a", "20260101", ["/x"], [], [], {})
    assert backup_format.load_info(backup_format.dump_info(info), "b") == info


def test_the_sidecar_is_root_only_and_reads_back(tmp_path):
    archive = tmp_path / "bck.tgz"
    backup_format.write_sidecar(str(archive), DIGEST)
    sidecar = tmp_path / "bck.tgz.sha256"
    assert sidecar.read_text() == f"{DIGEST}  bck.tgz\n"
    assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600
    assert backup_format.read_sidecar(str(sidecar)) == DIGEST
    sidecar.write_text("garbage\n")
    with pytest.raises(CommandExecutionError, match="holds no sha256 checksum"):
        backup_format.read_sidecar(str(sidecar))


# --- archives ------------------------------------------------------------------------------


def write_backup(tmp_path, minion="oss1-a", root=None, hostid=None, kind="server"):
    root = root or make_tree(tmp_path / "node", SERVER_FILES)
    paths = backup_format.manifest(kind)
    present, absent = backup_format.expand(paths, str(root), backup_format.EXCLUDES[kind])
    contents = backup_format.walk(str(root), present, backup_format.EXCLUDES[kind])
    extras = {"cluster-cfg-oss1-a.xml": str(CIB)}
    info = backup_format.new_info(
        kind, minion, "oss1-a", "20260101-120000", paths, absent, contents, extras, hostid=hostid
    )
    path = tmp_path / "bck-oss1-a-20260101-120000.tgz"
    backup_format.write_archive(str(path), path.name[:-4], str(root), contents, extras, info)
    return path


def test_an_archive_written_verifies_and_describes_itself(tmp_path):
    path = write_backup(tmp_path)
    info = backup_format.verify(str(path))
    assert (info["minion"], info["kind"], info["top"]) == ("oss1-a", "server", path.name[:-4])
    assert info["sha256"] == fileio.sha256_file(path)
    assert info["size"] == path.stat().st_size
    assert info["extras"] == ["cluster-cfg-oss1-a.xml"]
    with tarfile.open(path) as tar:
        cib = tar.extractfile(f"{info['top']}/cluster-cfg-oss1-a.xml").read()
        shadow = tar.getmember(f"{info['top']}/etc/shadow")
    assert cib == CIB.read_bytes()
    assert shadow.mode == 0o000


def rewrite(path, tmp_path, edit):
    """The archive with ``edit(members)`` applied to {name: bytes or None (a directory)}."""
    members = {}
    with tarfile.open(path) as tar:
        for m in tar.getmembers():
            members[m.name] = tar.extractfile(m).read() if m.isfile() else None
    edit(members)
    out = tmp_path / "rewritten.tgz"
    with tarfile.open(out, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out


def _top(members):
    return min(members, key=len)


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda m: m.update({f"{_top(m)}/etc/hosts": b"x\n"}), "checksum of .*/etc/hosts does not"),
        (lambda m: m.pop(f"{_top(m)}/etc/ssh/sshd_config"), "etc/ssh/sshd_config listed in"),
        (lambda m: m.update({f"{_top(m)}/etc/extra": b"x"}), "etc/extra is not in SHA256SUMS"),
        (lambda m: m.pop(f"{_top(m)}/SHA256SUMS"), "has no .*/SHA256SUMS"),
        (lambda m: m.pop(f"{_top(m)}/backup.json"), "has no .*/backup.json"),
        (lambda m: m.update({"other/file": b""}), "must hold one top directory"),
    ],
    ids=["damaged", "missing", "unlisted", "no-sums", "no-info", "two-tops"],
)
def test_a_damaged_archive_fails_verification(tmp_path, edit, says):
    bad = rewrite(write_backup(tmp_path), tmp_path, edit)
    with pytest.raises(CommandExecutionError, match=says):
        backup_format.verify(str(bad))


def test_a_path_listed_in_backup_json_but_absent_fails_verification(tmp_path):
    def drop_a_directory(members):
        top = _top(members)
        del members[f"{top}/etc/ssh"]

    bad = rewrite(write_backup(tmp_path), tmp_path, drop_a_directory)
    with pytest.raises(CommandExecutionError, match="/etc/ssh is listed in backup.json"):
        backup_format.verify(str(bad))


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"", "not a gzip tar archive"), (b"\x1f\x8b\x08\x00garbage", "not a gzip|truncated")],
)
def test_what_is_not_an_archive_fails_verification(tmp_path, content, says):
    path = tmp_path / "bad.tgz"
    path.write_bytes(content)
    with pytest.raises(CommandExecutionError, match=says):
        backup_format.verify(str(path))
    with pytest.raises(CommandExecutionError, match="does not exist"):
        backup_format.verify(str(tmp_path / "none.tgz"))


def test_members_outside_the_top_directory_are_refused(tmp_path):
    evil = tmp_path / "evil.tgz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(CommandExecutionError, match="one top directory bck-"):
        backup_format.verify(str(evil))
    with pytest.raises(CommandExecutionError, match="backup member '../escaped'.*'..'"):
        backup_format.unpack(str(evil), str(tmp_path / "out"))
    assert not (tmp_path / "escaped").exists()


# --- sealing -------------------------------------------------------------------------------


key_pair = minion_key_pair


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("keys")
    return {name: key_pair(base / name) for name in ("node", "other")}


def test_a_sealed_backup_opens_only_with_its_nodes_key(tmp_path, keys):
    archive = write_backup(tmp_path)
    sealed = tmp_path / "b.sealed"
    ret = backup_format.seal(str(archive), str(keys["node"] / "minion.pub"), str(sealed))
    assert (ret["sealed"], ret["name"]) == (str(sealed), archive.name)
    assert stat.S_IMODE(sealed.stat().st_mode) == 0o600
    assert backup_format.is_sealed(str(sealed)) and not backup_format.is_sealed(str(archive))
    assert b"old-host-key" not in sealed.read_bytes()

    with pytest.raises(CommandExecutionError, match="not sealed for this node's minion key"):
        backup_format.unseal(str(sealed), str(keys["other"] / "minion.pem"), str(tmp_path))
    out = tmp_path / "out"
    out.mkdir()
    opened = backup_format.unseal(str(sealed), str(keys["node"] / "minion.pem"), str(out))
    assert opened == str(out / archive.name)
    assert (out / archive.name).read_bytes() == archive.read_bytes()
    assert stat.S_IMODE((out / archive.name).stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # ciphertext
        lambda data: data.replace(b'"name": "', b'"name": "x', 1),  # header (authenticated)
        lambda data: data.replace(b'"nonce"', b'"nonc"', 1),  # header key missing
    ],
    ids=["ciphertext", "header", "no-nonce"],
)
def test_a_damaged_sealed_copy_is_refused(tmp_path, keys, damage):
    archive = write_backup(tmp_path)
    sealed = backup_format.seal_bytes(
        archive.read_bytes(), archive.name, (keys["node"] / "minion.pub").read_bytes()
    )
    with pytest.raises(ValueError):
        backup_format.unseal_bytes(damage(sealed), (keys["node"] / "minion.pem").read_bytes())


def test_what_is_not_sealed_or_not_a_key_is_named(tmp_path, keys):
    archive = write_backup(tmp_path)
    with pytest.raises(CommandExecutionError, match="is not a sealed backup"):
        backup_format.unseal(str(archive), str(keys["node"] / "minion.pem"), str(tmp_path))
    with pytest.raises(CommandExecutionError, match="not a PEM RSA public key"):
        backup_format.seal(str(archive), str(CIB), str(tmp_path / "s"))
    with pytest.raises(CommandExecutionError, match="cannot read the minion's public key"):
        backup_format.seal(str(archive), str(tmp_path / "none.pub"), str(tmp_path / "s"))


# --- comparing with the node ---------------------------------------------------------------


def unpacked(tmp_path):
    archive = write_backup(tmp_path)
    backup_format.unpack(str(archive), str(tmp_path / "unpacked"))
    return tmp_path / "unpacked" / archive.name[:-4]


def test_the_restore_plan_lists_what_differs_in_restore_order(tmp_path):
    source = unpacked(tmp_path)
    fresh = make_tree(
        tmp_path / "fresh",
        {
            "etc/hosts": ("127.0.0.1 localhost\n", 0o644),
            "etc/ssh/sshd_config": ("#PermitRootLogin yes\n", 0o600),
            "etc/resolv.conf": SERVER_FILES["etc/resolv.conf"],
        },
    )
    plan = backup_format.restore_plan(str(source), str(fresh))
    paths = [step["path"] for step in plan]
    assert paths[0] == "/etc/hosts"
    assert "/etc/resolv.conf" not in paths  # identical: left alone
    assert paths[-3:] == ["/etc/ssh", "/root/.ssh", "/var/lib/chroma"]
    by_path = {step["path"]: step for step in plan}
    assert by_path["/etc/hosts"]["keep_original"] is True
    assert by_path["/etc/sudoers"]["keep_original"] is False  # nothing installed there
    assert by_path["/etc/ssh"]["tree"] is True and by_path["/etc/hosts"]["tree"] is False
    assert not [p for p in paths if p.startswith("/etc/sysconfig")]  # reference only


def test_a_node_that_matches_its_backup_has_nothing_to_restore(tmp_path):
    source = unpacked(tmp_path)
    assert backup_format.restore_plan(str(source), str(source)) == []


@pytest.mark.parametrize(
    ("mode", "content", "same"),
    [(0o644, SERVER_FILES["etc/hosts"][0], True), (0o600, SERVER_FILES["etc/hosts"][0], False)]
    + [(0o644, "127.0.0.1 localhost\n", False)],
)
def test_a_file_is_the_same_only_with_its_content_and_mode(tmp_path, mode, content, same):
    source = unpacked(tmp_path)
    copy = tmp_path / "hosts"
    copy.write_text(content)
    os.chmod(copy, mode)
    assert backup_format.same(str(source / "etc/hosts"), str(copy)) is same


def test_backup_json_records_what_the_node_had(tmp_path):
    info = backup_format.verify(str(write_backup(tmp_path, minion="oss1-b")))
    assert info["minion"] == "oss1-b"
    assert info["absent"] == ["/etc/rsyslog.conf", "/etc/selinux/config", "/etc/hostid"]
    assert info["manifest"] == backup_format.manifest("server")


# --- extraction is contained ------------------------------------------------------------------


TOP = "bck-oss1-a-20260101-120000"


def hostile(tmp_path, *members):
    """An archive of TOP holding ``members``: (name, type, linkname or bytes)."""
    path = tmp_path / "hostile.tgz"
    with tarfile.open(path, "w:gz") as tar:
        top = tarfile.TarInfo(TOP)
        top.type = tarfile.DIRTYPE
        top.mode = 0o700
        tar.addfile(top)
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.REGTYPE:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
                continue
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = value
            tar.addfile(info)
    return path


@pytest.fixture
def outside(tmp_path):
    """A file beside the extraction directory that no archive may reach."""
    victim = tmp_path / "outside" / "victim"
    victim.parent.mkdir()
    victim.write_text("untouched\n")
    return victim


HOSTILE = {
    "hard-link-escape": (
        lambda victim: [
            (f"{TOP}/etc/passwd", tarfile.LNKTYPE, str(victim)),
            (f"{TOP}/etc/passwd", tarfile.REGTYPE, b"pwned\n"),
        ],
        "hard link",
    ),
    "absolute-symlink": (
        lambda victim: [(f"{TOP}/etc/ssh", tarfile.SYMTYPE, str(victim.parent))],
        "absolute symlink",
    ),
    "relative-symlink-escape": (
        lambda victim: [(f"{TOP}/etc", tarfile.SYMTYPE, "../../outside")],
        "points outside the backup",
    ),
    "dot-dot-member": (
        lambda victim: [(f"{TOP}/../outside/victim", tarfile.REGTYPE, b"pwned\n")],
        "'..'",
    ),
    "absolute-member": (
        lambda victim: [(str(victim), tarfile.REGTYPE, b"pwned\n")],
        "absolute",
    ),
    "device-node": (
        lambda victim: [(f"{TOP}/etc/sda", tarfile.BLKTYPE, None)],
        "block device",
    ),
    "fifo": (lambda victim: [(f"{TOP}/etc/pipe", tarfile.FIFOTYPE, None)], "fifo"),
    "write-through-a-symlink": (
        lambda victim: [
            (f"{TOP}/var", tarfile.DIRTYPE, None),
            (f"{TOP}/etc", tarfile.SYMTYPE, "var"),
            (f"{TOP}/etc/passwd", tarfile.REGTYPE, b"through\n"),
        ],
        "below the symlink",
    ),
    "symlink-chain-escape": (
        lambda victim: [
            (f"{TOP}/a", tarfile.DIRTYPE, None),
            (f"{TOP}/a/b", tarfile.DIRTYPE, None),
            (f"{TOP}/a/b/up", tarfile.SYMTYPE, ".."),
            (f"{TOP}/a/b/out", tarfile.SYMTYPE, "up/../../outside"),
        ],
        "points outside the backup",
    ),
    "duplicate-member": (
        lambda victim: [
            (f"{TOP}/etc", tarfile.DIRTYPE, None),
            (f"{TOP}/etc/hosts", tarfile.REGTYPE, b"one\n"),
            (f"{TOP}/etc/hosts", tarfile.SYMTYPE, "../../outside/victim"),
        ],
        "twice",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_members_are_refused_and_nothing_outside_changes(tmp_path, outside, case):
    members, says = HOSTILE[case]
    archive = hostile(tmp_path, *members(outside))
    dest = tmp_path / "unpacked"
    dest.mkdir()
    with pytest.raises(CommandExecutionError, match=says):
        backup_format.unpack(str(archive), str(dest))
    assert outside.read_text() == "untouched\n"
    assert sorted(p.name for p in outside.parent.iterdir()) == ["victim"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.tgz", "outside", "unpacked"]


def test_unpacking_keeps_content_modes_owners_times_and_inner_symlinks(tmp_path):
    archive = hostile(
        tmp_path,
        (f"{TOP}/etc", tarfile.DIRTYPE, None),
        (f"{TOP}/etc/shadow", tarfile.REGTYPE, b"root:!!:1::::::\n"),
        (f"{TOP}/etc/localtime", tarfile.SYMTYPE, "../usr/zone"),
    )
    with tarfile.open(archive) as tar:
        shadow = tar.getmember(f"{TOP}/etc/shadow")
    dest = tmp_path / "unpacked"
    dest.mkdir()
    backup_format.unpack(str(archive), str(dest))
    got = dest / TOP / "etc/shadow"
    assert got.read_bytes() == b"root:!!:1::::::\n"
    assert stat.S_IMODE(got.stat().st_mode) == shadow.mode
    assert (got.stat().st_uid, int(got.stat().st_mtime)) == (shadow.uid, shadow.mtime)
    assert os.readlink(dest / TOP / "etc/localtime") == "../usr/zone"


# --- the seal carries the archive's checksum ----------------------------------------------------


def test_the_seal_header_carries_the_archives_sha256_and_unseal_checks_it(tmp_path, keys):
    archive = write_backup(tmp_path)
    sealed = tmp_path / "b.sealed"
    ret = backup_format.seal(str(archive), str(keys["node"] / "minion.pub"), str(sealed))
    assert ret["archive_sha256"] == fileio.sha256_file(archive)
    assert ret["sha256"] == fileio.sha256_file(sealed)
    assert backup_format.seal_header(sealed.read_bytes())["sha256"] == ret["archive_sha256"]
    out = tmp_path / "out"
    out.mkdir()
    opened = backup_format.unseal(
        str(sealed),
        str(keys["node"] / "minion.pem"),
        str(out),
        archive_sha256=ret["archive_sha256"],
    )
    assert fileio.sha256_file(opened) == ret["archive_sha256"]
    with pytest.raises(CommandExecutionError, match="not the backup the master recorded"):
        backup_format.unseal(
            str(sealed), str(keys["node"] / "minion.pem"), str(out), archive_sha256="1" * 64
        )


# --- hostid -------------------------------------------------------------------------------


def test_a_server_backup_holds_the_hostid_file():
    assert "/etc/hostid" in backup_format.manifest("server")
    assert "/etc/hostid" not in backup_format.manifest("manager")


@pytest.mark.parametrize("value", ["c0a8000a", None])
def test_backup_json_carries_the_hostid_in_effect(value):
    info = backup_format.new_info("server", "m", "h", "c", [], [], [], {}, hostid=value)
    loaded = backup_format.load_info(backup_format.dump_info(info), "b")
    assert loaded.get("hostid") == value


def test_a_hostid_in_backup_json_that_is_not_one_is_refused():
    info = backup_format.new_info("server", "m", "h", "c", [], [], [], {}, hostid="c0a8000a")
    info["hostid"] = "not-hex"
    with pytest.raises(CommandExecutionError, match="hostid 'not-hex'"):
        backup_format.load_info(backup_format.dump_info(info), "b")


def test_the_restore_plan_writes_the_hostid_backup_json_recorded(tmp_path):
    root = make_tree(tmp_path / "node", SERVER_FILES)
    archive = write_backup(tmp_path, root=root, hostid="c0a8000a")
    backup_format.unpack(str(archive), str(tmp_path / "unpacked"))
    source = tmp_path / "unpacked" / archive.name[:-4]
    plan = {s["path"]: s for s in backup_format.restore_plan(str(source), str(tmp_path / "new"))}
    assert plan["/etc/hostid"]["content"] == hostid_value.to_bytes("c0a8000a")
    assert plan["/etc/hostid"]["mode"] == 0o644


def test_the_restore_plan_restores_the_hostid_file_the_backup_holds(tmp_path):
    root = make_tree(tmp_path / "node", SERVER_FILES)
    (root / "etc/hostid").write_bytes(hostid_value.to_bytes("12345678"))
    archive = write_backup(tmp_path, root=root, hostid="12345678")
    backup_format.unpack(str(archive), str(tmp_path / "unpacked"))
    source = tmp_path / "unpacked" / archive.name[:-4]
    plan = {s["path"]: s for s in backup_format.restore_plan(str(source), str(tmp_path / "new"))}
    assert plan["/etc/hostid"]["source"] == str(source / "etc/hostid")


# --- the manager's /var/lib/chroma ---------------------------------------------------------------


def test_a_manager_restore_plan_puts_back_the_certificates_only(tmp_path):
    root = make_tree(tmp_path / "node", SERVER_FILES)
    archive = write_backup(tmp_path, root=root, kind="manager")
    backup_format.unpack(str(archive), str(tmp_path / "unpacked"))
    source = tmp_path / "unpacked" / archive.name[:-4]
    fresh = make_tree(
        tmp_path / "fresh",
        {
            "var/lib/chroma/authority.crt": ("NEW CA\n", 0o644),
            "var/lib/chroma/repo/x.rpm": ("", 0o644),
        },
    )
    plan = {s["path"]: s for s in backup_format.restore_plan(str(source), str(fresh))}
    assert "/var/lib/chroma" not in plan
    assert {p for p in plan if p.startswith("/var/lib/chroma/")} == {
        "/var/lib/chroma/authority.crt",
        "/var/lib/chroma/self.crt",
        "/var/lib/chroma/private.pem",
    }
    assert (
        plan["/var/lib/chroma/authority.crt"]["inst"] == "/var/lib/chroma/certs-inst/authority.crt"
    )
    assert plan["/var/lib/chroma/authority.crt"]["keep_original"] is True
    assert plan["/var/lib/chroma/self.crt"]["keep_original"] is False
