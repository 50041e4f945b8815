"""`salt-run state.orch orch.upgrade_pair` on a real master reaches the pair's minions."""

from tests.integration.conftest import PAIR_MINIONS


def _runner_return(orch_data, state_id="preflight"):
    (states,) = orch_data["data"].values()
    (state,) = [v for k, v in states.items() if f"_|-{state_id}_|-" in k]
    return state


def test_upgrade_pair_resolves_to_orch_file_and_reaches_both_minions(
    synced_master, minions, salt_run_cli
):
    ret = salt_run_cli.run("state.orch", "orch.upgrade_pair", "pillar={pair: oss1}")
    assert ret.returncode == 0, ret
    state = _runner_return(ret.data)
    assert state["result"] is True, state
    report = state["changes"]["return"]
    assert report["ok"] is True
    assert [n["minion"] for n in report["nodes"]] == list(PAIR_MINIONS)
    assert all(n["os_family"] for n in report["nodes"])


def test_an_unknown_pair_stops_the_run_and_names_the_pillar_key(synced_master, salt_run_cli):
    ret = salt_run_cli.run("state.orch", "orch.upgrade_pair", "pillar={pair: nosuch}")
    assert ret.returncode != 0
    state = _runner_return(ret.data)
    assert state["result"] is False
    (inhibitor,) = state["changes"]["return"]["inhibitors"]
    assert "lustre_upgrade:pairs:nosuch" in inhibitor


def test_a_run_without_pair_says_how_to_give_it(synced_master, salt_run_cli):
    ret = salt_run_cli.run("state.orch", "orch.upgrade_pair")
    assert ret.returncode != 0
    (inhibitor,) = _runner_return(ret.data)["changes"]["return"]["inhibitors"]
    assert "pillar='{pair: <name>}'" in inhibitor


def test_test_mode_changes_nothing_and_shows_the_plan(synced_master, minions, salt_run_cli):
    ret = salt_run_cli.run("state.orch", "orch.upgrade_pair", "pillar={pair: oss1}", "test=True")
    assert ret.returncode == 0, ret
    assert _runner_return(ret.data)["result"] is None
