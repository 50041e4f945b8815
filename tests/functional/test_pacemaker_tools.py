"""The pacemaker module against the real tools: pcs 0.11 (dialect "0.10"), cibadmin,
crm_verify, crm_simulate, crm_mon and crm_diff on CIB files (no cluster, no daemon)."""

import os
import shutil
import subprocess

import jinja2
import pytest
from lxml import etree

from _modules import corosync, pacemaker
from tests.support import REAL_FIXTURES, SUITE_FIXTURES, real_fixture_params

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("pcs", "cibadmin", "crm_simulate", "crm_verify")),
    reason="needs Debian packages pcs, pacemaker, pacemaker-cli-utils",
)

CLUSTER = SUITE_FIXTURES / "cluster"
EL6_BACKUP = CLUSTER / "el6-iml-cib-backup.xml"
EL7_BACKUP = CLUSTER / "el7-iml-cib-backup.xml"
N1, N2 = "ct6-mds1.lfs.intl", "ct6-mds2.lfs.intl"
EL6_MAP = {"ct6-mds1": N1, "ct6-mds2": N2}
EL7_MAP = {"mds1.lfs.intl": "mds1.lfs.intl", "mds2.lfs.intl": "mds2.lfs.intl"}
NEW_DIALECTS = ("0.10", "0.12")


def run(argv, cib_file=None, check=True):
    env = dict(os.environ)
    if cib_file:
        env["CIB_file"] = str(cib_file)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"{argv} exited {proc.returncode}: {proc.stderr}{proc.stdout}")
    return proc


def with_file(argv, cib_file):
    assert argv[0] == "pcs"
    return ["pcs", "-f", str(cib_file), *argv[1:]]


def add_nodes(cib_file, *names):
    for number, name in enumerate(names, start=1):
        run(
            ["cibadmin", "--create", "-o", "nodes", "-X", f'<node id="{number}" uname="{name}"/>'],
            cib_file,
        )


@pytest.fixture
def restored(tmp_path, modules):
    """The restore CIB of the EL6 backup, built through Salt's loader (base: cibadmin --empty)."""
    out = tmp_path / "restore.xml"
    summary = modules.pacemaker.build_restore_cib(str(EL6_BACKUP), EL6_MAP, str(out))
    return out, summary


def targets_of(cib):
    return sorted(r["id"] for r in pacemaker.read_cib(str(cib))["resources"])


def primaries_of(cib):
    return {
        rec["rsc"]: rec["node"]
        for rec in pacemaker.read_cib(str(cib))["locations"]
        if rec["id"].endswith("-primary")
    }


def simulate(cib, out, *up):
    argv = ["crm_simulate", "-x", str(cib), "-S", "-O", str(out)]
    for node in up:
        argv += ["-u", node]
    run(argv)
    return pacemaker.read_cib(str(out))["placement"]


def test_the_real_pcs_is_detected_as_dialect_0_10(modules):
    assert modules.pacemaker.detect_dialect(refresh=True) == "0.10"


def test_the_restore_cib_validates(restored):
    out, summary = restored
    assert summary["warnings"] == []
    proc = run(["crm_verify", "-x", str(out), "-V"], check=False)
    assert proc.returncode == 0, proc.stderr


def test_out_of_maintenance_with_targets_enabled_every_target_starts_on_its_primary(
    restored, tmp_path
):
    out, summary = restored
    cib = tmp_path / "cutover.xml"
    shutil.copy(out, cib)
    add_nodes(cib, N1, N2)
    for dialect in NEW_DIALECTS:
        run(with_file(pacemaker.maintenance_mode_command(False, dialect=dialect), cib))
        run(
            with_file(pacemaker.resource_enable_command(summary["resources"], dialect=dialect), cib)
        )
    placement = simulate(cib, tmp_path / "after.xml", N1, N2)
    primaries = primaries_of(out)
    assert sorted(primaries) == summary["resources"]
    for target, node in primaries.items():
        assert placement[target] == [node], target
    # Same answer from crm_mon 2.x XML of the simulated cluster.
    mon = run(pacemaker.crm_mon_command(dialect="0.10"), cib_file=tmp_path / "after.xml")
    assert pacemaker.parse_cib(mon.stdout)["placement"] == placement


