"""Live functions with a recording cmd.run_all: argv, stdin, log level, waits, errors."""

import re
import subprocess
import sys
import time

import pytest
from salt.exceptions import CommandExecutionError

from _modules import pacemaker
from tests.support import REAL_FIXTURES, REPO_ROOT, SUITE_FIXTURES

EL6_BACKUP = SUITE_FIXTURES / "cluster" / "el6-iml-cib-backup.xml"
EL6_MAP = {"ct6-mds1": "ct6-mds1.lfs.intl", "ct6-mds2": "ct6-mds2.lfs.intl"}


class Recorder:
    """cmd.run_all stand-in: answers from a list of (retcode, stdout), records each call."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, argv, **kwargs):
        self.calls.append((argv, kwargs))
        retcode, stdout = self.answers.pop(0) if self.answers else (0, "")
        return {"retcode": retcode, "stdout": stdout, "stderr": "" if retcode == 0 else "boom"}


@pytest.fixture
def run_all(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(pacemaker, "__salt__", {"cmd.run_all": recorder}, raising=False)
    monkeypatch.setattr(pacemaker, "__context__", {}, raising=False)
    return recorder


def test_auth_gives_the_password_on_stdin_and_logs_nothing(run_all):
    ret = pacemaker.auth(["a.example", "b.example"], "s3cret", dialect="0.10")
    argv, kwargs = run_all.calls[0]
    assert argv == ["pcs", "host", "auth", "a.example", "b.example", "-u", "hacluster"]
    assert kwargs["stdin"] == "s3cret\n"
    assert kwargs["output_loglevel"] == "quiet"
    assert kwargs["python_shell"] is False
    assert "s3cret" not in repr(ret) and "s3cret" not in repr(argv)


NODES = """<nodes>
  <node id="1" uname="ct6-mds1.lfs.intl"/>
  <node id="2" uname="ct6-mds2.lfs.intl">
    <instance_attributes id="nodes-2">
      <nvpair id="nodes-2-0_fence_plug" name="0_fence_plug" value="old"/>
    </instance_attributes>
  </node>
