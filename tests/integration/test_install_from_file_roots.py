"""A master that serves the repository through file_roots delivers the extension: the
execution and state modules to the minions, the runners to the master, and the library
they all import (``_utils/lustre_upgrade_lib``) to both, by ``saltutil.sync_all`` alone."""

import subprocess

from tests.integration.conftest import PAIR_MINIONS
from tests.support import REPO_ROOT

EXTENSION_MODULES = {"hostid", "pacemaker", "corosync", "node_backup", "iml", "dkms"}
EXTENSION_STATES = {"hostid", "pacemaker", "node_backup", "iml", "dkms"}


def _library_files():
    root = REPO_ROOT / "_utils"
    return {
        "utils." + ".".join(path.relative_to(root).with_suffix("").parts)
        for path in root.rglob("*.py")
    }


def test_the_library_travels_with_sync_all(synced_minions):
    library = _library_files()
    assert "utils.lustre_upgrade_lib.cib" in library
    for minion in PAIR_MINIONS:
        synced = set(synced_minions["synced"][minion]["utils"])
        assert library <= synced, f"{minion} did not get {sorted(library - synced)}"


def test_modules_reach_minions_only_through_sync_all(synced_minions, salt_cli):
    for minion in PAIR_MINIONS:
        before = set(synced_minions["modules_before_sync"][minion])
        assert not EXTENSION_MODULES & before, f"{minion} had them before any sync"
    listed = salt_cli.run("sys.list_modules", minion_tgt=PAIR_MINIONS[0])
    assert EXTENSION_MODULES <= set(listed.data), "a module failed to load after the sync"

    # The minions run on this host: they must report the host's own hostid.
    expected = subprocess.run(["hostid"], capture_output=True, text=True, check=True)
    ret = salt_cli.run("hostid.current", minion_tgt="oss1-*")
    assert ret.returncode == 0, ret
    assert ret.data == {minion: expected.stdout.strip() for minion in PAIR_MINIONS}


def test_an_execution_module_answers_through_the_library(synced_minions, salt_cli):
    for version, dialect in (("0.9.170", "0.9"), ("0.11.5", "0.10"), ("0.12.1", "0.12")):
        ret = salt_cli.run("pacemaker.dialect_of_version", version, minion_tgt=PAIR_MINIONS[0])
        assert ret.returncode == 0, ret
        assert ret.data == dialect, version


def test_module_documentation_carries_cli_examples(synced_minions, salt_cli):
    ret = salt_cli.run("sys.doc", "hostid", minion_tgt=PAIR_MINIONS[0])
    assert ret.returncode == 0, ret
    docs = ret.data
    public = [name for name in docs if not name.split(".")[-1].startswith("_")]
    assert public
    for name in public:
        assert "CLI Example" in (docs[name] or ""), f"{name} has no CLI example"


def test_state_modules_are_synced_and_load_the_library(synced_minions, salt_cli, tmp_path):
    listed = salt_cli.run("sys.list_state_modules", minion_tgt=PAIR_MINIONS[0])
    assert EXTENSION_STATES <= set(listed.data), "a state module failed to load after the sync"

    target = tmp_path / "hostid"
    ret = salt_cli.run(
        "state.single",
        "hostid.persistent",
        f"name={target}",
        "test=True",
        minion_tgt=PAIR_MINIONS[0],
    )
    assert ret.returncode == 0, ret
    (state,) = ret.data.values()
    assert state["result"] is None
    assert not target.exists()


def test_runners_load_the_library_on_the_master(synced_master, salt_run_cli):
    assert "utils.lustre_upgrade_lib.pair_pillar" in synced_master.synced["utils"]
    ret = salt_run_cli.run("lustre_upgrade.preflight", "pair=no-such-pair")
    report = ret.data
    assert report["ok"] is False
    (finding,) = report["inhibitors"]
    assert finding.startswith("pillar key lustre_upgrade:pairs:no-such-pair is missing"), finding


def test_pillar_example_renders_with_gpg_secrets_decrypted(minions, salt_cli):
    key = "lustre_upgrade:secrets:hacluster_password"
    masked = salt_cli.run("pillar.get", key, minion_tgt=PAIR_MINIONS[0])
    assert masked.data == "**********"
    ret = salt_cli.run("pillar.get", key, "unmask=True", minion_tgt=PAIR_MINIONS[0])
    assert ret.data == "example-hacluster-secret"
    nodes = salt_cli.run(
        "pillar.get", "lustre_upgrade:pairs:oss1:nodes", "unmask=True", minion_tgt=PAIR_MINIONS[0]
    )
    assert [n["minion"] for n in nodes.data] == list(PAIR_MINIONS)
