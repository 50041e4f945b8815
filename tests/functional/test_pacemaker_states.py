"""The pacemaker states in Salt's real loader, on CIB files made at test time with the real
cibadmin/pcs (``cib_file``); the live-only states (cluster_present, placement_settled,
rebalanced, the waits of node_standby) with a recording cmd.run_all."""

import inspect
import os
import shutil
import subprocess
import tempfile
import time
from types import SimpleNamespace

import pytest
from lxml import etree

from _modules import corosync, pacemaker
from _states import pacemaker as pacemaker_state
from lustre_upgrade_lib import cib_restore
from tests.support import SUITE_FIXTURES

needs_tools = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("pcs", "cibadmin", "crm_diff", "crm_simulate")),
    reason="needs Debian packages pcs, pacemaker, pacemaker-cli-utils",
)

CLUSTER = SUITE_FIXTURES / "cluster"
EL6_BACKUP = CLUSTER / "el6-iml-cib-backup.xml"
N1, N2 = "ct6-mds1.lfs.intl", "ct6-mds2.lfs.intl"
EL6_MAP = {"ct6-mds1": N1, "ct6-mds2": N2}
TARGETS = ["MGS_32834e", "demo-MDT0000_802c1b", "demo-OST0000_4a7e91", "demo-OST0001_c3d2f0"]
PRIMARY = {
    "MGS_32834e": N1,
    "demo-MDT0000_802c1b": N2,
    "demo-OST0000_4a7e91": N1,
    "demo-OST0001_c3d2f0": N2,
}
SECRETS = ("Fixture-Fence-Secret-1", "Fixture-Fence-Secret-2", "Fixture-Ipmi-Secret")


def run(argv, cib_file=None):
    env = dict(os.environ)
    if cib_file:
        env["CIB_file"] = str(cib_file)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"{argv} exited {proc.returncode}: {proc.stderr}{proc.stdout}")
    return proc


def new_cib(path, *nodes):
    """An empty CIB from the real cibadmin, with ``nodes`` as a started cluster writes them."""
    path.write_text(run(["cibadmin", "--empty"]).stdout)
    for number, name in enumerate(nodes, start=1):
        run(
            ["cibadmin", "--create", "-o", "nodes", "-X", f'<node id="{number}" uname="{name}"/>'],
            path,
        )
    return path


def read(cib):
    return pacemaker.read_cib(str(cib))


def converges(call, cib, testmode):
    """The common contract: test=True predicts and changes nothing; the real run changes
    the file as predicted; the next run (in the same mode) reports no change."""
    original = cib.read_bytes()
    first = call(test=testmode)
    assert (first.result is None) is testmode, first.comment
    assert first.changes, first.comment
    if testmode:
        assert cib.read_bytes() == original
        applied = call(test=False)
        assert applied.result is True, applied.comment
        assert applied.changes == first.changes
    else:
        assert cib.read_bytes() != original
    again = call(test=testmode)
    assert again.result is True, again.comment
    assert again.changes == {}
    return first


@pytest.fixture
def cib(tmp_path):
    return new_cib(tmp_path / "cib.xml", N1, N2)


@pytest.fixture
def restored(cib, modules):
    """The two-node CIB after the restore of the EL6 backup (targets disabled)."""
    out = cib.parent / "restored.xml"
    modules.pacemaker.build_restore_cib(str(EL6_BACKUP), EL6_MAP, str(out), base=str(cib))
    shutil.copy(out, cib)
    return cib


# --------------------------------------------------------------------------- CIB settings


