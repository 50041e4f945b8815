"""Pillar values that reach a command line or a repository definition, rendered on a real
master and EL7-looking minion (the fixtures and helpers of ``test_state_tree``).

A value that would be a shell word (a firewalld zone, a kernel release) and holds a blank,
``;`` or ``$(…)`` stops the render with the pillar key to fix; a path is passed to the
check that reads it as one argument, never through a shell. Repositories check package
signatures with the key the pillar gives (EPEL with the key epel-release installs) and
no package state turns checking off.
"""

import shlex

import pytest

from tests.integration import test_state_tree as tree
from tests.integration.test_state_tree import (
    EL7_GRAINS,
    PAIR,
    PILLAR_EXAMPLE,
    RUNBOOK,
    by_id,
    low_chunks,
    mock_run,
    render_error,
)

# An EL7-looking minion like test_state_tree's, under an id of its own: the master keeps
# a minion's first key, so two modules of one session cannot each start `el7-node`.
MINION = "el7-input"
rpmdb = tree.rpmdb


@pytest.fixture(scope="module")
def call(master, salt_cli, rpmdb):
    factory = master.salt_minion_daemon(
        MINION, overrides={"grains": EL7_GRAINS, "log_level_logfile": "info"}
    )
    factory.environ = {**factory.environ, "HOME": str(rpmdb.home)}
    with factory.started(start_timeout=60):
        ret = salt_cli.run("saltutil.sync_all", minion_tgt=MINION)
        assert ret.returncode == 0, ret

        def run(fun, *args, **kwargs):
            return salt_cli.run(fun, *args, minion_tgt=MINION, **kwargs)

        run.rendered = {}
        yield run


def node_pillar(osd=None, **lustre_upgrade):
    """test_state_tree's pillar override, with this module's minion as the pair's node."""
    pillar = tree.node_pillar(osd, **lustre_upgrade)
    (node,) = pillar["lustre_upgrade"]["pairs"][PAIR]["nodes"]
    node.update(minion=MINION, old_name=MINION, fqdn=f"{MINION}.lfs.example")
    # Rendered as for the upgrade run of this node (every package state present).
    pillar["lustre_upgrade_run"] = {"evacuated_node": MINION}
    return pillar


EPEL_KEY = "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-7"
LUSTRE_URL = "https://downloads.example/lustre/el7/server"
LUSTRE_KEY = "https://downloads.example/lustre/RPM-GPG-KEY-lustre"


# --- shell words from pillar --------------------------------------------------------------


@pytest.mark.parametrize("zone", ["public; touch /tmp/lu-owned", "lustre zone"])
def test_a_firewall_zone_that_is_not_one_word_is_refused_naming_the_key(call, zone):
    pillar = node_pillar("ldiskfs", server={"firewall_zone": zone})
    error = render_error(call("state.apply", "lustre.ha", pillar=pillar, test=True))
    assert "pillar lustre_upgrade:server:firewall_zone" in error
    assert "Nothing was applied" in error


def test_the_runtime_firewall_command_takes_the_zone_as_one_argument_without_a_shell(call):
    pillar = node_pillar("ldiskfs", server={"firewall_zone": "lustre-dmz"})
    runtime = by_id(low_chunks(call, "lustre.ha", pillar))[
        "lustre-ha-firewall-high-availability-runtime"
    ]
    assert runtime["python_shell"] is False
    assert shlex.split(runtime["name"]) == [
        "firewall-cmd",
        "--zone=lustre-dmz",
        "--add-service=high-availability",
    ]
    assert shlex.split(runtime["unless"]) == [
        "firewall-cmd",
        "--zone=lustre-dmz",
        "--query-service=high-availability",
    ]


@pytest.mark.parametrize(
    ("server", "key"),
    [
        (
            {"flavours": {"ldiskfs": {"kernel_version": '3.10.0"; reboot; "'}}},
            "lustre_upgrade:server:flavours:ldiskfs:kernel_version",
        ),
        ({"arch": "x86_64$(id)"}, "lustre_upgrade:server:arch"),
    ],
    ids=["kernel-version", "arch"],
)
def test_a_kernel_release_with_shell_characters_is_refused_naming_the_key(call, server, key):
    pillar = node_pillar("ldiskfs", server=server)
    error = render_error(call("state.apply", "lustre.server", pillar=pillar, test=True))
    assert f"pillar {key}" in error
    assert "Nothing was applied" in error