def test_while_in_maintenance_nothing_starts(restored, tmp_path):
    out, summary = restored
    cib = tmp_path / "maintenance.xml"
    shutil.copy(out, cib)
    add_nodes(cib, N1, N2)
    run(with_file(pacemaker.resource_enable_command(summary["resources"], dialect="0.10"), cib))
    placement = simulate(cib, tmp_path / "after.xml", N1, N2)
    assert all(placement[target] == [] for target in summary["resources"])


def test_standby_of_a_node_moves_every_target_to_its_peer(restored, tmp_path):
    out, summary = restored
    cib = tmp_path / "standby.xml"
    shutil.copy(out, cib)
    add_nodes(cib, N1, N2)
    run(with_file(pacemaker.maintenance_mode_command(False, dialect="0.10"), cib))
    run(with_file(pacemaker.resource_enable_command(summary["resources"], dialect="0.10"), cib))
    running = tmp_path / "running.xml"
    simulate(cib, running, N1, N2)
    for dialect in NEW_DIALECTS:
        run(with_file(pacemaker.standby_command(N1, dialect=dialect), running))
    placement = simulate(running, tmp_path / "evacuated.xml")
    assert all(placement[target] == [N2] for target in summary["resources"])


@pytest.mark.parametrize(("backup", "node_map"), [(EL6_BACKUP, EL6_MAP), (EL7_BACKUP, EL7_MAP)])
def test_backup_to_restore_to_read_cib_keeps_ids_uuids_operations_and_scores(
    tmp_path, modules, backup, node_map
):
    out = tmp_path / "restore.xml"
    modules.pacemaker.build_restore_cib(str(backup), node_map, str(out))
    before = pacemaker.read_cib(str(backup))
    after = pacemaker.read_cib(str(out))
    targets = {r["id"]: r for r in before["resources"] if r["type"] == "Target"}
    restored = {r["id"]: r for r in after["resources"]}
    assert set(restored) == set(targets)
    for ident, record in targets.items():
        assert restored[ident]["attributes"] == record["attributes"]
        assert restored[ident]["operations"] == record["operations"]
        assert restored[ident]["meta"]["target-role"] == "Stopped"
    expected = [
        dict(rec, node=node_map[rec["node"]])
        for rec in before["locations"]
        if rec["rsc"] in targets and not rec["id"].startswith("cli-")
    ]
    assert after["locations"] == expected
    assert [s["id"] for s in after["stonith"]] == ["st-fencing"]


def offline_argvs(dialect, targets):
    return [
        pacemaker.property_set_command(
            {"no-quorum-policy": "ignore", "stonith-enabled": "true", "symmetric-cluster": "true"},
            dialect=dialect,
        ),
        pacemaker.maintenance_mode_command(True, dialect=dialect),
        pacemaker.maintenance_mode_command(False, dialect=dialect),
        pacemaker.resource_defaults_command(dialect=dialect),
        pacemaker.resource_enable_command(targets, dialect=dialect),
        pacemaker.resource_disable_command(targets[:1], dialect=dialect),
        pacemaker.standby_command(N1, dialect=dialect),
        pacemaker.unstandby_command(N1, dialect=dialect),
        pacemaker.node_attribute_command(
            N1, [["0_fence_plug", "ct6-mds1"], ["0_fence_agent", "fence_virsh"]], dialect=dialect
        ),
        pacemaker.relocate_command("dry-run", dialect=dialect),
        pacemaker.resource_config_command(dialect=dialect),
        pacemaker.constraint_config_command(dialect=dialect),
        pacemaker.property_config_command(dialect=dialect),
    ]


def test_every_offline_pcs_command_line_is_accepted_by_the_real_pcs(restored, tmp_path):
    """Each >=0.10 argv the module builds that pcs can run on a file (LAB.md: relocate
    run/show, auth, cluster start/stop/enable/disable and node add need a live cluster;
    setup, stonith create and cib-push have tests of their own)."""
    out, summary = restored
    targets = summary["resources"]
    cib = tmp_path / "cib.xml"
    cib.write_text(run(["cibadmin", "--empty"]).stdout)
    run(with_file(pacemaker.cib_push_command(str(out), dialect="0.10"), cib))
    assert targets_of(cib) == targets
    add_nodes(cib, N1, N2)
    distinct = []
    for dialect in NEW_DIALECTS:
        for argv in offline_argvs(dialect, targets):
            if argv not in distinct:  # 0.10 and 0.12 mostly agree: run each line once
                distinct.append(argv)
    assert len(distinct) == len(offline_argvs("0.10", targets)) + 1  # + defaults update
    for argv in distinct:
        run(with_file(argv, cib))
    got = pacemaker.read_cib(str(cib))
    assert {n["uname"]: n["attributes"] for n in got["nodes"]}[N1] == {
        "0_fence_plug": "ct6-mds1",
        "0_fence_agent": "fence_virsh",
    }
    assert got["properties"]["maintenance-mode"] == "false"
    assert got["rsc_defaults"]["migration-threshold"] == "3"