@needs_tools
def test_properties_are_set_as_predicted_once(states, cib, testmode):
    wanted = {
        "no-quorum-policy": "ignore",
        "stonith-enabled": True,
        "symmetric-cluster": True,
        "maintenance-mode": True,
    }
    first = converges(
        lambda **kw: states.pacemaker.properties(
            name="cluster-properties", properties=wanted, cib_file=str(cib), **kw
        ),
        cib,
        testmode,
    )
    expected = {"no-quorum-policy": "ignore"} | {
        k: "true" for k in ("stonith-enabled", "symmetric-cluster", "maintenance-mode")
    }
    assert first.changes == {k: {"old": None, "new": v} for k, v in expected.items()}
    got = read(cib)["properties"]
    assert {k: got[k] for k in expected} == expected


@needs_tools
def test_only_the_differing_property_is_changed(states, restored, testmode):
    ret = states.pacemaker.properties(
        name="cutover",
        properties={"maintenance-mode": False, "stonith-enabled": True},
        cib_file=str(restored),
        test=testmode,
    )
    assert ret.changes == {"maintenance-mode": {"old": "true", "new": "false"}}


@needs_tools
def test_resource_defaults_are_set_as_predicted_once(states, cib, testmode):
    wanted = {"resource-stickiness": 1000, "failure-timeout": "20m", "migration-threshold": 3}
    first = converges(
        lambda **kw: states.pacemaker.resource_defaults(
            name="rsc-defaults", defaults=wanted, cib_file=str(cib), **kw
        ),
        cib,
        testmode,
    )
    assert first.changes == {k: {"old": None, "new": str(v)} for k, v in wanted.items()}
    assert read(cib)["rsc_defaults"] == {k: str(v) for k, v in wanted.items()}


@needs_tools
def test_properties_not_a_mapping_fail_and_change_nothing(states, cib):
    original = cib.read_bytes()
    ret = states.pacemaker.properties(name="p", properties=["maintenance-mode"], cib_file=str(cib))
    assert ret.result is False
    assert "mapping" in ret.comment
    assert cib.read_bytes() == original


# --------------------------------------------------------------------------- cib_restored


def restore(states, cib, test=False, backup=EL6_BACKUP, node_map=None):
    return states.pacemaker.cib_restored(
        name=str(backup), node_map=node_map or EL6_MAP, cib_file=str(cib), test=test
    )


@needs_tools
def test_cib_restored_adds_every_target_disabled_in_maintenance_mode_in_one_patch(
    states, cib, testmode, tmp_path
):
    first = converges(lambda **kw: restore(states, cib, **kw), cib, testmode)
    assert first.changes["resources_added"] == TARGETS
    assert first.changes["stonith_added"] == ["st-fencing"]
    assert first.changes["constraints_added"] == sorted(
        f"{t}-{kind}" for t in TARGETS for kind in ("primary", "secondary")
    )
    assert first.changes["properties"]["maintenance-mode"] == {"old": None, "new": "true"}
    assert first.changes["rsc_defaults"]["migration-threshold"] == {"old": None, "new": "3"}
    assert "cli-ban" in first.comment  # the old cluster's moves are named, not copied

    got = read(cib)
    assert got["properties"]["maintenance-mode"] == "true"
    assert {r["id"]: r["meta"].get("target-role") for r in got["resources"]} == dict.fromkeys(
        TARGETS, "Stopped"
    )
    assert {
        loc["rsc"]: loc["node"] for loc in got["locations"] if loc["id"].endswith("-primary")
    } == PRIMARY
    # The cluster itself agrees: with both nodes up nothing starts.
    run(["crm_simulate", "-x", str(cib), "-S", "-u", N1, "-u", N2, "-O", str(tmp_path / "s.xml")])
    assert read(tmp_path / "s.xml")["placement"] == dict.fromkeys([*TARGETS, "st-fencing"], [])


