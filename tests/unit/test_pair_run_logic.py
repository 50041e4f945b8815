"""The pair run's decisions that need no node: which key a rebuilt node may present, what
the plan and the status say, when a state run failed or rebooted, and what keeps a new
cluster from the runbook's end state. The lab tests run the same code on real daemons."""

import pytest
from salt.exceptions import CommandExecutionError

from lustre_upgrade_lib import rebuild_handoff, state_returns, upgrade_ledger, upgrade_plan
from lustre_upgrade_lib.pair_upgrade import PairRun

CONFIG = {
    "cluster_name": "lustre-ha-cluster",
    "rebuild": {"hook": "manual"},
    "pairs": {
        "oss1": {
            "osd": "ldiskfs",
            "nodes": [
                {"minion": "oss1-a", "old_name": "oss1-a", "fqdn": "oss1-a.lab.example"},
                {"minion": "oss1-b", "old_name": "oss1-b", "fqdn": "oss1-b.lab.example"},
            ],
        }
    },
}


class KeyStore:
    """The master's key lists, as the wheel reports them."""

    def __init__(self, accepted=None, pending=None):
        self.lists = {"accepted": dict(accepted or {}), "pending": dict(pending or {})}
        self.accepted_calls = []
        self.events = []

    def fingerprint(self, minion, status):
        return self.lists[status].get(minion)

    def accept_key(self, minion):
        self.accepted_calls.append(minion)
        self.lists["accepted"][minion] = self.lists["pending"].pop(minion)

    def fire(self, tag, data):
        self.events.append((tag, data))


def _run(tmp_path, site, rebuild=None):
    ledger = upgrade_ledger.new("oss1", CONFIG["pairs"]["oss1"]["nodes"])
    ledger["node_state"] = {"oss1-a": dict(rebuild or {}), "oss1-b": {}}
    path = str(tmp_path / "oss1.json")
    upgrade_ledger.save(path, ledger)
    return PairRun("oss1", CONFIG, site, path, str(tmp_path / "oss1.lock"), "test-run")


AWAITING = {"rebuild": rebuild_handoff.AWAITING, "old_fingerprint": "aa:old"}


@pytest.mark.parametrize(
    ("node_state", "pending", "accepted"),
    [
        pytest.param(AWAITING, "bb:new", "bb:new", id="awaiting-new-key-accepted"),
        pytest.param(AWAITING, "aa:old", None, id="old-key-again-refused"),
        pytest.param(AWAITING, None, None, id="nothing-pending"),
        pytest.param({}, "bb:new", None, id="not-handed-off-refused"),
        pytest.param(
            dict(AWAITING, new_fingerprint="bb:new"), "cc:other", None, id="only-once-per-rebuild"
        ),
        pytest.param(
            {"rebuild": rebuild_handoff.REBUILT, "new_fingerprint": "bb:new"},
            "cc:other",
            None,
            id="rebuilt-node-refused",
        ),
    ],
)
def test_only_a_node_awaiting_its_rebuild_gets_a_new_key_accepted_once(
    tmp_path, node_state, pending, accepted
):
    site = KeyStore(pending={"oss1-a": pending} if pending else {})
    run = _run(tmp_path, site, node_state)
    assert rebuild_handoff.accept_pending_key(run, "oss1-a") == accepted
    assert site.accepted_calls == (["oss1-a"] if accepted else [])
    stored = upgrade_ledger.load(run.ledger_path)["node_state"]["oss1-a"]
    if accepted:
        assert stored["new_fingerprint"] == accepted
        assert site.events[0][0] == "lustre/upgrade/oss1/oss1-a/rebuild-node1/key-accepted"
    if pending == "aa:old" and not node_state.get("new_fingerprint"):
        assert stored["refused_fingerprint"] == "aa:old"
    # A second call (the reactor's, after the orchestration's) accepts nothing more.
    assert rebuild_handoff.accept_pending_key(run, "oss1-a") is None
    assert len(site.accepted_calls) <= 1


