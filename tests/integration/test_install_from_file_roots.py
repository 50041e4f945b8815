"""A master that serves the repository through file_roots delivers the extension."""

from tests.integration.conftest import PAIR_MINIONS

EXTENSION_MODULES = {"hostid"}


def test_modules_reach_minions_only_through_sync_all(synced_minions, salt_cli):
    for minion in PAIR_MINIONS:
        before = set(synced_minions["modules_before_sync"][minion])
        assert not EXTENSION_MODULES & before, f"{minion} had them before any sync"

    ret = salt_cli.run("hostid.current", minion_tgt="oss1-*")
    assert ret.returncode == 0, ret
    assert set(ret.data) == set(PAIR_MINIONS)
    for value in ret.data.values():
        assert len(value) == 8 and int(value, 16) >= 0


def test_module_documentation_carries_cli_examples(synced_minions, salt_cli):
    ret = salt_cli.run("sys.doc", "hostid", minion_tgt=PAIR_MINIONS[0])
    assert ret.returncode == 0, ret
    docs = ret.data
    public = [name for name in docs if not name.split(".")[-1].startswith("_")]
    assert public
    for name in public:
        assert "CLI Example" in (docs[name] or ""), f"{name} has no CLI example"


def test_state_modules_are_synced_too(synced_minions, salt_cli, tmp_path):
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