@needs_tools
def test_cib_restored_then_cutover_on_a_file_starts_every_target_on_its_primary(
    states, cib, tmp_path
):
    assert restore(states, cib).result is True
    out = states.pacemaker.properties(
        name="cutover", properties={"maintenance-mode": False}, cib_file=str(cib)
    )
    assert out.result is True, out.comment
    enabled = states.pacemaker.resources_enabled(name="targets", cib_file=str(cib))
    assert enabled.changes == {"enabled": TARGETS}
    run(["crm_simulate", "-x", str(cib), "-S", "-u", N1, "-u", N2, "-O", str(tmp_path / "s.xml")])
    placement = read(tmp_path / "s.xml")["placement"]
    assert {t: placement[t] for t in TARGETS} == {t: [n] for t, n in PRIMARY.items()}
    # Running the restore phase again after the cutover changes nothing (no maintenance).
    again = restore(states, cib)
    assert again.result is True and again.changes == {}, again.comment
    assert read(cib)["properties"]["maintenance-mode"] == "false"


@needs_tools
def test_cib_restored_refuses_an_incomplete_restore_while_targets_are_enabled(
    states, restored, testmode
):
    run(["pcs", "-f", str(restored), "property", "set", "maintenance-mode=false"])
    run(["pcs", "-f", str(restored), "resource", "enable", TARGETS[0]])
    run(["cibadmin", "--delete", "-X", '<rsc_location id="MGS_32834e-secondary"/>'], restored)
    original = restored.read_bytes()
    ret = restore(states, restored, testmode)
    assert ret.result is False
    assert TARGETS[0] in ret.comment and "maintenance-mode" in ret.comment
    assert "MGS_32834e-secondary" in ret.comment
    assert ret.changes == {}
    assert restored.read_bytes() == original


@needs_tools
def test_cib_restored_completes_a_partial_restore_while_targets_are_disabled(states, restored):
    run(["cibadmin", "--delete", "-X", '<rsc_location id="MGS_32834e-secondary"/>'], restored)
    ret = restore(states, restored)
    assert ret.result is True, ret.comment
    assert ret.changes == {"constraints_added": ["MGS_32834e-secondary"]}


@needs_tools
@pytest.mark.parametrize(
    ("case", "named"),
    [
        ("backup missing", "no-such-backup.xml"),
        ("node missing from map", "ct6-mds2"),
        ("not a CIB", "corosync.xml"),
        ("not XML", "notes.txt"),
    ],
)
def test_cib_restored_bad_input_fails_naming_it_and_changes_nothing(
    states, cib, tmp_path, testmode, case, named
):
    backup, node_map = EL6_BACKUP, EL6_MAP
    if case == "backup missing":
        backup = tmp_path / named
    elif case == "node missing from map":
        node_map = {"ct6-mds1": N1}
    elif case == "not a CIB":
        backup = tmp_path / named
        backup.write_text("<corosync><totem/></corosync>")
    else:
        backup = tmp_path / named
        backup.write_text("totem {\n}\n")
    original = cib.read_bytes()
    ret = restore(states, cib, testmode, backup=backup, node_map=node_map)
    assert ret.result is False
    assert named in ret.comment
    assert ret.changes == {}
    assert cib.read_bytes() == original


# --------------------------------------------------------------------------- fencing


@needs_tools
def test_fencing_attributes_restored_names_attributes_never_passwords(states, restored, testmode):
    first = converges(
        lambda **kw: states.pacemaker.fencing_attributes_restored(
            name=str(EL6_BACKUP), node_map=EL6_MAP, cib_file=str(restored), **kw
        ),
        restored,
        testmode,
    )
    assert first.changes[N1]["set"][-1] == "0_fence_agent"
    assert first.changes[N2]["set"][-2:] == ["0_fence_agent", "1_fence_agent"]
    assert not any(secret in repr(first.raw) for secret in SECRETS)
    nodes = {n["uname"]: n["attributes"] for n in read(restored)["nodes"]}
    assert nodes[N2]["1_fence_agent"] == "fence_ipmilan"
    assert 'name="0_fence_password" value="Fixture-Fence-Secret-1"' in restored.read_text()