def test_a_phase_after_a_missing_preflight_is_refused(tmp_path):
    run = PairRun(
        "oss1", CONFIG, KeyStore(), str(tmp_path / "x.json"), str(tmp_path / "x.lock"), "r"
    )
    with pytest.raises(CommandExecutionError, match="start with the preflight"):
        run.run("backup")


def test_unknown_phase_names_are_refused(tmp_path):
    run = _run(tmp_path, KeyStore())
    with pytest.raises(Exception, match="unknown phase 'cut-over'"):
        run.run("cut-over")


def test_the_plan_of_a_pending_phase_names_its_commands_and_a_done_one_changes_nothing():
    ledger = upgrade_ledger.new("oss1", CONFIG["pairs"]["oss1"]["nodes"])
    plan = upgrade_plan.phase_plan("oss1", CONFIG, ledger, "evacuate-node1")
    assert plan["result"] is None
    assert (
        "oss1-b: crm_attribute --type nodes --node oss1-a --name standby --update on"
        in plan["changes"]["evacuate-node1"]
    )
    manual = upgrade_plan.phase_plan("oss1", CONFIG, ledger, "rebuild-node1")["comment"]
    assert "hook: manual" in manual and "salt-key -d oss1-a" in manual
    for name in ("preflight", "backup"):
        upgrade_ledger.start(ledger, name)
        upgrade_ledger.finish(ledger, name, upgrade_ledger.DONE)
    assert upgrade_plan.phase_plan("oss1", CONFIG, ledger, "backup")["changes"] == {}
    all_at_once = dict(CONFIG, cutover="all-at-once")
    steps = upgrade_plan.phase_plan("oss1", all_at_once, ledger, "cutover")["changes"]["cutover"]
    assert any("every target target-role=Stopped" in step for step in steps)


def test_status_names_the_current_phase_its_node_and_never_a_backup():
    assert upgrade_plan.status("oss1", None)["started"] is False
    ledger = upgrade_ledger.new("oss1", CONFIG["pairs"]["oss1"]["nodes"])
    ledger["node_state"] = {
        "oss1-a": {"rebuild": "awaiting-rebuild", "backup": {"path": "/x", "sha256": "f" * 64}}
    }
    for name in ("preflight", "backup", "evacuate-node1"):
        upgrade_ledger.start(ledger, name)
        upgrade_ledger.finish(ledger, name, upgrade_ledger.DONE)
    upgrade_ledger.start(ledger, "rebuild-node1")
    upgrade_ledger.finish(ledger, "rebuild-node1", upgrade_ledger.WAITING, "reinstall oss1-a")
    got = upgrade_plan.status("oss1", ledger)
    assert got["current"] == {
        "name": "rebuild-node1",
        "title": "3 rebuild node 1",
        "node": "oss1-a",
        "status": "waiting",
        "detail": "reinstall oss1-a",
    }
    assert got["nodes"] == {"oss1-a": {"rebuild": "awaiting-rebuild"}}
    assert "f" * 64 not in str(got)


HIGHSTATE = {
    "pkg_|-kernel_|-kernel_|-installed": {"__id__": "k", "result": True, "changes": {"x": 1}},
    "cmd_|-reboot_|-shutdown_|-run": {
        "__id__": "lustre-server-reboot-into-lustre-kernel",
        "result": True,
        "changes": {"pid": 1},
    },
    "test_|-kernel_|-k_|-configurable_test_state": {
        "__id__": "lustre-server-running-lustre-kernel",
        "result": False,
        "changes": {},
        "comment": "the node is not running the Lustre kernel",
    },
}


def test_a_highstate_that_scheduled_the_reboot_is_told_from_one_that_failed():
    assert state_returns.failed(HIGHSTATE) == ["test_|-kernel_|-k_|-configurable_test_state"]
    assert state_returns.changed(HIGHSTATE, "lustre-server-reboot-into-lustre-kernel")
    assert not state_returns.changed(HIGHSTATE, "lustre-server-running-lustre-kernel")
    assert "lustre-server-running-lustre-kernel: the node is not" in state_returns.failure_text(
        HIGHSTATE
    )
    assert state_returns.failed(["Rendering SLS failed"]) == ["render"]
    assert state_returns.summary(HIGHSTATE)["changed"] == [
        "k",
        "lustre-server-reboot-into-lustre-kernel",
    ]


