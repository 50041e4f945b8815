"""`salt-run state.orch orch.upgrade_pair` on a real master with the pair's two minions,
which run no cluster here: the run reaches both minions, stops at the preflight naming
what is wrong and what to do, changes nothing and keeps no ledger. The lab tests
(tests/lab/test_lab_upgrade_*.py) run every phase on a real pair."""

import json

from tests.integration.conftest import PAIR_MINIONS


def _states(orch_data):
    (states,) = orch_data["data"].values()
    return sorted(states.values(), key=lambda ret: ret.get("__run_num__", 0))


def _step(orch_data, state_id="preflight"):
    (state,) = [s for s in _states(orch_data) if s["__id__"] == state_id]
    return state


def _no_run_kept(salt_run_cli, pair="oss1"):
    ret = salt_run_cli.run("--out=json", "lustre_upgrade.status", f"pair={pair}")
    assert ret.returncode == 0, ret
    status = ret.data if isinstance(ret.data, dict) else json.loads(ret.stdout)
    assert status["started"] is False, status


def test_upgrade_pair_reaches_both_minions_and_stops_at_the_preflight(
    synced_master, minions, salt_run_cli
):
    ret = salt_run_cli.run("state.orch", "orch.upgrade_pair", "pillar={pair: oss1}")
    assert ret.returncode != 0
    # failhard: nothing after the failed preflight ran.
    assert [s["__id__"] for s in _states(ret.data)] == ["preflight"]
    state = _step(ret.data)
    assert (state["result"], state["changes"]) == (False, {})
    first, finding = state["comment"].splitlines()[:2]
    assert first == "pair oss1 cannot be upgraded; fix these first, nothing was changed:"
    # Both minions answered (a silent one is named first); the old cluster is read on node 1.
    assert "did not answer" not in state["comment"]
    assert finding.startswith(f"- the old cluster cannot be read on {PAIR_MINIONS[0]}: `cibadmin")
    assert "service pacemaker status" in finding
    _no_run_kept(salt_run_cli)


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


def test_test_mode_runs_the_read_only_preflight_and_keeps_nothing(
    synced_master, minions, salt_run_cli
):
    ret = salt_run_cli.run("state.orch", "orch.upgrade_pair", "pillar={pair: nosuch}", "test=True")
    state = _step(ret.data)
    assert state["result"] is False
    assert "lustre_upgrade:pairs:nosuch" in state["comment"]
    ret = salt_run_cli.run("state.orch", "orch.upgrade_pair", "pillar={pair: oss1}", "test=True")
    state = _step(ret.data)
    assert state["result"] is False
    assert f"the old cluster cannot be read on {PAIR_MINIONS[0]}" in state["comment"]
    _no_run_kept(salt_run_cli)


def test_the_standalone_preflight_reports_the_same_findings(synced_master, minions, salt_run_cli):
    ret = salt_run_cli.run("lustre_upgrade.preflight", "pair=oss1")
    assert ret.returncode == 1
    report = ret.data
    assert report["ok"] is False and [n["minion"] for n in report["nodes"]] == list(PAIR_MINIONS)
    assert report["inhibitors"][0].startswith(
        f"the old cluster cannot be read on {PAIR_MINIONS[0]}"
    )