@needs_tools
def test_only_a_changed_fencing_attribute_is_set_again(states, restored):
    states.pacemaker.fencing_attributes_restored(
        name=str(EL6_BACKUP), node_map=EL6_MAP, cib_file=str(restored)
    )
    run(["pcs", "-f", str(restored), "node", "attribute", N1, "0_fence_password=changed"])
    ret = states.pacemaker.fencing_attributes_restored(
        name=str(EL6_BACKUP), node_map=EL6_MAP, cib_file=str(restored)
    )
    assert ret.changes == {N1: {"set": ["0_fence_password"]}}
    assert "changed" not in repr(ret.raw) and "Fixture-" not in repr(ret.raw)


@needs_tools
def test_fencing_for_a_node_not_in_the_cib_fails_before_any_change(states, tmp_path, testmode):
    cib = new_cib(tmp_path / "one-node.xml", N1)
    original = cib.read_bytes()
    ret = states.pacemaker.fencing_attributes_restored(
        name=str(EL6_BACKUP), node_map=EL6_MAP, cib_file=str(cib), test=testmode
    )
    assert ret.result is False
    assert N2 in ret.comment
    assert cib.read_bytes() == original


# --------------------------------------------------------------------------- nodes, resources


@needs_tools
def test_node_standby_then_online_on_a_file(states, restored, testmode):
    converges(
        lambda **kw: states.pacemaker.node_standby(name=N1, cib_file=str(restored), **kw),
        restored,
        testmode,
    )
    shown = run(["pcs", "-f", str(restored), "node", "attribute"]).stdout
    assert "standby=on" in shown
    converges(
        lambda **kw: states.pacemaker.node_online(name=N1, cib_file=str(restored), **kw),
        restored,
        testmode,
    )
    assert {n["uname"]: n["attributes"].get("standby") for n in read(restored)["nodes"]}[N1] in (
        None,
        "off",
    )


@needs_tools
def test_standby_of_an_unknown_node_names_it(states, cib):
    ret = states.pacemaker.node_standby(name="ct6-mds1", cib_file=str(cib))
    assert ret.result is False
    assert "ct6-mds1" in ret.comment and N1 in ret.comment


@needs_tools
def test_resources_enabled_then_disabled_on_a_file(states, restored, testmode):
    first = converges(
        lambda **kw: states.pacemaker.resources_enabled(name="t", cib_file=str(restored), **kw),
        restored,
        testmode,
    )
    assert first.changes == {"enabled": TARGETS}
    assert not any(r["meta"].get("target-role") == "Stopped" for r in read(restored)["resources"])
    first = converges(
        lambda **kw: states.pacemaker.resources_disabled(
            name="t", resources=TARGETS[:1], cib_file=str(restored), **kw
        ),
        restored,
        testmode,
    )
    assert first.changes == {"disabled": TARGETS[:1]}


@needs_tools
def test_resources_enabled_fails_on_unknown_ids_and_on_a_cib_without_targets(states, cib):
    ret = states.pacemaker.resources_enabled(name="t", resources=["nope"], cib_file=str(cib))
    assert ret.result is False and "nope" in ret.comment
    ret = states.pacemaker.resources_enabled(name="t", cib_file=str(cib))
    assert ret.result is False and "cib_restored" in ret.comment


def test_every_state_takes_cib_file_where_it_can_work_offline():
    offline = {
        "properties",
        "resource_defaults",
        "cib_restored",
        "node_standby",
        "node_online",
        "resources_enabled",
        "resources_disabled",
        "fencing_attributes_restored",
    }
    public = {
        name
        for name, fn in vars(pacemaker_state).items()
        if inspect.isfunction(fn) and not name.startswith("_")
    }
    takes = {
        n for n in public if "cib_file" in inspect.signature(getattr(pacemaker_state, n)).parameters
    }
    assert takes == offline


# --------------------------------------------------------------------------- live, recorded


