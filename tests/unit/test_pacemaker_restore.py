"""Restore planning (the library, cib_restore) on hand-written IML CIB backups: the new
cluster's CIB and the fencing attribute plan; the module's build_restore_cib file output."""

import os
import stat

import pytest
from lxml import etree
from salt.exceptions import CommandExecutionError, SaltInvocationError

from _modules import pacemaker
from lustre_upgrade_lib import cib, cib_restore
from tests.support import SUITE_FIXTURES

CLUSTER = SUITE_FIXTURES / "cluster"
EL6_BACKUP = CLUSTER / "el6-iml-cib-backup.xml"
EL7_BACKUP = CLUSTER / "el7-iml-cib-backup.xml"
BASE = CLUSTER / "new-cluster-cib.xml"
EL6_MAP = {"ct6-mds1": "ct6-mds1.lfs.intl", "ct6-mds2": "ct6-mds2.lfs.intl"}
EL7_MAP = {"mds1.lfs.intl": "mds1.lfs.intl", "mds2.lfs.intl": "mds2.lfs.intl"}
TARGETS = {
    "MGS_32834e": "9aaf3d9d-df51-48d5-9da1-49d57dee12c0",
    "demo-MDT0000_802c1b": "ea0ec37d-288e-48e2-8f11-922980e5cf37",
    "demo-OST0000_4a7e91": "3c6b1f0e-7d2a-4f59-9b8e-5a0d2c4e1f77",
    "demo-OST0001_c3d2f0": "b81e5c27-0f3d-4a66-8c1e-d29f47a03b15",
}
PRIMARY = {
    "MGS_32834e": "ct6-mds1.lfs.intl",
    "demo-MDT0000_802c1b": "ct6-mds2.lfs.intl",
    "demo-OST0000_4a7e91": "ct6-mds1.lfs.intl",
    "demo-OST0001_c3d2f0": "ct6-mds2.lfs.intl",
}


def restore(backup=EL6_BACKUP, node_map=None, base=BASE, agents=(cib.TARGET_AGENT,)):
    """``(new root, summary, read_cib data of the new root)`` from the library."""
    root, summary = cib_restore.restore_cib(
        cib.load_xml_file(str(backup)),
        node_map or EL6_MAP,
        cib.load_xml_file(str(base)),
        str(backup),
        agents,
    )
    return root, summary, cib.parse_root(root, "restored")


def build(tmp_path, backup=EL6_BACKUP, node_map=None, base=BASE, **kwargs):
    """The module's build_restore_cib: the file it writes."""
    out = tmp_path / "restore.xml"
    summary = pacemaker.build_restore_cib(
        str(backup), node_map or EL6_MAP, str(out), base=str(base), **kwargs
    )
    return summary, out


def test_the_restore_cib_holds_the_targets_stopped_with_their_ids_uuids_and_operations():
    _, summary, got = restore()
    assert summary["resources"] == sorted(TARGETS)
    assert [r["id"] for r in got["resources"]] == sorted(TARGETS)
    for record in got["resources"]:
        assert (record["class"], record["provider"], record["type"]) == ("ocf", "chroma", "Target")
        assert record["attributes"] == {"target": TARGETS[record["id"]]}
        assert record["meta"] == {"target-role": "Stopped"}
        assert record["operations"] == [
            {"name": "monitor", "interval": "5", "timeout": "60"},
            {"name": "start", "interval": "0", "timeout": "300"},
            {"name": "stop", "interval": "0", "timeout": "300"},
        ]
    assert got["stonith"] == [{"id": "st-fencing", "type": "fence_chroma", "attributes": {}}]
    assert summary["stonith"] == ["st-fencing"]


def test_the_restore_cib_keeps_location_ids_and_scores_with_nodes_renamed():
    _, summary, got = restore()
    locations = got["locations"]
    expected = []
    for rsc, primary in PRIMARY.items():
        secondary = next(n for n in EL6_MAP.values() if n != primary)
        expected += [
            {"id": f"{rsc}-primary", "rsc": rsc, "node": primary, "score": "20", "role": None},
            {"id": f"{rsc}-secondary", "rsc": rsc, "node": secondary, "score": "10", "role": None},
        ]
    assert locations == sorted(expected, key=lambda rec: rec["id"])
    assert summary["constraints"] == locations