def test_stonith_create_is_accepted_once_the_agent_exists(tmp_path):
    cib = tmp_path / "empty.xml"
    cib.write_text(run(["cibadmin", "--empty"]).stdout)
    for dialect in NEW_DIALECTS:
        argv = pacemaker.stonith_create_command(dialect=dialect)
        proc = run(with_file(argv, cib), check=False)
        if "is not installed" in proc.stderr:
            # No fence_chroma on this host (it ships with IML's agent): pcs only lacks the
            # agent's metadata, the command line itself is right.
            run(with_file([*argv, "--force"], cib))
        else:
            assert proc.returncode == 0, proc.stderr
        run(with_file(["pcs", "stonith", "delete", "st-fencing"], cib))


def test_cib_push_diff_against_and_crm_diff_patch_are_accepted(restored, tmp_path):
    out, _ = restored
    original = tmp_path / "original.xml"
    original.write_text(run(["cibadmin", "--empty"]).stdout)
    live = tmp_path / "live.xml"
    shutil.copy(original, live)
    run(
        with_file(
            pacemaker.cib_push_command(str(out), diff_against=str(original), dialect="0.10"), live
        )
    )
    assert targets_of(live) == targets_of(out)
    patch = tmp_path / "patch.xml"
    diff = run(pacemaker.crm_diff_command(str(original), str(out)), check=False)
    assert diff.returncode == 1 and "<diff" in diff.stdout
    patch.write_text(diff.stdout)
    patched = tmp_path / "patched.xml"
    shutil.copy(original, patched)
    run(pacemaker.cib_patch_command(str(patch)), cib_file=patched)
    assert targets_of(patched) == targets_of(out)


def render(template):
    rings = [
        {
            "ringnumber": 0,
            "bindnetaddr": "10.128.0.0",
            "mcastaddr": "226.94.0.1",
            "mcastport": 40015,
        },
        {
            "ringnumber": 1,
            "bindnetaddr": "10.73.10.0",
            "mcastaddr": "226.94.1.1",
            "mcastport": 40015,
        },
    ]
    return jinja2.Template((REAL_FIXTURES / "iml" / template).read_text()).render(interfaces=rings)


TWO_RINGS = {N1: ["10.128.0.21", "10.73.10.21"], N2: ["10.128.0.22", "10.73.10.22"]}
SOURCES = {
    "iml/corosync.conf.el6-v2.4.2.7RC1.template": TWO_RINGS,
    "iml/corosync.conf.el6-v4.0.10.2.template": TWO_RINGS,
    "iml/corosync.conf": TWO_RINGS,
    "iml/chroma-director-corosync.conf.el6": {N1: ["192.168.1.21"], N2: ["192.168.1.22"]},
    "pcs/corosync.conf": {N1: ["10.0.0.1"], N2: ["10.0.0.2"]},
}


@pytest.mark.parametrize("dialect", NEW_DIALECTS)
@pytest.mark.parametrize("path", real_fixture_params(*SOURCES))
def test_pcs_cluster_setup_accepts_the_translated_argv_and_writes_a_readable_config(
    tmp_path, path, dialect
):
    rel = f"{path.parent.name}/{path.name}"
    if rel.endswith(".template"):
        conf = corosync.parse_conf(render(path.name), source=rel)
    else:
        conf = corosync.read_conf(str(path))
    nodes = SOURCES[rel]
    out = tmp_path / "corosync.conf"
    argv = pacemaker.setup_command(conf, nodes, dialect=dialect, corosync_conf_out=str(out))
    run(argv)
    got = corosync.read_conf(str(out))
    assert got["generation"] == "3.x"
    assert got["totem"]["cluster_name"] == "lustre-ha-cluster"
    assert got["totem"]["transport"] == "knet"
    assert got["totem"]["token"] == "17000"
    assert got["totem"]["fail_recv_const"] == "10"
    assert [n["name"] for n in got["nodes"]] == list(nodes)
    for node in got["nodes"]:
        addrs = [node[f"ring{i}_addr"] for i in range(len(nodes[node["name"]]))]
        assert addrs == nodes[node["name"]]
    assert [i["mcastport"] for i in got["interfaces"]] == [
        i["mcastport"] for i in conf["interfaces"]
    ]
    if len(conf["interfaces"]) > 1:
        assert got["totem"]["link_mode"] == "passive"