def mon(placement, online=()):
    nodes = "".join(
        f'<node name="{n}" id="{i}" online="true" standby="false"/>'
        for i, n in enumerate(online, 1)
    )
    resources = "".join(
        f'<resource id="{rsc}" resource_agent="ocf:chroma:Target" role="Started">'
        + "".join(f'<node name="{n}" id="1"/>' for n in nodes)
        + "</resource>"
        for rsc, nodes in placement.items()
    )
    return (
        '<pacemaker-result><summary><current_dc present="true"/></summary>'
        f"<nodes>{nodes}</nodes><resources>{resources}</resources></pacemaker-result>"
    )


class Cluster:
    """cmd.run_all stand-in for a live cluster: the CIB, crm_mon placements in turn, and
    every call recorded."""

    def __init__(self, cib_xml):
        self.cib_xml = cib_xml
        self.placements = []
        self.crm_mon_fails = False
        self.calls = []
        self.joined = []
        self.enabled = set()  # units enabled at boot (service.enabled)
        self.failing = {}  # argv prefix (tuple) -> stderr: that command fails

    def __call__(self, argv, **kwargs):
        self.calls.append((argv, kwargs))
        for prefix, stderr in self.failing.items():
            if tuple(argv[: len(prefix)]) == prefix:
                return {"retcode": 1, "stdout": "", "stderr": stderr}
        if argv[:3] == ["pcs", "cluster", "enable"]:
            self.enabled |= {"corosync", "pacemaker"}
        if argv[:2] == ["cibadmin", "--query"]:
            return {"retcode": 0, "stdout": self.cib_xml, "stderr": ""}
        if argv[:3] == ["pcs", "node", "standby"]:
            self.set_standby(argv[3])
        if argv[:4] == ["pcs", "cluster", "node", "add"]:
            self.joined.append(argv[4])
        if argv[0] == "crm_mon":
            if self.crm_mon_fails:
                return {"retcode": 102, "stdout": "", "stderr": "Not connected"}
            placement = self.placements.pop(0) if len(self.placements) > 1 else self.placements[0]
            return {"retcode": 0, "stdout": mon(placement, self.members()), "stderr": ""}
        return {"retcode": 0, "stdout": "", "stderr": ""}

    def members(self):
        return etree.fromstring(self.cib_xml.encode()).xpath("//nodes/node/@uname") + self.joined

    def set_standby(self, uname):
        root = etree.fromstring(self.cib_xml.encode())
        node = root.xpath("//nodes/node[@uname=$u]", u=uname)[0]
        node.append(
            etree.fromstring(
                f'<instance_attributes id="nodes-{uname}"><nvpair id="nodes-{uname}-standby" '
                'name="standby" value="on"/></instance_attributes>'
            )
        )
        self.cib_xml = etree.tostring(root, encoding="unicode")

    def argvs(self, first=None):
        return [argv for argv, _ in self.calls if first is None or argv[0] == first]


def restored_xml():
    base = etree.parse(str(CLUSTER / "new-cluster-cib.xml")).getroot()
    backup = etree.parse(str(EL6_BACKUP)).getroot()
    root, _ = cib_restore.restore_cib(backup, EL6_MAP, base)
    return etree.tostring(root, encoding="unicode")


@pytest.fixture
def live(monkeypatch):
    """The state module wired to the execution module, over a recorded cmd.run_all."""
    cluster = Cluster(restored_xml())
    pillar = {"lustre_upgrade": {"secrets": {"hacluster_password": "Pillar-Hacluster-Secret"}}}
    opts = {"test": False}
    monkeypatch.setattr(pacemaker, "__salt__", {"cmd.run_all": cluster}, raising=False)
    monkeypatch.setattr(pacemaker, "__context__", {"pacemaker.dialect": "0.10"}, raising=False)
    monkeypatch.setattr(time, "sleep", lambda _: None)
    functions = {
        f"pacemaker.{name}": fn
        for name, fn in vars(pacemaker).items()
        if inspect.isfunction(fn) and not name.startswith("_")
    }
    functions["corosync.read_conf"] = corosync.read_conf
    functions["corosync.exists"] = corosync.exists
    functions["service.enabled"] = lambda unit: unit in cluster.enabled
    monkeypatch.setattr(pacemaker_state, "__salt__", functions, raising=False)
    monkeypatch.setattr(pacemaker_state, "__pillar__", pillar, raising=False)
    monkeypatch.setattr(pacemaker_state, "__opts__", opts, raising=False)
    return SimpleNamespace(cluster=cluster, pillar=pillar, opts=opts)


