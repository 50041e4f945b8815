"""The EL6 → EL7 account merge, on the account files of a CentOS 6 IML server and of a
fresh CentOS 7 installation (tests/fixtures/node/accounts)."""

import pytest
from salt.exceptions import CommandExecutionError

from lustre_upgrade_lib import accounts
from tests.support import SUITE_FIXTURES

FIXTURES = SUITE_FIXTURES / "node" / "accounts"


def files(release):
    return {name: (FIXTURES / f"{release}-{name}").read_text() for name in accounts.FILES}


def lines(text):
    return {line.split(":", 1)[0]: line for line in text.splitlines()}


@pytest.fixture
def el6():
    return files("el6")


@pytest.fixture
def el7():
    return files("el7")


def test_site_accounts_come_back_with_their_ids_hashes_and_memberships(el6, el7):
    merged = accounts.merge(el6, el7)
    assert merged.clashes == []
    assert merged.users == ["alice", "lustremgr", "nagios"]
    assert merged.groups == ["alice", "lustremgr", "lustre-ops", "nagios"]
    passwd, shadow = lines(merged.files["passwd"]), lines(merged.files["shadow"])
    group, gshadow = lines(merged.files["group"]), lines(merged.files["gshadow"])
    for user in merged.users:
        assert passwd[user] == lines(el6["passwd"])[user]
        assert shadow[user] == lines(el6["shadow"])[user]
    assert group["lustre-ops"] == "lustre-ops:x:600:alice,lustremgr"
    assert gshadow["lustre-ops"] == "lustre-ops:!:lustremgr:alice,lustremgr"
    # Memberships of EL7's own groups come back for site users only.
    assert group["wheel"] == "wheel:x:10:alice"
    assert gshadow["wheel"] == "wheel:::alice"


def test_el7_system_accounts_stay_as_installed(el6, el7):
    merged = accounts.merge(el6, el7)
    passwd, group = lines(merged.files["passwd"]), lines(merged.files["group"])
    for name, line in lines(el7["passwd"]).items():
        assert passwd[name] == line, name  # polkitd 999, chrony 998, systemd-network…
    assert lines(merged.files["shadow"])["root"] == lines(el7["shadow"])["root"]
    for name in ("input", "ssh_keys", "systemd-journal", "polkitd", "chrony"):
        assert group[name] == lines(el7["group"])[name]
    # EL6-only system accounts do not come back.
    for name in ("gopher", "uucp", "vcsa", "haldaemon", "saslauth", "hacluster", "abrt"):
        assert name not in passwd
    assert "slocate" not in group and "haclient" not in group
    # The installed order is kept, the site accounts follow.
    assert list(passwd)[: len(lines(el7["passwd"]))] == list(lines(el7["passwd"]))


def test_accounts_the_pillar_lists_come_back_with_their_primary_group(el6, el7):
    merged = accounts.merge(el6, el7, keep=["hacluster", "root"])
    passwd, group = lines(merged.files["passwd"]), lines(merged.files["group"])
    assert passwd["hacluster"] == lines(el6["passwd"])["hacluster"]
    assert group["haclient"] == "haclient:x:189:alice"
    # root keeps uid 0 and gets the EL6 hash back when listed.
    assert lines(merged.files["shadow"])["root"] == lines(el6["shadow"])["root"]
    assert "hacluster" in merged.users and "haclient" in merged.groups


def test_memberships_of_groups_that_stay_behind_are_reported(el6, el7):
    merged = accounts.merge(el6, el7)
    assert any("alice" in note and "haclient" in note for note in merged.notes)


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (
            lambda f: f.update(passwd=f["passwd"] + "scratch:x:998:500::/scratch:/bin/bash\n"),
            "uid 998 of the backup's user scratch is chrony's on this node",
        ),
        (
            lambda f: f.update(group=f["group"] + "storage:x:995:alice\n"),
            "gid 995 of the backup's group storage is libstoragemgmt's on this node",
        ),
    ],
    ids=["uid", "gid"],
)
def test_an_id_taken_by_an_el7_account_is_a_clash(el6, el7, edit, says):
    edit(el6)
    merged = accounts.merge(el6, el7)
    assert says in " | ".join(merged.clashes)


def test_a_site_account_with_another_id_on_el7_is_a_clash(el6, el7):
    el7["passwd"] += "alice:x:1000:1000::/home/alice:/bin/bash\n"
    merged = accounts.merge(el6, el7)
    assert "user alice is uid 500 in the backup but uid 1000 on this node" in merged.clashes


def test_merging_again_changes_nothing(el6, el7):
    once = accounts.merge(el6, el7, keep=["hacluster"])
    twice = accounts.merge(el6, once.files, keep=["hacluster"])
    assert twice.files == once.files and twice.clashes == []


def test_a_line_that_is_not_an_account_is_named(el6, el7):
    el6["passwd"] += "broken-line\n"
    with pytest.raises(CommandExecutionError, match=r"backup's passwd, line 32 .*7 fields"):
        accounts.merge(el6, el7)