def test_move_ban_and_standby_constraints_are_reported_not_copied():
    root, summary, _ = restore()
    assert [d["id"] for d in summary["dropped_constraints"]] == [
        "cli-ban-demo-OST0000_4a7e91-on-ct6-mds2",
        "cli-prefer-demo-OST0001_c3d2f0",
    ]
    assert b"cli-" not in cib.to_bytes(root)
    assert "not restored (moves/bans of the old cluster): cli-ban-" in (
        cib_restore.summary_note(summary)
    )


def test_defaults_and_properties_follow_the_backup_and_the_runbook():
    _, summary, got = restore()
    # resource-stickiness and failure-timeout from the backup, migration-threshold added.
    assert got["rsc_defaults"] == {
        "resource-stickiness": "1000",
        "failure-timeout": "20m",
        "migration-threshold": "3",
    }
    assert got["properties"] == {
        "have-watchdog": "false",
        "dc-version": "2.1.5-a3f44794f94",
        "cluster-infrastructure": "corosync",
        "cluster-name": "lustre-ha-cluster",
        "no-quorum-policy": "ignore",
        "stonith-enabled": "true",
        "symmetric-cluster": "true",
        "maintenance-mode": "true",
    }
    assert summary["properties"]["maintenance-mode"] == "true"


def test_the_new_clusters_nodes_are_kept_and_no_fencing_attribute_is_copied():
    root, _, got = restore()
    assert got["nodes"] == [{"id": "1", "uname": "ct6-mds1.lfs.intl", "attributes": {}}]
    text = cib.to_bytes(root)
    assert b"_fence_" not in text and b"Fixture-" not in text


def test_the_output_is_private_and_the_summary_holds_no_secret(tmp_path):
    summary, out = build(tmp_path)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert summary["output"] == str(out)
    assert "Fixture-" not in repr(summary)


def test_building_again_from_the_restored_cib_changes_nothing(tmp_path):
    _, out = build(tmp_path)
    first = out.read_bytes()
    again = tmp_path / "again.xml"
    summary = pacemaker.build_restore_cib(str(EL6_BACKUP), EL6_MAP, str(again), base=str(out))
    assert again.read_bytes() == first
    assert summary["resources"] == [] and summary["constraints"] == []
    assert summary["kept"] == sorted(
        [
            *TARGETS,
            "st-fencing",
            *[f"{r}-primary" for r in TARGETS],
            *[f"{r}-secondary" for r in TARGETS],
        ]
    )


def test_the_restore_leaves_its_inputs_unchanged():
    backup, base = cib.load_xml_file(str(EL6_BACKUP)), cib.load_xml_file(str(BASE))
    before = (cib.to_bytes(backup), cib.to_bytes(base))
    cib_restore.restore_cib(backup, EL6_MAP, base)
    assert (cib.to_bytes(backup), cib.to_bytes(base)) == before


def test_a_target_already_in_the_base_is_left_as_it_is(tmp_path):
    base = etree.parse(str(BASE)).getroot()
    started = etree.fromstring(
        '<primitive id="MGS_32834e" class="ocf" provider="chroma" type="Target">'
        '<meta_attributes id="m"><nvpair id="m1" name="target-role" value="Started"/>'
        "</meta_attributes></primitive>"
    )
    base.find("configuration/resources").append(started)
    base_file = tmp_path / "base.xml"
    base_file.write_bytes(etree.tostring(base))
    _, summary, got = restore(base=base_file)
    mgs = next(r for r in got["resources"] if r["id"] == "MGS_32834e")
    assert mgs["meta"] == {"target-role": "Started"}
    assert "MGS_32834e" in summary["kept"] and "MGS_32834e" not in summary["resources"]


def test_an_el7_backup_restores_with_warnings_for_what_iml_would_not_find():
    _, summary, got = restore(backup=EL7_BACKUP, node_map=EL7_MAP)
    assert summary["resources"] == ["MGS_7706ac", "demo-MDT0000_af7220"]
    assert [d["id"] for d in summary["dropped_constraints"]] == ["cli-standby-MGS_7706ac"]
    assert "probe" not in {r["id"] for r in got["resources"]}
    assert "location-probe" not in {rec["id"] for rec in got["locations"]}
    # The backup's own stonith meta is kept; the target's missing meta set is created.
    assert got["resources"][0]["meta"] == {"target-role": "Stopped"}
    assert got["rsc_defaults"]["migration-threshold"] == "3"
    warnings = "\n".join(summary["warnings"])
    assert "location-demo-MDT0000_af7220-mds2.lfs.intl-20" in warnings
    assert "resources without a <resource>-primary location: demo-MDT0000_af7220" in warnings
    assert "rsc_order order-MGS_7706ac-demo-MDT0000_af7220" in warnings