def _cluster(placement, locations, maintenance="false"):
    return {
        "properties": {"maintenance-mode": maintenance},
        "resources": [
            {"id": "MGS", "class": "ocf", "provider": "chroma", "type": "Target"},
            {"id": "OST0", "class": "ocf", "provider": "chroma", "type": "Target"},
        ],
        "locations": locations,
        "placement": placement,
    }


PRIMARY = [
    {"id": "MGS-primary", "rsc": "MGS", "node": "a.x", "score": "20"},
    {"id": "OST0-primary", "rsc": "OST0", "node": "b.x", "score": "20"},
]


@pytest.mark.parametrize(
    ("data", "online", "pending", "expected"),
    [
        (_cluster({"MGS": ["a.x"], "OST0": ["b.x"]}, PRIMARY), ["a.x", "b.x"], [], []),
        (
            _cluster({"MGS": ["a.x"], "OST0": ["a.x"]}, PRIMARY),
            ["a.x", "b.x"],
            [],
            ["OST0 runs on a.x, not on b.x"],
        ),
        (
            _cluster({"MGS": ["a.x"], "OST0": ["b.x"]}, PRIMARY, "true"),
            ["a.x"],
            [],
            ["not online in the cluster: b.x", "maintenance-mode is still true"],
        ),
        (
            _cluster(
                {"MGS": ["a.x"], "OST0": ["b.x"]},
                [*PRIMARY, {"id": "cli-ban-OST0-on-a.x", "rsc": "OST0", "node": "a.x"}],
            ),
            ["a.x", "b.x"],
            [{"node": "b.x", "attributes": ["0_fence_password", "0_fence_agent"]}],
            [
                "temporary constraints left: cli-ban-OST0-on-a.x",
                "fencing attributes not restored on b.x: 0_fence_password, 0_fence_agent",
            ],
        ),
    ],
    ids=["end-state", "misplaced", "member-missing-maintenance", "leftovers"],
)
def test_what_keeps_the_new_cluster_from_the_end_state(data, online, pending, expected):
    members = {"online": online}
    assert state_returns.new_cluster_problems(data, members, ["a.x", "b.x"], pending) == expected


def test_the_status_text_says_where_the_run_stands_and_what_to_do():
    assert "no upgrade run yet" in upgrade_plan.render_status(upgrade_plan.status("oss1", None))
    ledger = upgrade_ledger.new("oss1", CONFIG["pairs"]["oss1"]["nodes"])
    ledger["node_state"] = {"oss1-a": {"rebuild": "awaiting-rebuild"}}
    for name in ("preflight", "backup", "evacuate-node1"):
        upgrade_ledger.start(ledger, name, now=100.0)
        upgrade_ledger.finish(ledger, name, upgrade_ledger.DONE, now=104.5)
    upgrade_ledger.start(ledger, "rebuild-node1")
    upgrade_ledger.finish(ledger, "rebuild-node1", upgrade_ledger.WAITING, "reinstall oss1-a")
    text = upgrade_plan.render_status(upgrade_plan.status("oss1", ledger))
    assert text.startswith("Pair oss1: upgrade in progress\n")
    assert "  now: 3 rebuild node 1 (oss1-a): waiting\n    reinstall oss1-a\n" in text
    assert "  1 back up both nodes" in text and "4.5 s" in text
    assert text.endswith("  oss1-a: awaiting-rebuild\n")


@pytest.mark.parametrize("phase", ["backup", "new-cluster", "join-node2", "rebalance", "fencing"])
def test_nothing_is_predicted_for_a_node_not_rebuilt_yet(tmp_path, phase):
    """Before the run (no ledger) or before the rebuild, a state phase has nothing to
    predict from: the plan shows its steps only, and asks no node."""
    fresh = PairRun(
        "oss1", CONFIG, KeyStore(), str(tmp_path / "n.json"), str(tmp_path / "n.lock"), "p"
    )
    assert fresh.predict(phase) is None
    started = _run(tmp_path, KeyStore(), {"rebuild": rebuild_handoff.AWAITING})
    assert started.predict(phase) is None
