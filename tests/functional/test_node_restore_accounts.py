"""Restoring an EL6 server's backup on a fresh EL7 installation merges the accounts: the
site's users and groups come back, EL7's own system accounts stay, a clash stops the
restore before anything is written."""

import pytest
from salt.exceptions import CommandExecutionError

from tests.functional.node_backup_helpers import snapshot, take_backup
from tests.support import SERVER_FILES, SUITE_FIXTURES, make_tree

ACCOUNTS = SUITE_FIXTURES / "node" / "accounts"
MODES = {"passwd": 0o644, "group": 0o644, "shadow": 0o000, "gshadow": 0o000}


def accounts_of(release, **extra):
    files = {}
    for name, mode in MODES.items():
        text = (ACCOUNTS / f"{release}-{name}").read_text() + extra.get(name, "")
        files[f"etc/{name}"] = (text, mode)
    return files


def by_name(path):
    return {line.split(":", 1)[0]: line for line in path.read_text().splitlines()}


@pytest.fixture
def el7_root(tmp_path):
    return make_tree(tmp_path / "el7", accounts_of("el7"))


def el6_backup(modules, tmp_path, **extra):
    return take_backup(modules, tmp_path, {**SERVER_FILES, **accounts_of("el6", **extra)})


def test_the_site_accounts_join_the_el7_system_accounts(modules, tmp_path, el7_root):
    backup = el6_backup(modules, tmp_path)
    ret = modules.node_backup.restore(
        backup["path"], sha256=backup["sha256"], root=str(el7_root), keep_accounts=["hacluster"]
    )
    assert {"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"} <= set(ret["changed"])
    assert ret["accounts"]["users"] == ["hacluster", "alice", "lustremgr", "nagios"]
    passwd, shadow = by_name(el7_root / "etc/passwd"), by_name(el7_root / "etc/shadow")
    assert passwd["polkitd"] == "polkitd:x:999:998:User for polkitd:/:/sbin/nologin"
    assert passwd["chrony"].startswith("chrony:x:998:996:")
    assert passwd["alice"] == "alice:x:500:500:Alice Storage Admin:/home/alice:/bin/bash"
    assert passwd["hacluster"].startswith("hacluster:x:189:189:")
    assert shadow["alice"].startswith("alice:$6$aL1ce0S7$")
    assert shadow["root"].startswith("root:$6$n3wEl7Rt$")  # EL7's root stays
    assert "gopher" not in passwd and "vcsa" not in passwd
    assert by_name(el7_root / "etc/group")["wheel"] == "wheel:x:10:alice"
    assert (el7_root / "etc/shadow").stat().st_mode & 0o777 == 0
    assert by_name(el7_root / "etc/passwd.inst") == by_name(ACCOUNTS / "el7-passwd")

    again = modules.node_backup.restore(
        backup["path"], sha256=backup["sha256"], root=str(el7_root), keep_accounts=["hacluster"]
    )
    assert not {"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"} & set(again["changed"])


@pytest.mark.parametrize("testmode", [False, True], ids=["apply", "test"])
def test_an_id_clash_stops_the_restore_before_anything_is_written(
    modules, tmp_path, el7_root, testmode
):
    backup = el6_backup(
        modules, tmp_path, passwd="scratch:x:998:500:Scratch space:/scratch:/bin/bash\n"
    )
    before = snapshot(el7_root)
    with pytest.raises(CommandExecutionError) as err:
        modules.node_backup.restore(
            backup["path"], sha256=backup["sha256"], root=str(el7_root), test=testmode
        )
    message = str(err.value)
    assert "uid 998 of the backup's user scratch is chrony's on this node" in message
    assert "nothing was restored" in message
    assert snapshot(el7_root) == before


@pytest.fixture
def pillar(modules):
    """The minion's loaded pillar, emptied again after the test."""
    loaded = modules.pack["__pillar__"]
    yield loaded
    loaded.pop("lustre_upgrade", None)


def test_the_accounts_to_keep_come_from_the_pillar(modules, pillar, tmp_path, el7_root):
    pillar["lustre_upgrade"] = {"backup": {"keep_accounts": ["hacluster"]}}
    backup = el6_backup(modules, tmp_path)
    ret = modules.node_backup.restore(
        backup["path"], sha256=backup["sha256"], root=str(el7_root), test=True
    )
    assert ret["accounts"]["users"][0] == "hacluster"
    assert "haclient" in ret["accounts"]["groups"]
    assert any("haclient" in note for note in ret["accounts"]["notes"]) is False