def test_setup_through_the_loader_reads_the_backup_with_the_corosync_module(modules, tmp_path):
    conf = tmp_path / "corosync.conf"
    conf.write_text(
        "totem {\n interface {\n ringnumber: 0\n bindnetaddr: 10.0.0.0\n"
        " mcastaddr: 239.1.1.1\n mcastport: 5405\n }\n}\n"
    )
    argv = modules.pacemaker.setup_command(str(conf), [N1], dialect="0.9")
    assert argv[argv.index("--addr0") + 1] == "10.0.0.0"
    assert modules.pacemaker.read_cib(str(EL6_BACKUP))["stonith"][0]["id"] == "st-fencing"


def test_fencing_attributes_land_in_the_cib_through_cibadmin_agent_last(restored, modules):
    cib, _ = restored
    add_nodes(cib, N1, N2)
    ret = modules.pacemaker.apply_fencing_attributes(str(EL6_BACKUP), EL6_MAP, cib_file=str(cib))
    assert "Fixture-" not in repr(ret)
    nodes = {n["uname"]: n["attributes"] for n in pacemaker.read_cib(str(cib))["nodes"]}
    assert nodes[N1]["0_fence_agent"] == "fence_virsh"
    assert nodes[N1]["0_fence_password"] == "********"
    assert nodes[N2]["1_fence_agent"] == "fence_ipmilan"
    raw = cib.read_text()
    assert (
        'id="nodes-1-0_fence_password" name="0_fence_password" value="Fixture-Fence-Secret-1"'
        in raw
    )
    # pcs reads them back as node attributes.
    shown = run(["pcs", "-f", str(cib), "node", "attribute"]).stdout
    assert "0_fence_agent=fence_virsh" in shown
    # Applying again changes nothing.
    before = raw
    modules.pacemaker.apply_fencing_attributes(str(EL6_BACKUP), EL6_MAP, cib_file=str(cib))
    assert _without_epoch(cib.read_text()) == _without_epoch(before)


def _without_epoch(xml):
    root = etree.fromstring(xml.encode())
    for attr in ("epoch", "num_updates", "admin_epoch", "cib-last-written"):
        root.attrib.pop(attr, None)
    return etree.tostring(root)


def test_diff_cib_of_the_real_crm_diff_masks_passwords_and_its_patch_file_applies(
    modules, tmp_path
):
    """A created and a modified fence password, as the real crm_diff writes them: masked in
    what diff_cib returns, real in its 0600 output file, which cibadmin --patch applies."""
    old, new = tmp_path / "old.xml", tmp_path / "new.xml"
    old.write_text(run(["cibadmin", "--empty"]).stdout)
    add_nodes(old, N1, N2)
    run(["pcs", "-f", str(old), "node", "attribute", N2, "1_fence_password=Old-Secret-2"])
    shutil.copy(old, new)
    run(["pcs", "-f", str(new), "node", "attribute", N1, "0_fence_password=New-Secret-1"])
    run(["pcs", "-f", str(new), "node", "attribute", N1, "0_fence_plug=mds1"])
    run(["pcs", "-f", str(new), "node", "attribute", N2, "1_fence_password=New-Secret-2"])
    patch = tmp_path / "p.xml"
    shown = modules.pacemaker.diff_cib(str(old), str(new), output=str(patch))
    assert "Secret" not in shown and shown.count("********") >= 2 and "mds1" in shown
    assert "New-Secret-1" in patch.read_text() and "New-Secret-2" in patch.read_text()
    assert patch.stat().st_mode & 0o777 == 0o600
    modules.pacemaker.patch_cib(str(patch), cib_file=str(old))
    nodes = {n.get("uname"): n for n in etree.parse(str(old)).getroot().iter("node")}
    values = {p.get("name"): p.get("value") for p in nodes[N2].iter("nvpair")}
    assert values["1_fence_password"] == "New-Secret-2"