</nodes>"""


def test_node_attributes_travel_on_stdin_never_on_the_command_line(run_all):
    run_all.answers.append((0, NODES))
    ret = pacemaker.set_node_attributes(
        "ct6-mds1.lfs.intl", [["0_fence_password", "s3cret"], ["0_fence_plug", "a"]]
    )
    (query, _), (modify, kwargs) = run_all.calls
    assert query == ["cibadmin", "--query", "--scope", "nodes"]
    assert modify == ["cibadmin", "--modify", "--scope", "nodes", "--xml-pipe"]
    assert kwargs["output_loglevel"] == "quiet"
    assert 'value="s3cret"' in kwargs["stdin"]
    assert "s3cret" not in repr(run_all.calls[0]) + repr(modify) + repr(ret)
    assert ret == {
        "node": "ct6-mds1.lfs.intl",
        "attributes": [["0_fence_password", "********"], ["0_fence_plug", "a"]],
    }


def test_an_existing_attribute_keeps_its_id_and_block(run_all):
    run_all.answers.append((0, NODES))
    pacemaker.set_node_attributes(
        "ct6-mds2.lfs.intl", {"0_fence_plug": "new", "0_fence_agent": "x"}
    )
    stdin = run_all.calls[1][1]["stdin"]
    assert stdin == (
        '<node id="2" uname="ct6-mds2.lfs.intl"><instance_attributes id="nodes-2">'
        '<nvpair id="nodes-2-0_fence_plug" name="0_fence_plug" value="new"/>'
        '<nvpair id="nodes-2-0_fence_agent" name="0_fence_agent" value="x"/>'
        "</instance_attributes></node>"
    )


def test_a_failed_update_names_no_secret(run_all):
    run_all.answers += [(0, NODES), (1, "")]
    with pytest.raises(CommandExecutionError) as err:
        pacemaker.set_node_attributes("ct6-mds1.lfs.intl", {"0_fence_password": "s3cret"})
    assert "s3cret" not in str(err.value)


def test_an_unknown_node_is_named_before_anything_changes(run_all):
    run_all.answers.append((0, NODES))
    with pytest.raises(CommandExecutionError, match="node nosuch is not in the CIB"):
        pacemaker.set_node_attributes("nosuch", {"0_fence_plug": "a"})
    assert len(run_all.calls) == 1


def test_a_plain_attribute_is_logged_normally(run_all):
    run_all.answers.append((0, NODES))
    pacemaker.set_node_attributes("ct6-mds1.lfs.intl", {"0_fence_plug": "a"})
    assert "output_loglevel" not in run_all.calls[1][1]


def test_fencing_attributes_are_applied_per_node_agent_last(run_all):
    run_all.answers += [(0, NODES), (0, ""), (0, NODES), (0, ""), (0, NODES), (0, ""), (0, NODES)]
    ret = pacemaker.apply_fencing_attributes(str(EL6_BACKUP), EL6_MAP)
    updates = [kwargs["stdin"] for argv, kwargs in run_all.calls if "--modify" in argv]
    names = [re.findall(r' name="([^"]+)"', update) for update in updates]
    assert names == [
        ["0_fence_ipaddr", "0_fence_ipport", "0_fence_login", "0_fence_password", "0_fence_plug"],
        ["0_fence_agent"],
        [
            "0_fence_ipaddr",
            "0_fence_ipport",
            "0_fence_login",
            "0_fence_password",
            "0_fence_plug",
            "1_fence_ipaddr",
            "1_fence_login",
            "1_fence_password",
        ],
        ["0_fence_agent", "1_fence_agent"],
    ]
    assert 'uname="ct6-mds1.lfs.intl"' in updates[0] and 'uname="ct6-mds2.lfs.intl"' in updates[2]
    assert "Fixture-" not in repr(ret)
    assert not any("Fixture-" in repr(argv) for argv, _ in run_all.calls)


def test_status_reads_crm_mon_xml(run_all):
    fixture = REAL_FIXTURES / "iml" / "vagrant_fixture.xml"
    if not fixture.exists():
        pytest.skip("real artifacts absent")
    run_all.answers.append((0, fixture.read_text()))
    got = pacemaker.status(dialect="0.9")
    assert run_all.calls[0][0] == ["crm_mon", "--one-shot", "--inactive", "--as-xml"]
    assert got["placement"]["ost8"] == ["oss1.local"]


def test_status_falls_back_to_as_xml_on_an_early_pacemaker_2(run_all):
    run_all.answers += [(64, ""), (0, "<crm_mon version='2.0.1'><nodes/></crm_mon>")]
    pacemaker.status(dialect="0.10")
    assert [argv for argv, _ in run_all.calls] == [
        ["crm_mon", "--one-shot", "--inactive", "--output-as=xml"],
        ["crm_mon", "--one-shot", "--inactive", "--as-xml"],
    ]


def mon(placement):
    resources = "".join(
        f'<resource id="{rsc}" resource_agent="ocf:chroma:Target" role="Started">'
        + "".join(f'<node name="{n}" id="1"/>' for n in nodes)
        + "</resource>"
        for rsc, nodes in placement.items()
    )
    return f"<pacemaker-result><resources>{resources}</resources></pacemaker-result>"


def test_wait_for_placement_polls_until_every_resource_is_where_expected(run_all, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda _: None)
    run_all.answers += [
        (0, mon({"t1": ["b"], "t2": []})),
        (0, mon({"t1": ["a", "b"], "t2": []})),
        (0, mon({"t1": ["a"], "t2": []})),
    ]
    got = pacemaker.wait_for_placement({"t1": "a", "t2": None}, dialect="0.10")
    assert got == {"t1": ["a"], "t2": []}
    assert len(run_all.calls) == 3


def test_wait_for_placement_times_out_with_the_last_state(run_all, monkeypatch):
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(time, "sleep", lambda _: None)
    run_all.answers += [(0, mon({"t1": ["b"]}))] * 10
    with pytest.raises(CommandExecutionError, match=r"timed out after 30s.*'t1': \['b'\]"):
        pacemaker.wait_for_placement({"t1": "a"}, timeout=30, dialect="0.10")


def test_standby_waits_until_the_node_runs_nothing(run_all, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda _: None)
    run_all.answers += [(0, ""), (0, mon({"t1": ["a"]})), (0, mon({"t1": ["b"]}))]
    pacemaker.standby("a", dialect="0.9")
    assert run_all.calls[0][0] == ["pcs", "cluster", "standby", "a"]
    assert len(run_all.calls) == 3


def test_a_failing_command_is_an_error_with_its_stderr(run_all):
    run_all.answers.append((1, ""))
    with pytest.raises(
        CommandExecutionError, match=r"`pcs resource enable t1` failed \(exit 1\): boom"
    ):
        pacemaker.enable_resources(["t1"], dialect="0.10")


def test_diff_cib_treats_exit_1_as_differences(run_all):
    run_all.answers += [(1, "<diff/>"), (0, "")]
    assert pacemaker.diff_cib("/a", "/b") == "<diff/>"
    assert pacemaker.diff_cib("/a", "/a") == ""


def test_live_helpers_pass_argv_lists_never_shell_strings(run_all):
    pacemaker.set_maintenance_mode(False, dialect="0.12")
    pacemaker.relocate("show", dialect="0.12")
    pacemaker.push_cib("/r.xml", dialect="0.12")
    pacemaker.cluster("start", dialect="0.12")
    pacemaker.node_add("b", ["10.0.0.2"], dialect="0.12")
    pacemaker.unstandby("a", dialect="0.12")
    pacemaker.patch_cib("/p.xml")
    for argv, kwargs in run_all.calls:
        assert isinstance(argv, list) and kwargs["python_shell"] is False
    assert run_all.calls[4][0] == ["pcs", "cluster", "node", "add", "b", "addr=10.0.0.2", "--start"]


def test_read_cib_without_a_path_queries_the_live_cib(run_all):
    run_all.answers.append(
        (0, "<cib><configuration><nodes><node id='1' uname='a'/></nodes></configuration></cib>")
    )
    assert pacemaker.read_cib()["nodes"] == [{"id": "1", "uname": "a", "attributes": {}}]
    assert run_all.calls[0][0] == ["cibadmin", "--query"]


@pytest.mark.parametrize(
    ("module", "missing", "hint"),
    [
        ("_modules.pacemaker", "lxml", "install python3-lxml"),
        ("_states.pacemaker", "lxml", "install python3-lxml"),
        ("_modules.pacemaker", "lustre_upgrade_lib", "saltutil.sync_all"),
        ("_states.pacemaker", "lustre_upgrade_lib", "saltutil.sync_all"),
        ("_modules.corosync", "lustre_upgrade_lib", "saltutil.sync_all"),
    ],
)
def test_a_missing_dependency_keeps_the_module_out_and_says_how_to_install_it(
    module, missing, hint
):
    script = f"""
import importlib, sys
sys.path[:0] = [{str(REPO_ROOT)!r}, {str(REPO_ROOT / "_utils")!r}]

class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {missing!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, Missing())
loaded = importlib.import_module({module!r})
loaded.__salt__ = {{"pacemaker.read_cib": None}}
print(loaded.__virtual__())
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("(False, ") and missing in res.stdout and hint in res.stdout
