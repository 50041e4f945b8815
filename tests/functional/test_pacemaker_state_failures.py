"""A failing pacemaker state reports exactly what it changed before the failure; the
cluster's start at boot is checked on every run; one deadline covers all of a state's
steps. Live states over the recorded cluster of test_pacemaker_states; fencing with the
real cibadmin on a CIB file, behind a cibadmin that fails at the chosen update."""

import re
import time

from _modules import pacemaker
from _states import pacemaker as pacemaker_state
from tests.functional import test_pacemaker_states as base
from tests.functional.test_pacemaker_states import (
    EL6_BACKUP,
    EL6_MAP,
    N1,
    N2,
    live_conf,
    needs_tools,
    present,
    read,
)

# The fixtures of the state tests, shared.
cib, live, restored = base.cib, base.live, base.restored

PCS_CLUSTER_START = ("pcs", "cluster", "start")


def running_cluster(live, tmp_path, *nodes):
    live_conf(tmp_path / "corosync.conf", "lustre-ha-cluster", *(nodes or (N1,)))
    live.cluster.placements = [{}]


def test_a_disabled_cluster_is_enabled_and_reported_on_a_later_run(live, tmp_path):
    running_cluster(live, tmp_path)  # set up and running, but `pcs cluster enable` never ran
    live.opts["test"] = True
    planned = present(tmp_path)
    assert planned["result"] is None and planned["changes"] == {"enabled": True}
    assert not live.cluster.argvs("pcs")

    live.opts["test"] = False
    ret = present(tmp_path)
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"] == {"enabled": True}
    assert live.cluster.argvs("pcs") == [["pcs", "cluster", "enable"]]

    live.cluster.calls.clear()
    again = present(tmp_path)
    assert again["result"] is True and again["changes"] == {}
    assert "enabled at boot" in again["comment"]
    assert not live.cluster.argvs("pcs")


def test_enable_false_leaves_start_at_boot_alone(live, tmp_path):
    running_cluster(live, tmp_path)
    ret = present(tmp_path, enable=False)
    assert ret["result"] is True and ret["changes"] == {}
    assert not live.cluster.argvs("pcs")


def test_a_cluster_still_disabled_after_pcs_cluster_enable_fails_the_state(live, tmp_path):
    running_cluster(live, tmp_path)
    original = live.cluster.__call__

    def enable_does_nothing(argv, **kwargs):
        ret = original(argv, **kwargs)
        live.cluster.enabled.clear()
        return ret

    pacemaker.__salt__["cmd.run_all"] = enable_does_nothing
    ret = present(tmp_path)
    assert ret["result"] is False and "corosync" in ret["comment"]
    assert ret["changes"] == {"enabled": True}


def test_cluster_present_reports_auth_and_setup_when_the_start_fails(live, tmp_path):
    live.cluster.crm_mon_fails = True
    live.cluster.failing[PCS_CLUSTER_START] = "Error: unable to start corosync"
    original = live.cluster.__call__

    def setup_writes_conf(argv, **kwargs):
        if argv[:3] == ["pcs", "cluster", "setup"]:
            live_conf(tmp_path / "corosync.conf", "lustre-ha-cluster", N1)
        return original(argv, **kwargs)

    pacemaker.__salt__["cmd.run_all"] = setup_writes_conf
    ret = present(tmp_path)
    assert ret["result"] is False
    assert "unable to start corosync" in ret["comment"]
    assert set(ret["changes"]) == {"auth", "setup"}
    assert ret["changes"]["auth"] == [N1]
    assert ret["changes"]["setup"].startswith("pcs cluster setup lustre-ha-cluster")
    assert "Pillar-Hacluster-Secret" not in repr(ret)


def test_cluster_present_reports_the_start_when_enabling_fails(live, tmp_path):
    live_conf(tmp_path / "corosync.conf", "lustre-ha-cluster", N1)
    live.cluster.crm_mon_fails = True  # present but not running
    live.cluster.failing[("pcs", "cluster", "enable")] = "Error: systemctl failed"
    original = live.cluster.__call__

    def start_runs_it(argv, **kwargs):
        if argv[:3] == list(PCS_CLUSTER_START):
            live.cluster.crm_mon_fails = False
            live.cluster.placements = [{}]
        return original(argv, **kwargs)

    pacemaker.__salt__["cmd.run_all"] = start_runs_it
    ret = present(tmp_path)
    assert ret["result"] is False and "systemctl failed" in ret["comment"]
    assert ret["changes"] == {"started": True}


