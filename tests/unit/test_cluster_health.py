"""A cluster's fitness for an upgrade step, read from real crm_mon snapshots."""

import pytest
from salt.exceptions import CommandExecutionError

from lustre_upgrade_lib import cluster_health
from tests.support import REAL_FIXTURES, SUITE_FIXTURES, real_fixture_params


def checks(found):
    return [(f["check"], f["severity"]) for f in found]


@pytest.mark.parametrize(
    "path", real_fixture_params("iml/es_fixture.xml", "iml/crm-mon-complex.xml")
)
def test_a_healthy_cluster_has_no_finding(path):
    health = cluster_health.read_crm_mon(path.read_text(), str(path))
    assert health["quorum"] is True
    assert cluster_health.findings(health, sorted(health["nodes"])) == []


def test_an_el6_cluster_with_a_node_down_has_no_quorum_and_says_so(real_fixtures):
    path = REAL_FIXTURES / "iml" / "test_corosync_crm_mon_1.1.7-6.el6.xml"
    health = cluster_health.read_crm_mon(path.read_text())
    assert health["dc"] == "storage0.node"
    assert health["nodes"]["storage1.node"]["online"] is False
    found = cluster_health.findings(health, ["storage0.node", "storage1.node"])
    assert checks(found) == [("quorum", "inhibitor"), ("online", "inhibitor")]
    assert "storage1.node is offline" in found[1]["message"]


def test_failed_actions_are_inhibitors_with_the_cleanup_command(real_fixtures):
    path = REAL_FIXTURES / "iml" / "vagrant_fixture.xml"
    health = cluster_health.read_crm_mon(path.read_text())
    found = cluster_health.findings(health, ["oss1.local", "oss2.local"])
    assert checks(found) == [("failed-action", "inhibitor")] * 2
    assert found[0]["message"].startswith("failed action vboxfence_start_0 on oss1.local")
    assert found[0]["remedy"].endswith(
        "crm_resource --cleanup --resource vboxfence --node oss1.local"
    )


def test_standby_maintenance_and_unknown_nodes_are_named(real_fixtures):
    text = (REAL_FIXTURES / "iml" / "vagrant_fixture.xml").read_text()
    text = text.replace(
        'name="oss1.local" id="1" online="true" standby="false"',
        'name="oss1.local" id="1" online="true" standby="true"',
    ).replace('maintenance-mode="false"', 'maintenance-mode="true"')
    text = text.split("<failures>")[0] + text.split("</failures>")[1]
    health = cluster_health.read_crm_mon(text)
    found = cluster_health.findings(health, ["oss1.local", "oss3.local"])
    assert checks(found) == [
        ("maintenance-mode", "inhibitor"),
        ("standby", "inhibitor"),
        ("membership", "inhibitor"),
    ]
    assert found[1]["remedy"] == (
        "crm_attribute --type nodes --node oss1.local --name standby --update off"
    )


def test_a_cib_is_not_taken_for_a_snapshot():
    text = (SUITE_FIXTURES / "cluster" / "el6-iml-cib-backup.xml").read_text()
    with pytest.raises(CommandExecutionError, match="is not crm_mon XML"):
        cluster_health.read_crm_mon(text, "backup.xml")


ROOT = '<cib have-quorum="1" dc-uuid="2" epoch="7" num_updates="0" admin_epoch="0"/>'
CRM_CONFIG = """<crm_config><cluster_property_set id="o">
  <nvpair id="o-m" name="maintenance-mode" value="false"/></cluster_property_set></crm_config>"""
STATUS = """<status>
  <node_state id="1" uname="oss1-a" in_ccm="true" crmd="online" join="member" expected="member">
    <lrm id="1"><lrm_resources><lrm_resource id="MGS_1" type="Target" class="ocf" provider="chroma">
      <lrm_rsc_op id="MGS_1_last_0" operation="start" rc-code="0" interval="0" call-id="9"/>
      <lrm_rsc_op id="MGS_1_last_failure_0" operation="monitor" rc-code="7" interval="5000"
                  exit-reason="not mounted" call-id="8"/>
    </lrm_resource></lrm_resources></lrm>
  </node_state>
  <node_state id="2" uname="oss1-b" in_ccm="1732000000" crmd="online" join="member" expected="member"/>
</status>"""


def test_the_health_of_an_old_cluster_reads_without_its_node_attributes():
    flags = {"oss1-a": {"standby": "off", "maintenance": "off"}, "oss1-b": {"standby": "on"}}
    health = cluster_health.read_cib_health(ROOT, CRM_CONFIG, STATUS, flags)
    assert health["quorum"] is True and health["dc"] == "oss1-b"
    assert health["nodes"]["oss1-a"]["online"] and health["nodes"]["oss1-b"]["online"]
    assert health["nodes"]["oss1-b"]["standby"] is True
    assert health["failures"] == [
        {
            "op_key": "MGS_1_monitor_5000",
            "node": "oss1-a",
            "task": "monitor",
            "exitstatus": "7",
            "exitreason": "not mounted",
        }
    ]
    found = cluster_health.findings(health, ["oss1-a", "oss1-b"])
    assert [f["check"] for f in found] == ["standby", "failed-action"]
    assert "crm_resource --cleanup --resource MGS_1 --node oss1-a" in found[1]["remedy"]
    offline = STATUS.replace('uname="oss1-b" in_ccm="1732000000"', 'uname="oss1-b" in_ccm="false"')
    no_dc = ROOT.replace('dc-uuid="2"', 'dc-uuid="9"')
    health = cluster_health.read_cib_health(no_dc, CRM_CONFIG, offline, {})
    assert health["quorum"] is None and health["nodes"]["oss1-b"]["online"] is False