def test_placement_settled_defaults_to_every_target_on_its_primary(live):
    live.cluster.placements = [{t: [N1] for t in TARGETS}, {t: [n] for t, n in PRIMARY.items()}]
    live.opts["test"] = True
    ret = pacemaker_state.placement_settled("settled")
    assert ret["result"] is None and ret["changes"] == {}
    assert f"demo-MDT0000_802c1b on {N2} (now {N1})" in ret["comment"]
    live.opts["test"] = False
    ret = pacemaker_state.placement_settled("settled")
    assert ret["result"] is True and ret["changes"] == {}
    assert not live.cluster.argvs("pcs")  # a check only: nothing changed


def test_placement_settled_times_out_with_what_to_do(live, monkeypatch):
    clock = iter(range(0, 10000, 10))
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    live.cluster.placements = [{"MGS_32834e": []}]
    ret = pacemaker_state.placement_settled("s", expected={"MGS_32834e": N1}, timeout=30)
    assert ret["result"] is False
    assert "timed out after 30s" in ret["comment"] and "pcs status" in ret["comment"]


def test_rebalanced_relocates_only_the_misplaced_targets_then_waits(live):
    everything_on_n1 = {t: [N1] for t in TARGETS}
    live.cluster.placements = [everything_on_n1]
    live.opts["test"] = True
    ret = pacemaker_state.rebalanced("rebalance")
    moved = ["demo-MDT0000_802c1b", "demo-OST0001_c3d2f0"]
    assert ret["result"] is None
    assert ret["changes"] == {t: {"old": [N1], "new": [N2]} for t in moved}
    assert not live.cluster.argvs("pcs")

    live.opts["test"] = False
    live.cluster.placements = [
        everything_on_n1,
        everything_on_n1,
        {t: [n] for t, n in PRIMARY.items()},
    ]
    ret = pacemaker_state.rebalanced("rebalance")
    assert ret["result"] is True, ret["comment"]
    assert live.cluster.argvs("pcs") == [["pcs", "resource", "relocate", "run", *moved]]
    assert ret["changes"] == {t: {"old": [N1], "new": [N2]} for t in moved}
    # The CIB holds fencing passwords: reading it never logs cibadmin's output.
    queries = [kw for argv, kw in live.cluster.calls if argv[:2] == ["cibadmin", "--query"]]
    assert queries and all(kw["output_loglevel"] == "quiet" for kw in queries)

    live.cluster.calls.clear()
    again = pacemaker_state.rebalanced("rebalance")
    assert again["result"] is True and again["changes"] == {}
    assert not live.cluster.argvs("pcs")


def test_rebalanced_refuses_while_a_preferred_node_is_in_standby(live):
    live.cluster.set_standby(N1)
    live.cluster.placements = [{t: [N2] for t in TARGETS}]
    ret = pacemaker_state.rebalanced("rebalance")
    assert ret["result"] is False and N1 in ret["comment"] and "node_online" in ret["comment"]
    assert not live.cluster.argvs("pcs")