def test_cluster_present_has_one_deadline_for_all_its_steps(live, tmp_path, monkeypatch):
    """Each pcs step takes 200 s of a 300 s timeout: the setup gets only what is left and
    the start is never begun; the timeout is not granted again to every step."""
    now = [5000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    live.cluster.crm_mon_fails = True
    original = live.cluster.__call__

    def slow_pcs(argv, **kwargs):
        if argv[0] in ("pcs", "crm_mon"):  # pcs steps take 200 s, a crm_mon 1 s
            now[0] += min(200 if argv[0] == "pcs" else 1, kwargs.get("timeout") or 200)
        if argv[:3] == ["pcs", "cluster", "setup"]:
            live_conf(tmp_path / "corosync.conf", "lustre-ha-cluster", N1)
        return original(argv, **kwargs)

    pacemaker.__salt__["cmd.run_all"] = slow_pcs
    ret = present(tmp_path, timeout=300)
    timeouts = [kw["timeout"] for argv, kw in live.cluster.calls if argv[0] == "pcs"]
    assert [argv[:3] for argv in live.cluster.argvs("pcs")] == [
        ["pcs", "host", "auth"],
        ["pcs", "cluster", "setup"],
    ]
    assert timeouts[0] <= 300 and timeouts[1] <= 100
    assert ret["result"] is False and "300s" in ret["comment"]
    assert set(ret["changes"]) == {"auth", "setup"}


def test_properties_report_what_was_set_when_reading_back_fails(live):
    queries = []
    original = live.cluster.__call__

    def second_query_fails(argv, **kwargs):
        if argv[:2] == ["cibadmin", "--query"]:
            queries.append(argv)
            if len(queries) == 2:
                return {"retcode": 1, "stdout": "", "stderr": "Connection to the CIB lost"}
        return original(argv, **kwargs)

    pacemaker.__salt__["cmd.run_all"] = second_query_fails
    ret = pacemaker_state.properties("cutover", properties={"maintenance-mode": False})
    assert live.cluster.argvs("pcs") == [["pcs", "property", "set", "maintenance-mode=false"]]
    assert ret["result"] is False and "`cibadmin --query` failed" in ret["comment"]
    assert ret["changes"] == {"maintenance-mode": {"old": "true", "new": "false"}}


def test_resource_defaults_report_what_was_set_before_a_partial_failure(live):
    """pcs 0.9 sets one default per command: a failure after the first leaves it set."""
    original = live.cluster.__call__

    def first_set_then_fail(argv, **kwargs):
        if argv[:3] == ["pcs", "resource", "defaults"]:
            live.cluster.cib_xml = live.cluster.cib_xml.replace(
                'name="resource-stickiness" value="1000"', 'name="resource-stickiness" value="5"'
            )
            return {"retcode": 1, "stdout": "", "stderr": "Error: CIB update failed"}
        return original(argv, **kwargs)

    pacemaker.__salt__["cmd.run_all"] = first_set_then_fail
    ret = pacemaker_state.resource_defaults(
        "defaults", defaults={"resource-stickiness": 5, "migration-threshold": 7}
    )
    assert ret["result"] is False and "CIB update failed" in ret["comment"]
    assert ret["changes"] == {"resource-stickiness": {"old": "1000", "new": "5"}}


def failing_cibadmin(tmp_path, monkeypatch, failing_modify):
    """A cibadmin first on PATH that runs the real one, except that its
    ``failing_modify``-th ``--modify`` fails without touching the CIB."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    stub = bindir / "cibadmin"
    counter = tmp_path / "modify-count"
    stub.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" --modify "*)\n'
        f"  n=$(( $(cat {counter} 2>/dev/null || echo 0) + 1 )); echo $n > {counter}\n"
        f'  [ $n -eq {failing_modify} ] && {{ echo "Call cib_modify failed (-62): Timer expired" >&2; exit 62; }};;\n'
        "esac\n"
        'exec /usr/sbin/cibadmin "$@"\n'
    )
    stub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/sbin:/usr/bin:/sbin:/bin")


@needs_tools
def test_fencing_reports_the_node_set_before_the_next_node_failed(
    states, restored, tmp_path, monkeypatch
):
    failing_cibadmin(tmp_path, monkeypatch, failing_modify=3)  # node 2's first update
    ret = states.pacemaker.fencing_attributes_restored(
        name=str(EL6_BACKUP), node_map=EL6_MAP, cib_file=str(restored)
    )
    assert ret.result is False and "`cibadmin --modify" in ret.comment
    assert "Timer expired" not in ret.comment  # its update carried passwords
    node1 = read(restored)["nodes"]
    assert [n for n in node1 if n["uname"] == N1][0]["attributes"].get("0_fence_agent")
    assert list(ret.changes) == [N1]
    assert ret.changes[N1]["set"][-1] == "0_fence_agent"
    assert "Fixture-" not in repr(ret.raw)
    assert N2 in ret.comment


def test_rebalanced_has_one_deadline_for_the_relocation_and_the_wait(live, monkeypatch):
    now = [7000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    monkeypatch.setattr(time, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    live.cluster.placements = [{t: [N1] for t in base.TARGETS}]
    original = live.cluster.__call__
    timeouts = {}

    def slow(argv, **kwargs):
        timeouts.setdefault(argv[0], []).append(kwargs["timeout"])
        now[0] += min(200 if argv[0] == "pcs" else 1, kwargs["timeout"])
        return original(argv, **kwargs)

    pacemaker.__salt__["cmd.run_all"] = slow
    ret = pacemaker_state.rebalanced("rebalance", timeout=300)
    assert ret["result"] is False  # 300 s less the reads and the relocation's 200 s:
    assert re.search(r"timed out after 9\d(\.\d)?s waiting for placement", ret["comment"])
    assert timeouts["pcs"][0] <= 300 and max(timeouts["crm_mon"][1:]) <= 100
    assert now[0] - 7000.0 <= 300
    # The relocation ran before the wait failed: the state says what it changed.
    assert sorted(ret["changes"]) == ["demo-MDT0000_802c1b", "demo-OST0001_c3d2f0"]
    assert all(c == {"old": [N1], "new": "relocating"} for c in ret["changes"].values())


def test_node_standby_has_one_deadline_for_the_standby_and_the_wait(live, monkeypatch):
    now = [9000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    monkeypatch.setattr(time, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    live.cluster.placements = [{t: [N1] for t in base.TARGETS}]
    original = live.cluster.__call__
    timeouts = []

    def slow_standby(argv, **kwargs):
        if argv[0] in ("pcs", "crm_mon"):
            timeouts.append((argv[0], kwargs["timeout"]))
            now[0] += min(110 if argv[0] == "pcs" else 1, kwargs["timeout"])
        return original(argv, **kwargs)

    pacemaker.__salt__["cmd.run_all"] = slow_standby
    ret = pacemaker_state.node_standby(N1, timeout=150)
    assert ret["result"] is False and "timed out after 40s" in ret["comment"]
    assert ret["changes"] == {"standby": {"old": False, "new": True}}
    assert timeouts[0] == ("pcs", 120) and all(t <= 40 for _, t in timeouts[1:])
    assert now[0] - 9000.0 <= 150


def test_resources_enabled_reports_the_enable_when_reading_back_fails(live):
    queries = []
    original = live.cluster.__call__

    def second_query_fails(argv, **kwargs):
        if argv[:2] == ["cibadmin", "--query"]:
            queries.append(argv)
            if len(queries) == 2:
                return {"retcode": 1, "stdout": "", "stderr": "Connection to the CIB lost"}
        return original(argv, **kwargs)

    pacemaker.__salt__["cmd.run_all"] = second_query_fails
    ret = pacemaker_state.resources_enabled("enable", resources=["MGS_32834e"])
    assert live.cluster.argvs("pcs") == [["pcs", "resource", "enable", "MGS_32834e"]]
    assert ret["result"] is False and ret["changes"] == {"enabled": ["MGS_32834e"]}