def test_more_than_two_nodes_stop_without_quorum():
    node_map = {**EL6_MAP, "ct6-mds3": "ct6-mds3.lfs.intl"}
    _, summary, _ = restore(node_map=node_map)
    assert summary["properties"]["no-quorum-policy"] == "stop"


def test_agents_select_which_primitives_are_restored():
    _, summary, _ = restore(backup=EL7_BACKUP, node_map=EL7_MAP, agents="ocf:heartbeat:Dummy")
    assert summary["resources"] == ["probe"]
    assert [c["id"] for c in summary["constraints"]] == ["location-probe"]


def test_target_role_with_an_underscore_is_stopped_too():
    backup = etree.fromstring(
        '<cib><configuration><resources><primitive id="t" class="ocf" provider="chroma" '
        'type="Target"><meta_attributes id="m"><nvpair id="m1" name="target_role" '
        'value="Started"/></meta_attributes></primitive></resources><constraints/>'
        "</configuration></cib>"
    )
    base = etree.fromstring("<cib><configuration/></cib>")
    new_root, _ = cib_restore.restore_cib(backup, EL6_MAP, base)
    values = new_root.xpath("//primitive[@id='t']//nvpair/@value")
    assert values == ["Stopped"]


def bad_backup(tmp_path, text):
    path = tmp_path / "backup.xml"
    path.write_text(text)
    return path


GOOD_PRIMITIVE = '<primitive id="t" class="ocf" provider="chroma" type="Target"/>'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not xml at all", "backup.xml is not XML"),
        ("<resources/>", "backup.xml: root element <resources> is not <cib>"),
        (
            '<cib><configuration><resources><primitive class="ocf" provider="chroma" '
            'type="Target"/></resources></configuration></cib>',
            "backup.xml line 1: <primitive> has no id",
        ),
        (
            f"<cib><configuration><resources>{GOOD_PRIMITIVE}</resources><constraints>"
            '<rsc_location id="t-primary" rsc="t" score="20"><rule id="r" score="20"/>'
            "</rsc_location></constraints></configuration></cib>",
            r"backup.xml line 1: <rsc_location id='t-primary'> of t has no node",
        ),
        (
            f"<cib><configuration><resources>{GOOD_PRIMITIVE}</resources><constraints>"
            '<rsc_location id="t-primary" rsc="t" node="oss9" score="20"/>'
            "</constraints></configuration></cib>",
            r"node 'oss9' \(in <rsc_location id='t-primary'>\) is not in node_map",
        ),
    ],
)
def test_bad_backups_are_errors_naming_file_and_element_and_nothing_is_written(
    tmp_path, text, message
):
    backup = bad_backup(tmp_path, text)
    out = tmp_path / "restore.xml"
    with pytest.raises(CommandExecutionError, match=message):
        pacemaker.build_restore_cib(str(backup), EL6_MAP, str(out), base=str(BASE))
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["backup.xml"]


def test_a_node_missing_from_the_map_is_named(tmp_path):
    out = tmp_path / "restore.xml"
    with pytest.raises(CommandExecutionError, match="node 'ct6-mds2'") as err:
        pacemaker.build_restore_cib(
            str(EL6_BACKUP), {"ct6-mds1": "ct6-mds1.lfs.intl"}, str(out), base=str(BASE)
        )
    assert str(EL6_BACKUP) in str(err.value)
    assert not out.exists()


@pytest.mark.parametrize("node_map", [{}, None, {"a": ""}, ["a"]])
def test_an_empty_or_malformed_node_map_is_a_bad_argument(tmp_path, node_map):
    with pytest.raises(SaltInvocationError, match="node_map"):
        pacemaker.build_restore_cib(
            str(EL6_BACKUP), node_map, str(tmp_path / "o.xml"), base=str(BASE)
        )


def test_a_base_that_is_not_a_cib_is_an_error(tmp_path):
    base = tmp_path / "base.xml"
    base.write_text("<resources/>")
    with pytest.raises(CommandExecutionError, match="base CIB: root element <resources>"):
        pacemaker.build_restore_cib(
            str(EL6_BACKUP), EL6_MAP, str(tmp_path / "o.xml"), base=str(base)
        )


