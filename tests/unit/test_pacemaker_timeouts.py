"""Every command has a timeout; every wait has one overall deadline that its polls share."""

import time

import pytest
from salt.exceptions import CommandExecutionError

from _modules import corosync, pacemaker
from tests.unit.test_pacemaker_live import EL6_BACKUP, EL6_MAP, NODES, Recorder, mon

EMPTY_CIB = (
    '<cib><configuration><crm_config/><nodes><node id="1" uname="ct6-mds1.lfs.intl"/>'
    '<node id="2" uname="ct6-mds2.lfs.intl"/></nodes><resources/><constraints/>'
    "</configuration><status/></cib>"
)


class Answering(Recorder):
    """Answers by command: the CIB to cibadmin --query, crm_mon XML to crm_mon."""

    def __call__(self, argv, **kwargs):
        self.calls.append((argv, kwargs))
        if argv[:2] == ["cibadmin", "--query"]:
            out = NODES if "nodes" in argv else EMPTY_CIB
        elif argv[:2] == ["cibadmin", "--empty"]:
            out = EMPTY_CIB
        elif argv[0] == "crm_mon":
            out = mon({})
        elif argv[:2] == ["pcs", "--version"]:
            out = "0.11.5\nnode.attributes" if "--full" in argv else "0.11.5"
        else:
            out = ""
        return {"retcode": 0, "stdout": out, "stderr": ""}


@pytest.fixture
def run_all(monkeypatch):
    recorder = Answering()
    monkeypatch.setattr(pacemaker, "__salt__", {"cmd.run_all": recorder}, raising=False)
    monkeypatch.setattr(pacemaker, "__context__", {}, raising=False)
    monkeypatch.setattr(corosync, "__salt__", {"cmd.run_all": recorder}, raising=False)
    return recorder


def test_every_command_runs_with_a_timeout(run_all, tmp_path):
    d = "0.10"
    pacemaker.detect_dialect()
    pacemaker.read_cib()
    pacemaker.save_cib(str(tmp_path / "live.xml"))
    pacemaker.build_restore_cib(str(EL6_BACKUP), EL6_MAP, str(tmp_path / "r.xml"))
    pacemaker.diff_cib("/a.xml", "/b.xml")
    pacemaker.patch_cib("/p.xml")
    pacemaker.push_cib("/r.xml", dialect=d)
    pacemaker.set_properties({"stonith-enabled": "true"}, dialect=d)
    pacemaker.set_maintenance_mode(True, dialect=d)
    pacemaker.set_resource_defaults(dialect=d)
    pacemaker.set_node_attributes("ct6-mds1.lfs.intl", {"0_fence_plug": "a"})
    pacemaker.apply_fencing_attributes(str(EL6_BACKUP), EL6_MAP, dialect=d)
    pacemaker.enable_resources(["t1"], dialect=d)
    pacemaker.disable_resources(["t1"], dialect=d)
    pacemaker.standby("a", wait=False, dialect=d)
    pacemaker.unstandby("a", dialect=d)
    pacemaker.status(dialect=d)
    pacemaker.membership(dialect=d)
    pacemaker.auth(["a"], "pw", dialect=d)
    pacemaker.cluster("start", dialect=d)
    pacemaker.relocate("show", dialect=d)
    corosync.ring_status()
    untimed = [argv for argv, kwargs in run_all.calls if not kwargs.get("timeout")]
    assert untimed == []
    assert len({argv[0] for argv, _ in run_all.calls}) >= 5


def test_push_and_patch_take_a_timeout(run_all):
    pacemaker.push_cib("/r.xml", dialect="0.10", timeout=42)
    pacemaker.patch_cib("/p.xml", timeout=43)
    assert [kwargs["timeout"] for _, kwargs in run_all.calls] == [42, 43]


def test_a_command_that_timed_out_is_named_with_its_limit(monkeypatch):
    def times_out(argv, **kwargs):  # what Salt's cmd.run_all returns when it kills a command
        return {
            "retcode": 1,
            "stdout": f"{argv} : Timed out after {kwargs['timeout']} seconds",
            "stderr": "",
        }

    monkeypatch.setattr(pacemaker, "__salt__", {"cmd.run_all": times_out}, raising=False)
    with pytest.raises(
        CommandExecutionError, match=r"`cibadmin --patch .*` did not finish within 7s"
    ):
        pacemaker.patch_cib("/p.xml", timeout=7)


class Clock:
    """A monotonic clock that each crm_mon run advances by ``per_poll`` seconds."""

    def __init__(self, per_poll):
        self.now = 1000.0
        self.per_poll = per_poll

    def __call__(self):
        return self.now


def test_each_poll_gets_only_the_time_left_and_the_wait_ends_at_its_deadline(monkeypatch):
    clock = Clock(per_poll=4)
    timeouts = []

    def crm_mon(argv, **kwargs):
        timeouts.append(kwargs["timeout"])
        clock.now += min(clock.per_poll, kwargs["timeout"])
        return {"retcode": 0, "stdout": mon({"t1": ["b"]}), "stderr": ""}

    monkeypatch.setattr(pacemaker, "__salt__", {"cmd.run_all": crm_mon}, raising=False)
    monkeypatch.setattr(time, "monotonic", clock)
    monkeypatch.setattr(time, "sleep", lambda s: setattr(clock, "now", clock.now + s))
    with pytest.raises(CommandExecutionError, match=r"timed out after 10s .*'t1': \['b'\]"):
        pacemaker.wait_for_placement({"t1": "a"}, timeout=10, interval=1, dialect="0.10")
    assert timeouts == [10, 5]  # 10 s left, then 5 (4 s in the first poll, 1 s asleep)
    assert clock.now - 1000.0 <= 10 + 1e-9


def test_a_poll_that_hangs_past_the_deadline_ends_the_wait_with_a_clear_message(monkeypatch):
    clock = Clock(per_poll=0)

    def hangs(argv, **kwargs):
        clock.now += kwargs["timeout"]
        return {
            "retcode": 1,
            "stdout": f"{argv} : Timed out after {kwargs['timeout']} seconds",
            "stderr": "",
        }

    monkeypatch.setattr(pacemaker, "__salt__", {"cmd.run_all": hangs}, raising=False)
    monkeypatch.setattr(time, "monotonic", clock)
    monkeypatch.setattr(time, "sleep", lambda s: setattr(clock, "now", clock.now + s))
    with pytest.raises(CommandExecutionError) as err:
        pacemaker.wait_for_placement({"t1": "a"}, timeout=5, dialect="0.10")
    assert "timed out after 5s waiting for placement" in str(err.value)
    assert "crm_mon" in str(err.value) and "did not finish" in str(err.value)
    assert clock.now - 1000.0 <= 5 + 1e-9