def test_the_manager_repo_file_is_read_as_one_path_whatever_its_characters(call, tmp_path):
    repo_dir = tmp_path / "yum repos; touch lu-owned"
    repo_dir.mkdir()
    repo_file = repo_dir / "Manager-for-Lustre.repo"
    repo_file.write_text("[lustre-server]\nname=lustre-server\nbaseurl=https://m/lustre-server\n")
    pillar = node_pillar("ldiskfs", server={"agent_repo_file": str(repo_file)})
    guard_id = "iml-agent-manager-repo-without-lustre-repos"
    guard = by_id(low_chunks(call, "iml.agent", pillar))[guard_id]
    assert all(isinstance(check, dict) for check in guard["onlyif"]), guard["onlyif"]
    # The check found the Lustre sections in that very file: the run stops there.
    assert mock_run(call, "iml.agent", pillar)[guard_id]["comment"] == "Not called, mocked"


# --- package signatures -------------------------------------------------------------------


def _repos(call, **repos):
    pillar = node_pillar("ldiskfs", repos={**PILLAR_EXAMPLE["repos"], **repos})
    states = by_id(low_chunks(call, "lustre.repos", pillar))
    return {c["name"]: c for c in states.values() if c["state"] == "pkgrepo"}


def test_a_repository_with_a_gpgkey_in_pillar_is_checked_and_plain_urls_still_work(call):
    repos = _repos(call, **{"lustre-server": {"baseurl": LUSTRE_URL, "gpgkey": LUSTRE_KEY}})
    server = repos["lustre-server"]
    assert (server["baseurl"], server["gpgcheck"], server["gpgkey"]) == (LUSTRE_URL, 1, LUSTRE_KEY)
    # The runbook's Lustre repositories are unsigned: a plain URL stays unchecked.
    client = repos["lustre-client"]
    assert (client["baseurl"], client["gpgcheck"]) == (PILLAR_EXAMPLE["repos"]["lustre-client"], 0)
    assert "gpgkey" not in client


def test_epel_is_checked_with_the_key_epel_release_installs_unless_pillar_says_unsigned(call):
    epel = _repos(call)["epel"]
    assert (epel["baseurl"], epel["gpgcheck"], epel["gpgkey"]) == (
        PILLAR_EXAMPLE["repos"]["epel"],
        1,
        EPEL_KEY,
    )
    mirror = "https://mirror.example/epel/7/x86_64"
    epel = _repos(call, epel={"baseurl": mirror, "gpgcheck": False})["epel"]
    assert (epel["baseurl"], epel["gpgcheck"]) == (mirror, 0)
    assert "gpgkey" not in epel


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"gpgkey": LUSTRE_KEY}, "pillar lustre_upgrade:repos:lustre-server:baseurl is missing"),
        (
            {"baseurl": LUSTRE_URL, "gpgcheck": True},
            "pillar lustre_upgrade:repos:lustre-server:gpgkey",
        ),
        ({"baseurl": LUSTRE_URL, "gpg_key": LUSTRE_KEY}, "unknown key gpg_key"),
    ],
    ids=["no-baseurl", "check-without-key", "unknown-key"],
)
def test_a_repository_mapping_that_cannot_be_written_names_the_key(call, entry, expected):
    pillar = node_pillar("ldiskfs", repos={**PILLAR_EXAMPLE["repos"], "lustre-server": entry})
    error = render_error(call("state.apply", "lustre.repos", pillar=pillar, test=True))
    assert expected in error
    assert "Nothing was applied" in error


@pytest.mark.parametrize("osd", sorted(RUNBOOK))
def test_no_package_state_turns_signature_checking_off(call, osd):
    """``skip_verify`` is yum's --nogpgcheck for the whole transaction, dependencies from
    EPEL and the OS repositories included; unsigned repositories say gpgcheck=0 instead."""
    chunks = low_chunks(call, "lustre.server", node_pillar(osd))
    assert [c["__id__"] for c in chunks if "skip_verify" in c] == []