def test_without_a_base_the_empty_cib_comes_from_cibadmin(tmp_path, monkeypatch):
    calls = []

    def run_all(argv, **kwargs):
        calls.append(argv)
        return {"retcode": 0, "stdout": BASE.read_text(), "stderr": ""}

    monkeypatch.setattr(pacemaker, "__salt__", {"cmd.run_all": run_all}, raising=False)
    pacemaker.build_restore_cib(str(EL6_BACKUP), EL6_MAP, str(tmp_path / "o.xml"))
    assert calls == [["cibadmin", "--empty"]]


def test_the_fencing_plan_renames_nodes_and_sets_each_agent_last():
    plan = cib_restore.fencing_plan(cib.load_xml_file(str(EL6_BACKUP)), EL6_MAP, "backup")
    assert plan == [
        {
            "node": "ct6-mds1.lfs.intl",
            "attributes": [
                ("0_fence_ipaddr", "192.168.0.1"),
                ("0_fence_ipport", "22"),
                ("0_fence_login", "root"),
                ("0_fence_password", "Fixture-Fence-Secret-1"),
                ("0_fence_plug", "ct6-mds1"),
                ("0_fence_agent", "fence_virsh"),
            ],
        },
        {
            "node": "ct6-mds2.lfs.intl",
            "attributes": [
                ("0_fence_ipaddr", "192.168.0.1"),
                ("0_fence_ipport", "22"),
                ("0_fence_login", "root"),
                ("0_fence_password", "Fixture-Fence-Secret-2"),
                ("0_fence_plug", "ct6-mds2"),
                ("1_fence_ipaddr", "10.0.9.12"),
                ("1_fence_login", "ADMIN"),
                ("1_fence_password", "Fixture-Ipmi-Secret"),
                ("0_fence_agent", "fence_virsh"),
                ("1_fence_agent", "fence_ipmilan"),
            ],
        },
    ]


def test_fencing_attributes_returns_the_plan_with_secrets_masked():
    got = pacemaker.fencing_attributes(str(EL6_BACKUP), EL6_MAP)
    assert "Fixture-" not in repr(got)
    assert got[0]["attributes"][3] == ["0_fence_password", "********"]
    assert got[0]["attributes"][-1] == ["0_fence_agent", "fence_virsh"]
    # "standby" is a node attribute but not a fencing one.
    assert all(not name.startswith("standby") for name, _ in got[0]["attributes"])


def test_a_fencing_node_missing_from_the_map_is_an_error():
    with pytest.raises(CommandExecutionError, match="node 'ct6-mds2'"):
        pacemaker.fencing_attributes(str(EL6_BACKUP), {"ct6-mds1": "ct6-mds1.lfs.intl"})


def test_only_what_the_cib_lacks_or_holds_otherwise_is_pending_and_agents_go_last():
    plan = cib_restore.fencing_plan(cib.load_xml_file(str(EL6_BACKUP)), EL6_MAP)
    current = {
        "ct6-mds1.lfs.intl": dict(plan[0]["attributes"]),
        "ct6-mds2.lfs.intl": {"0_fence_ipaddr": "192.168.0.1", "0_fence_plug": "elsewhere"},
    }
    pending = cib_restore.pending_plan(plan, current)
    assert [entry["node"] for entry in pending] == ["ct6-mds2.lfs.intl"]
    todo = [name for name, _ in pending[0]["attributes"]]
    assert "0_fence_ipaddr" not in todo and "0_fence_plug" in todo
    others, agents = cib_restore.agents_last(pending[0]["attributes"])
    assert [name for name, _ in agents] == ["0_fence_agent", "1_fence_agent"]
    assert [name for name, _ in others + agents] == todo
    with pytest.raises(CommandExecutionError, match="ct6-mds2.lfs.intl not in the CIB"):
        cib_restore.pending_plan(plan, {"ct6-mds1.lfs.intl": {}})


def test_a_restore_refuses_to_run_behind_enabled_targets_out_of_maintenance():
    _, summary, restored = restore()
    again = cib_restore.restore_cib(cib.load_xml_file(str(EL6_BACKUP)), EL6_MAP, restore()[0])[1]
    assert cib_restore.missing_after(again) == []
    assert cib_restore.blocking_targets(restored, again) == []  # in maintenance, stopped
    started = dict(restored, properties={"maintenance-mode": "false"})
    started["resources"] = [dict(r, meta={}) for r in restored["resources"]]
    assert cib_restore.blocking_targets(started, again) == sorted(TARGETS)
    assert cib_restore.invariant_problems(started, summary["resources"]) == [
        *[f"{t} is not target-role=Stopped" for t in sorted(TARGETS)],
        "maintenance-mode is not true",
    ]