def test_live_standby_waits_until_the_node_runs_nothing_and_waits_again_on_rerun(live):
    live.cluster.placements = [{t: [N1] for t in TARGETS}, {t: [N2] for t in TARGETS}]
    ret = pacemaker_state.node_standby(N1)
    assert ret["result"] is True and ret["changes"] == {"standby": {"old": False, "new": True}}
    assert ["pcs", "node", "standby", N1] in live.cluster.argvs("pcs")
    assert len(live.cluster.argvs("crm_mon")) == 2

    # A rerun: standby is set but a target still runs there (a slow stop): wait, no change.
    live.cluster.calls.clear()
    live.cluster.placements = [{"MGS_32834e": [N1]}, {"MGS_32834e": [N1]}, {"MGS_32834e": [N2]}]
    ret = pacemaker_state.node_standby(N1)
    assert ret["result"] is True and ret["changes"] == {}
    assert not live.cluster.argvs("pcs")


COROSYNC_EL6 = """totem {
  version: 2
  token: 5000
  rrp_mode: active
  interface {
    ringnumber: 0
    bindnetaddr: 10.128.0.0
    mcastaddr: 226.94.0.1
    mcastport: 40015
  }
}
"""


def live_conf(path, name, *nodes):
    entries = "".join(
        f"  node {{\n    ring0_addr: {n}\n    name: {n}\n    nodeid: {i}\n  }}\n"
        for i, n in enumerate(nodes, start=1)
    )
    path.write_text(
        f"totem {{\n  version: 2\n  cluster_name: {name}\n  transport: knet\n}}\n"
        f"nodelist {{\n{entries}}}\n"
    )
    return path


def present(tmp_path, **kwargs):
    backup = tmp_path / "corosync.conf.bck"
    backup.write_text(COROSYNC_EL6)
    args = {
        "name": "lustre-ha-cluster",
        "nodes": [N1],
        "corosync_conf": str(backup),
        "rings": {N1: ["10.128.0.21"]},
        "live_conf": str(tmp_path / "corosync.conf"),
    } | kwargs
    return pacemaker_state.cluster_present(**args)


def test_cluster_present_authenticates_with_the_pillar_secret_on_stdin_sets_up_and_starts(
    live, tmp_path
):
    live.cluster.crm_mon_fails = True
    live.opts["test"] = True
    planned = present(tmp_path)
    assert planned["result"] is None and not live.cluster.argvs("pcs")
    assert "Pillar-Hacluster-Secret" not in repr(planned)

    live.opts["test"] = False
    original_call = live.cluster.__call__

    def setup_writes_conf(argv, **kwargs):
        if argv[:3] == ["pcs", "cluster", "setup"]:
            live_conf(tmp_path / "corosync.conf", "lustre-ha-cluster", N1)
        if argv[:3] == ["pcs", "cluster", "start"]:
            live.cluster.crm_mon_fails = False
        return original_call(argv, **kwargs)

    live.cluster.placements = [{}]
    pacemaker.__salt__["cmd.run_all"] = setup_writes_conf
    ret = present(tmp_path)
    assert ret["result"] is True, ret["comment"]
    pcs = live.cluster.argvs("pcs")
    assert pcs[0] == ["pcs", "host", "auth", N1, "-u", "hacluster"]
    assert pcs[1][:4] == ["pcs", "cluster", "setup", "lustre-ha-cluster"]
    assert pcs[1][4:6] == [N1, "addr=10.128.0.21"]
    assert pcs[2:] == [["pcs", "cluster", "start"], ["pcs", "cluster", "enable"]]
    auth_kwargs = live.cluster.calls[[a for a, _ in live.cluster.calls].index(pcs[0])][1]
    assert auth_kwargs["stdin"] == "Pillar-Hacluster-Secret\n"
    assert auth_kwargs["output_loglevel"] == "quiet"
    assert ret["changes"] == planned["changes"]
    assert "Pillar-Hacluster-Secret" not in repr(ret) + repr([a for a, _ in live.cluster.calls])

    live.cluster.calls.clear()
    again = present(tmp_path)
    assert again["result"] is True and again["changes"] == {}
    assert not live.cluster.argvs("pcs")


