"""`salt-run state.orch orch.upgrade_pair` on a real master reaches the pair's minions."""

from tests.integration.conftest import PAIR_MINIONS


def _step(orch_data, state_id="preflight"):
    (states,) = orch_data["data"].values()
    (state,) = [v for k, v in states.items() if f"_|-{state_id}_|-" in k]
    return state


def test_upgrade_pair_resolves_to_orch_file_and_reaches_both_minions(
    synced_master, minions, salt_run_cli
):
    ret = salt_run_cli.run("state.orch", "orch.upgrade_pair", "pillar={pair: oss1}")
    assert ret.returncode == 0, ret
    state = _step(ret.data)
    assert state["result"] is True, state
    for minion in PAIR_MINIONS:
        assert f"{minion} (" in state["comment"], state["comment"]


def test_a_check_that_passes_reports_no_change(synced_master, minions, salt_run_cli):
    ret = salt_run_cli.run("state.orch", "orch.upgrade_pair", "pillar={pair: oss1}")
    assert _step(ret.data)["changes"] == {}


def test_an_unknown_pair_stops_the_run_and_names_the_pillar_key(synced_master, salt_run_cli):
    ret = salt_run_cli.run("state.orch", "orch.upgrade_pair", "pillar={pair: nosuch}")
    assert ret.returncode != 0
    state = _step(ret.data)
    assert state["result"] is False
    assert state["changes"] == {}
    first, finding = state["comment"].splitlines()
    assert first == "pair nosuch cannot be upgraded; fix these first, nothing was changed:"
    assert finding.startswith("- pillar key lustre_upgrade:pairs:nosuch is missing")


def test_a_failed_preflight_prints_its_findings_not_a_return_dump(synced_master, salt_run_cli):
    ret = salt_run_cli.run(
        "--out=highstate", "state.orch", "orch.upgrade_pair", "pillar={pair: nosuch}"
    )
    assert ret.returncode != 0
    assert "- pillar key lustre_upgrade:pairs:nosuch is missing" in ret.stdout
    assert "'return'" not in ret.stdout + ret.stderr


def test_a_run_without_pair_says_how_to_give_it(synced_master, salt_run_cli):
    ret = salt_run_cli.run("state.orch", "orch.upgrade_pair")
    assert ret.returncode != 0
    assert "pillar='{pair: <name>}'" in _step(ret.data)["comment"]


def test_test_mode_runs_the_read_only_preflight(synced_master, minions, salt_run_cli):
    ret = salt_run_cli.run("state.orch", "orch.upgrade_pair", "pillar={pair: nosuch}", "test=True")
    state = _step(ret.data)
    assert state["result"] is False
    assert "lustre_upgrade:pairs:nosuch" in state["comment"]
    ok = salt_run_cli.run("state.orch", "orch.upgrade_pair", "pillar={pair: oss1}", "test=True")
    assert ok.returncode == 0, ok
    assert _step(ok.data)["result"] is True