def test_cluster_present_adds_node_2_to_the_existing_cluster(live, tmp_path):
    live_conf(tmp_path / "corosync.conf", "lustre-ha-cluster", N1)
    live.cluster.enabled = {"corosync", "pacemaker"}  # node 1, set up earlier
    live.cluster.placements = [{}]
    original_call = live.cluster.__call__

    def node_add_writes_conf(argv, **kwargs):
        if argv[:4] == ["pcs", "cluster", "node", "add"]:
            live_conf(tmp_path / "corosync.conf", "lustre-ha-cluster", N1, N2)
        return original_call(argv, **kwargs)

    pacemaker.__salt__["cmd.run_all"] = node_add_writes_conf
    ret = present(tmp_path, nodes=[N1, N2], rings={N1: ["10.128.0.21"], N2: ["10.128.0.22"]})
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"] == {"auth": [N1, N2], "added": [N2]}
    assert live.cluster.argvs("pcs") == [
        ["pcs", "host", "auth", N1, N2, "-u", "hacluster"],
        ["pcs", "cluster", "node", "add", N2, "addr=10.128.0.22", "--start", "--enable"],
    ]


def test_cluster_present_never_replaces_another_cluster(live, tmp_path):
    live_conf(tmp_path / "corosync.conf", "old-cluster", N1)
    live.cluster.placements = [{}]
    ret = present(tmp_path)
    assert ret["result"] is False and "old-cluster" in ret["comment"]
    assert not live.cluster.argvs("pcs")


def test_cluster_present_without_the_pillar_secret_names_the_key(live, tmp_path):
    live.pillar.clear()
    live.cluster.crm_mon_fails = True
    ret = present(tmp_path)
    assert ret["result"] is False
    assert "lustre_upgrade:secrets:hacluster_password" in ret["comment"]
    assert not live.cluster.argvs("pcs")


class FileBackedCluster:
    """cmd.run_all that runs the real tools with CIB_file set: the live code path (no
    ``cib_file`` argument) against a CIB file standing in for the cluster."""

    def __init__(self, cib):
        self.cib = cib
        self.calls = []

    def __call__(self, argv, stdin=None, env=None, **kwargs):
        self.calls.append(argv)
        proc = subprocess.run(
            argv,
            input=stdin,
            env={**os.environ, **(env or {}), "CIB_file": str(self.cib)},
            capture_output=True,
            text=True,
            check=False,
        )
        return {"retcode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


@needs_tools
def test_live_cib_restored_pushes_one_cibadmin_patch_and_leaves_no_copy(live, cib, monkeypatch):
    """Without cib_file the state saves the live CIB (cibadmin --query), builds and diffs
    offline, and changes the cluster with a single cibadmin --patch; its private copies
    (they hold fencing passwords) are removed."""
    cluster = FileBackedCluster(cib)
    pacemaker.__salt__["cmd.run_all"] = cluster
    scratch = cib.parent / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    live.opts["test"] = True
    planned = pacemaker_state.cib_restored(str(EL6_BACKUP), EL6_MAP)
    assert planned["result"] is None
    assert not [argv for argv in cluster.calls if "--patch" in argv]
    live.opts["test"] = False
    ret = pacemaker_state.cib_restored(str(EL6_BACKUP), EL6_MAP)
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"] == planned["changes"]
    writes = [argv for argv in cluster.calls if argv[0] == "pcs" or "--query" not in argv]
    assert [argv[:2] for argv in writes if argv[0] == "cibadmin"] == [["cibadmin", "--patch"]]
    assert all(argv[0] in ("cibadmin", "crm_diff") for argv in cluster.calls)
    assert list(scratch.iterdir()) == []
    assert read(cib)["properties"]["maintenance-mode"] == "true"
    again = pacemaker_state.cib_restored(str(EL6_BACKUP), EL6_MAP)
    assert again["result"] is True and again["changes"] == {}
