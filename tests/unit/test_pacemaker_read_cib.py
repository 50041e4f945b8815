"""The CIB model (the library, cib) on every CIB, CIB-section and crm_mon artifact, against
expectations written by reading each file; the preferred node of a target."""

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from _modules import pacemaker
from lustre_upgrade_lib import cib
from tests.support import REAL_FIXTURES, SUITE_FIXTURES, real_fixture_params

MASK = "********"


def op(name, interval, timeout):
    return {"name": name, "interval": interval, "timeout": timeout}


def rsc(ident, cls, provider, rtype, attributes=None, meta=None, operations=None):
    return {
        "id": ident,
        "class": cls,
        "provider": provider,
        "type": rtype,
        "attributes": attributes or {},
        "meta": meta or {},
        "operations": operations or [],
    }


def loc(ident, rsc_id, node, score, role=None):
    return {"id": ident, "rsc": rsc_id, "node": node, "score": score, "role": role}


def node(ident, uname, attributes=None):
    return {"id": ident, "uname": uname, "attributes": attributes or {}}


def empty(**parts):
    result = {
        "properties": {},
        "rsc_defaults": {},
        "nodes": [],
        "resources": [],
        "stonith": [],
        "locations": [],
        "placement": {},
    }
    result.update(parts)
    return result


LUSTRE_RA_OPS = [op("monitor", "20s", "300s"), op("start", "0s", "300s"), op("stop", "0s", "300s")]
ZFS_OPS = [op("monitor", "5s", "30s"), op("start", "0s", "60s"), op("stop", "0s", "60s")]
IPMI_COMMON = {
    "ipaddr": None,
    "login": "root",
    "passwd": MASK,
    "lanplus": "true",
    "auth": "md5",
    "power_wait": "5",
    "method": "onoff",
    "delay": "15",
    "privlvl": "OPERATOR",
}


def ipmi(ipaddr, **extra):
    return dict(IPMI_COMMON, ipaddr=ipaddr, **extra)


def sfa(vm):
    return {
        "id": f"stonith-ai400-006c-{vm}",
        "type": "fence_sfa_vm",
        "attributes": {
            "pcmk_host_list": f"ai400-006c-{vm}",
            "targetvm": f"ai400-006c-{vm}",
            "ip_addr": "10.36.44.77",
            "alt_ip_addr": "10.36.44.78",
            "passwd": MASK,
            "pcmk_host_check": "static-list",
        },
    }


VAGRANT_NODES = [node("1", "oss1.local"), node("2", "oss2.local")]
VAGRANT_RESOURCES = [rsc(f"ost{i}", "ocf", "lustre", "Lustre") for i in range(10)]
VAGRANT_STONITH = [{"id": "vboxfence", "type": "fence_vbox", "attributes": {}}]

EXPECTED = {
    "iml/check_ha_templated.xml": empty(
        resources=[
            rsc(
                "lustre",
                "ocf",
                "ddn",
                "Ticketer",
                {"name": "lustre-allocated"},
                {"priority": "399", "allow-migrate": "true", "target-role": "Started"},
                [op("monitor", "30", "30"), op("start", "0", "30"), op("stop", "0", "30")],
            ),
            # Built from template lustre-es01a-mdt (defined after its user in the file).
            rsc(
                "mdt0000-es01a",
                "ocf",
                "ddn",
                "lustre-server",
                {
                    "lustre_resource_type": "ddn",
                    "manage_directory": "1",
                    "options": "max_sectors_kb=0",
                    "device": "/dev/mapper/vg_mdt0000_es01a-mdt0000",
                    "directory": "/lustre/es01a/mdt0000",
                },
                {"priority": "100", "zone": "AI400-006c"},
                [op("monitor", "30", "300"), op("start", "0", "450"), op("stop", "0", "300")],
            ),
            rsc(
                "mdt0000-es01a-vg",
                "ocf",
                "heartbeat",
                "LVM",
                {"exclusive": "true", "tag": "exascaler", "volgrpname": "vg_mdt0000_es01a"},
                {"priority": "101", "zone": "AI400-006c", "target-role": "Started"},
                [op("monitor", "60", "60"), op("start", "0", "120"), op("stop", "0", "120")],
            ),
        ]
    ),
    "iml/check_ha_test_mixed_mode.xml": empty(
        resources=[
            rsc(
                "MGS_695ee8",
                "ocf",
                "lustre",
                "Lustre",
                {"mountpoint": "/mnt/MGS", "target": "MGS/MGS"},
                operations=LUSTRE_RA_OPS,
            ),
            rsc("MGS_695ee8-zfs", "ocf", "chroma", "ZFS", {"pool": "MGS"}, operations=ZFS_OPS),
            rsc(
                "fs21-MDT0000_f61385",
                "ocf",
                "lustre",
                "Lustre",
                {
                    "mountpoint": "/mnt/fs21-MDT0000",
                    "target": "/dev/disk/by-id/scsi-36001405da302b267f944aeaaadb95af9",
                },
                {"target_role": "Stopped"},
                LUSTRE_RA_OPS,
            ),
        ]
    ),
    "iml/check_stonith_test_es.xml": empty(stonith=[sfa(f"vm0{i}") for i in range(4)]),
    "iml/check_stonith_test_multihost_dynamic.xml": empty(
        stonith=[
            {
                "id": "stonith-dynamic",
                "type": "fence_ipmilan",
                "attributes": ipmi("10.0.1.12", pcmk_host_check="dynamic-list"),
            },
            {
                "id": "stonith-host0",
                "type": "fence_ipmilan",
                "attributes": ipmi(
                    "10.0.1.10", pcmk_host_list="host0", pcmk_host_check="static-list"
                ),
            },
        ]
    ),
    "iml/check_stonith_test_multihost_static.xml": empty(
        stonith=[
            {
                "id": "stonith-host0",
                "type": "fence_ipmilan",
                "attributes": ipmi(
                    "10.0.1.10", pcmk_host_list="host0", pcmk_host_check="static-list"
                ),
            },
            {
                "id": "stonith-host1",
                "type": "fence_ipmilan",
                "attributes": ipmi(
                    "10.0.1.11", pcmk_host_list="host2,host1", pcmk_host_check="static-list"
                ),
            },
        ]
    ),
    "iml/cibadmin-resources.xml": empty(
        resources=[
            rsc(
                "MGS_b8aa2b",
                "ocf",
                "lustre",
                "Lustre",
                {
                    "mountpoint": "/mnt/MGS",
                    "target": "/dev/disk/by-id/scsi-36001405c20616f7b8b2492d8913a4d24",
                },
                {"target_role": "Stopped", "target-role": "Started"},
                LUSTRE_RA_OPS,
            ),
            rsc(
                "fs10-MDT0000_c81867",
                "ocf",
                "lustre",
                "Lustre",
                {
                    "mountpoint": "/mnt/fs10-MDT0000",
                    "target": "/dev/disk/by-id/scsi-3600140562d7cc2e77b040ae861a491f3",
                },
                {"target_role": "Stopped", "target-role": "Started"},
                LUSTRE_RA_OPS,
            ),
            rsc(
                "fs11-MDT0000_13a57f",
                "ocf",
                "lustre",
                "Lustre",
                {"mountpoint": "/mnt/fs11-MDT0000", "target": "mdt10/fs11-MDT0000"},
                operations=LUSTRE_RA_OPS,
            ),
            rsc(
                "fs11-MDT0000_13a57f-zfs", "ocf", "chroma", "ZFS", {"pool": "mdt10"}, None, ZFS_OPS
            ),
            rsc(
                "test",
                "systemd",
                None,
                "httpd",
                operations=[
                    op("monitor", "60", "100"),
                    op("start", "0s", "100"),
                    op("stop", "0s", "100"),
                ],
            ),
        ],
        stonith=[{"id": "st-fencing", "type": "fence_chroma", "attributes": {}}],
    ),
    "iml/crm-resource-chroma-stonith.xml": empty(
        stonith=[{"id": "st-fencing", "type": "fence_chroma", "attributes": {}}]
    ),
    "iml/crm-resource-es-ost.xml": empty(
        resources=[
            rsc(
                "ost0001-es01a",
                "ocf",
                "ddn",
                "lustre-server",
                {
                    "lustre_resource_type": "ost",
                    "manage_directory": "1",
                    "device": "/dev/ddn/es01a_ost0001",
                    "directory": "/lustre/es01a/ost0001",
                },
                {"priority": "0", "zone": "AI400-006c"},
                [op("monitor", "30", "300"), op("start", "0", "450"), op("stop", "0", "300")],
            )
        ]
    ),
    "iml/crm-resource-iml-mgs.xml": empty(
        resources=[
            rsc(
                "MGS",
                "ocf",
                "lustre",
                "Lustre",
                {
                    "mountpoint": "/mnt/MGS",
                    "target": "/dev/disk/by-id/scsi-36001405c20616f7b8b2492d8913a4d24",
                },
                operations=LUSTRE_RA_OPS,
            )
        ]
    ),
    "iml/test_manage_target_primitive_chroma_Target_MGS_a3903a.xml": empty(
        resources=[
            rsc(
                "MGS_a3903a",
                "ocf",
                "chroma",
                "Target",
                {"target": "c2890397-e0a2-4759-8f4e-df5ed64e1518"},
                {"target-role": "Started"},
                [op("monitor", "120", "60"), op("start", "0", "300"), op("stop", "0", "300")],
            )
        ]
    ),
    "iml/test_fencing_cib_configured_result.el6.xml": empty(
        properties={
            "dc-version": "1.1.10-14.el6_5.3-368c726",
            "cluster-infrastructure": "openais",
            "expected-quorum-votes": "2",
            "no-quorum-policy": "ignore",
            "symmetric-cluster": "true",
            "stonith-enabled": "true",
            "configured_by": "lotus-33vm15",
        }
    ),
    "iml/test_corosync_crm_mon_1.1.7-6.el6.xml": empty(
        nodes=[node("storage0.node", "storage0.node"), node("storage1.node", "storage1.node")]
    ),
    "iml/test_corosync_crm_mon_1.1.7-6.el6.literal.xml": empty(
        nodes=[node("storage0.node", "storage0.node"), node("storage1.node", "storage1.node")]
    ),
    "iml/vagrant_fixture.xml": empty(
        nodes=VAGRANT_NODES,
        resources=VAGRANT_RESOURCES,
        stonith=VAGRANT_STONITH,
        placement={
            "ost0": ["oss1.local"],
            "ost1": ["oss2.local"],
            "ost2": ["oss2.local"],
            "ost3": ["oss1.local"],
            "ost4": ["oss2.local"],
            "ost5": ["oss1.local"],
            "ost6": ["oss2.local"],
            "ost7": ["oss1.local"],
            "ost8": ["oss1.local"],
            "ost9": ["oss2.local"],
            "vboxfence": [],
        },
    ),
    # ost8 disabled, ost9 moved to oss1.
    "iml/vagrant_stopped_fixture.xml": empty(
        nodes=VAGRANT_NODES,
        resources=VAGRANT_RESOURCES,
        stonith=VAGRANT_STONITH,
        placement={
            "ost0": ["oss1.local"],
            "ost1": ["oss2.local"],
            "ost2": ["oss2.local"],
            "ost3": ["oss1.local"],
            "ost4": ["oss2.local"],
            "ost5": ["oss1.local"],
            "ost6": ["oss2.local"],
            "ost7": ["oss1.local"],
            "ost8": [],
            "ost9": ["oss1.local"],
            "vboxfence": [],
        },
    ),
    "iml/crm-mon-complex.xml": empty(
        nodes=[
            node("1", "ai400-0a9c-vm03"),
            node("2", "ai400-0a9c-vm02"),
            node("3", "ai400-0a9c-vm01"),
            node("4", "ai400-0a9c-vm00"),
        ],
        resources=[
            rsc("docker", "systemd", None, "docker.service"),
            rsc("docker-service", "systemd", None, "iml-docker.service"),
            rsc("fs0a9c-client", "systemd", None, "lustre-fs0a9c-client.mount"),
            rsc("ifspeed-lnet-o2ib0-o2ib0", "ocf", "ddn", "ifspeed"),
            rsc("mdt0000-fs0a9c", "ocf", "ddn", "lustre-server"),
            rsc("mgs", "ocf", "ddn", "lustre-server"),
            rsc("ost0000-fs0a9c", "ocf", "ddn", "lustre-server"),
            rsc("ost0001-fs0a9c", "ocf", "ddn", "lustre-server"),
            rsc("ost0002-fs0a9c", "ocf", "ddn", "lustre-server"),
            rsc("ost0003-fs0a9c", "ocf", "ddn", "lustre-server"),
            rsc("sfa-home-vd", "ocf", "ddn", "sfa-home-vd"),
        ],
        placement={
            "docker": ["ai400-0a9c-vm00"],
            "docker-service": ["ai400-0a9c-vm00"],  # role Starting: counted as placed
            "fs0a9c-client": [],
            "ifspeed-lnet-o2ib0-o2ib0": [f"ai400-0a9c-vm0{i}" for i in range(4)],
            "mdt0000-fs0a9c": ["ai400-0a9c-vm00"],
            "mgs": ["ai400-0a9c-vm00"],
            "ost0000-fs0a9c": ["ai400-0a9c-vm00"],
            "ost0001-fs0a9c": ["ai400-0a9c-vm01"],
            "ost0002-fs0a9c": ["ai400-0a9c-vm02"],
            "ost0003-fs0a9c": ["ai400-0a9c-vm03"],
            "sfa-home-vd": [f"ai400-0a9c-vm0{i}" for i in range(4)],
        },
    ),
    "pcs/cib-empty.xml": empty(),
    "pcs/cib-empty-1.2.xml": empty(),
    "pcs/cib-empty-withnodes.xml": empty(nodes=[node("1", "rh7-1"), node("2", "rh7-2")]),
    "pcs/crm_mon.minimal.xml": empty(),
}


@pytest.mark.parametrize("path", real_fixture_params(*EXPECTED))
def test_read_cib_gives_what_each_artifact_holds(path):
    rel = f"{path.parent.name}/{path.name}"
    assert cib.read_cib_file(str(path)) == EXPECTED[rel]


def test_the_modules_read_cib_and_parse_cib_give_the_librarys_data():
    path = SUITE_FIXTURES / "cluster" / "el6-iml-cib-backup.xml"
    expected = cib.read_cib_file(str(path))
    assert pacemaker.read_cib(str(path)) == expected
    assert pacemaker.parse_cib(path.read_text(), source=str(path)) == expected


ES_ALL = [f"ai400-0a9c-vm0{i}" for i in range(4)]
VM00, VM01, VM02, VM03 = ([name] for name in ES_ALL)
ES_PLACEMENT = {
    "sfa-home-vd": ES_ALL,
    "ifspeed-lnet-o2ib0-o2ib0": ES_ALL,
    "ping-lnet-o2ib0-o2ib0": ES_ALL,
    "lustre": VM01,
    "test": VM01,
    "fs0a9c": VM02,
    "mgs-vg": VM00,
    "mgs": VM00,
    "mdt0000-fs0a9c-vg": VM00,
    "mdt0001-fs0a9c-vg": VM01,
    "mdt0002-fs0a9c-vg": VM02,
    "mdt0003-fs0a9c-vg": VM03,
    "mdt0000-fs0a9c": VM00,
    "mdt0001-fs0a9c": VM01,
    "mdt0002-fs0a9c": VM02,
    "mdt0003-fs0a9c": VM03,
    "ost0000-fs0a9c": VM00,
    "ost0001-fs0a9c": VM01,
    "ost0002-fs0a9c": VM02,
    "ost0003-fs0a9c": VM03,
    "ost0004-fs0a9c": VM00,
    "ost0005-fs0a9c": VM01,
    "ost0006-fs0a9c": VM02,
    "ost0007-fs0a9c": VM03,
    "stonith-ai400-0a9c-vm00": VM03,
    "stonith-ai400-0a9c-vm01": VM03,
    "stonith-ai400-0a9c-vm02": VM01,
    "stonith-ai400-0a9c-vm03": VM02,
    "esui-ip": VM00,
    "esui-fs": VM00,
    "docker": VM00,
    "esui-docker": VM00,
    "fs0a9c-client": [],
    "lpurge-fs0a9c-OST0000": [],
    "lpurge-fs0a9c-OST0001": [],
    "lamigo-fs0a9c-MDT0000": [],
    "lamigo-fs0a9c-MDT0001": [],
    "lamigo-fs0a9c-MDT0002": [],
    "lamigo-fs0a9c-MDT0003": [],
}
ES_BANS = [
    loc(
        f"location-stonith-ai400-0a9c-vm0{i}.ai400-0a9c-vm0{i}",
        f"stonith-ai400-0a9c-vm0{i}",
        f"ai400-0a9c-vm0{i}",
        "-1000000",
    )
    for i in range(4)
] + [
    loc("mgs-placement-rule", "mgs", "ai400-0a9c-vm02", "-1000000"),
    loc("mgs-placement-rule", "mgs", "ai400-0a9c-vm03", "-1000000"),
    loc("mgs-vg-placement-rule", "mgs-vg", "ai400-0a9c-vm02", "-1000000"),
    loc("mgs-vg-placement-rule", "mgs-vg", "ai400-0a9c-vm03", "-1000000"),
]


# The same 4-node ES cluster two days apart; es_ban lists resources under their nodes.
@pytest.mark.parametrize(
    "path", real_fixture_params("iml/es_fixture.xml", "iml/es_ban_fixture.xml")
)
def test_read_cib_reads_es_crm_mon_in_both_layouts(path):
    got = cib.read_cib_file(str(path))
    assert got["properties"] == {} and got["rsc_defaults"] == {}
    assert [(n["id"], n["uname"]) for n in got["nodes"]] == [
        ("1", "ai400-0a9c-vm03"),
        ("2", "ai400-0a9c-vm02"),
        ("3", "ai400-0a9c-vm01"),
        ("4", "ai400-0a9c-vm00"),
    ]
    attrs = {n["uname"]: n["attributes"] for n in got["nodes"]}
    assert [len(attrs[name]) for name in ES_ALL] == [28, 27, 26, 25]
    assert attrs["ai400-0a9c-vm00"]["netmap"] == "lnet-o2ib0-o2ib0=ib0,ib1"
    assert attrs["ai400-0a9c-vm03"]["ost0007-fs0a9c-preference-config"] == "100"
    assert "mgs-placement" not in attrs["ai400-0a9c-vm03"]
    assert got["placement"] == ES_PLACEMENT
    assert got["locations"] == ES_BANS
    assert [s["id"] for s in got["stonith"]] == [f"stonith-ai400-0a9c-vm0{i}" for i in range(4)]
    assert {s["type"] for s in got["stonith"]} == {"fence_sfa_vm"}
    by_id = {r["id"]: r for r in got["resources"]}
    assert len(by_id) == 35
    assert by_id["mgs"] == rsc("mgs", "ocf", "ddn", "lustre-server")
    assert by_id["esui-fs"] == rsc("esui-fs", "ocf", "heartbeat", "Filesystem")
    assert by_id["lpurge-fs0a9c-OST0000"] == rsc(
        "lpurge-fs0a9c-OST0000", "systemd", None, "lpurge@fs0a9c-OST0000.service"
    )


@pytest.mark.parametrize("path", real_fixture_params("pcs/cib-large.xml"))
def test_read_cib_reads_the_large_pcs_cib(path):
    got = cib.read_cib_file(str(path))
    assert got["nodes"] == [node("1", "rh7-1"), node("2", "rh7-2"), node("3", "rh7-3")]
    ids = {"dummy", "dummylarge"} | {f"dummy{i}" for i in range(1, 251)}
    assert [r["id"] for r in got["resources"]] == sorted(ids)
    assert got["stonith"] == []
    by_id = {r["id"]: r for r in got["resources"]}
    assert by_id["dummy250"] == rsc(
        "dummy250",
        "ocf",
        "heartbeat",
        "Dummy",
        {},
        {"target-role": "Stopped"},
        [op("monitor", "10", "20"), op("start", "0s", "20"), op("stop", "0s", "20")],
    )
    large_meta = by_id["dummylarge"]["meta"]
    assert len(large_meta) == 3707
    assert large_meta["foo-4705"] == "bar-4705"
    assert len(got["locations"]) == 1750
    by_loc = {rec["id"]: rec for rec in got["locations"]}
    assert by_loc["location-dummy1-rh7-1-100"] == loc(
        "location-dummy1-rh7-1-100", "dummy1", "rh7-1", "100"
    )
    assert by_loc["location-dummy250-rh7-3-100"] == loc(
        "location-dummy250-rh7-3-100", "dummy250", "rh7-3", "50"
    )
    assert by_loc["location-dummy1-rh7-7--INFINITY"]["score"] == "-INFINITY"
    scores = sorted({rec["score"] for rec in got["locations"]})
    assert scores == ["-INFINITY", "100", "50"]
    # An empty <status/>: every configured resource is known to run nowhere.
    assert got["placement"] == {ident: [] for ident in sorted(ids)}


def test_read_cib_reads_the_el6_iml_backup():
    got = cib.read_cib_file(str(SUITE_FIXTURES / "cluster" / "el6-iml-cib-backup.xml"))
    assert got["properties"]["cluster-infrastructure"] == "classic openais (with plugin)"
    assert got["properties"]["configured_by"] == "ct6-mds1"
    assert got["rsc_defaults"] == {"resource-stickiness": "1000", "failure-timeout": "20m"}
    mds2 = got["nodes"][1]
    assert mds2["id"] == "ct6-mds2"
    assert mds2["attributes"]["0_fence_password"] == MASK
    assert mds2["attributes"]["1_fence_password"] == MASK
    assert mds2["attributes"]["1_fence_agent"] == "fence_ipmilan"
    assert [r["id"] for r in got["resources"]] == [
        "MGS_32834e",
        "demo-MDT0000_802c1b",
        "demo-OST0000_4a7e91",
        "demo-OST0001_c3d2f0",
    ]
    assert got["resources"][0] == rsc(
        "MGS_32834e",
        "ocf",
        "chroma",
        "Target",
        {"target": "9aaf3d9d-df51-48d5-9da1-49d57dee12c0"},
        {"target-role": "Started"},
        [op("monitor", "5", "60"), op("start", "0", "300"), op("stop", "0", "300")],
    )
    assert got["stonith"] == [{"id": "st-fencing", "type": "fence_chroma", "attributes": {}}]
    assert (
        loc(
            "cli-ban-demo-OST0000_4a7e91-on-ct6-mds2",
            "demo-OST0000_4a7e91",
            "ct6-mds2",
            "-INFINITY",
            "Started",
        )
        in got["locations"]
    )
    # OST0001 failed over to mds1 earlier (stop on mds2, start on mds1); probes rc 7 elsewhere.
    assert got["placement"] == {
        "MGS_32834e": ["ct6-mds1"],
        "demo-MDT0000_802c1b": ["ct6-mds2"],
        "demo-OST0000_4a7e91": ["ct6-mds1"],
        "demo-OST0001_c3d2f0": ["ct6-mds1"],
        "st-fencing": ["ct6-mds2"],
    }


def test_every_real_cib_and_crm_mon_artifact_has_an_expectation(real_fixtures):
    covered = set(EXPECTED) | {
        "iml/es_fixture.xml",
        "iml/es_ban_fixture.xml",
        "pcs/cib-large.xml",
    }
    present = {
        f"{p.parent.name}/{p.name}"
        for p in list((REAL_FIXTURES / "iml").glob("*.xml"))
        + list((REAL_FIXTURES / "pcs").glob("*.xml"))
    }
    assert present - covered == set()


def status_cib(ops_xml):
    return f"""<cib><configuration><crm_config/><nodes/><resources>
    <primitive id="r" class="ocf" provider="pacemaker" type="Dummy"/>
    </resources><constraints/></configuration><status>
    <node_state id="1" uname="n1"><lrm id="1"><lrm_resources>
    <lrm_resource id="r" class="ocf" provider="pacemaker" type="Dummy">{ops_xml}</lrm_resource>
    </lrm_resources></lrm></node_state></status></cib>"""


def lrm_op(call, operation, rc="0", interval="0", op_status="0"):
    return (
        f'<lrm_rsc_op id="r_{operation}_{call}" operation="{operation}" call-id="{call}" '
        f'rc-code="{rc}" op-status="{op_status}" interval="{interval}"/>'
    )


@pytest.mark.parametrize(
    ("ops", "running"),
    [
        ([lrm_op(3, "start"), lrm_op(4, "monitor", interval="5000")], True),
        ([lrm_op(3, "start"), lrm_op(5, "stop")], False),
        ([lrm_op(1, "monitor", rc="7")], False),
        ([lrm_op(1, "monitor", rc="5")], False),
        ([lrm_op(1, "monitor", rc="8")], True),
        ([lrm_op(3, "start"), lrm_op(5, "stop", rc="1")], True),  # failed stop: maybe active
        ([lrm_op(3, "start", rc="1")], True),  # failed start: not known stopped
        ([lrm_op(5, "stop"), lrm_op(3, "start")], False),  # call-id order, not file order
        ([lrm_op(3, "start"), lrm_op(9, "stop", op_status="-1")], True),  # pending: ignored
        ([lrm_op(3, "start"), lrm_op(6, "notify")], True),
        ([], False),
    ],
)
def test_placement_follows_the_latest_operation_on_each_node(ops, running):
    got = cib.parse_cib(status_cib("".join(ops)))
    assert got["placement"] == {"r": ["n1"] if running else []}


def test_clone_instances_in_the_status_count_for_their_clone_resource():
    xml = status_cib("").replace(
        '<lrm_resource id="r" class="ocf" provider="pacemaker" type="Dummy"></lrm_resource>',
        '<lrm_resource id="r:0">' + lrm_op(2, "start") + "</lrm_resource>",
    )
    assert cib.parse_cib(xml)["placement"] == {"r": ["n1"]}


def test_crm_mon_2_output_reads_like_1_1():
    xml = """<pacemaker-result api-version="2.25" request="crm_mon --output-as=xml">
      <nodes><node name="a.example" id="1" online="true"/></nodes>
      <resources>
        <resource id="t1" resource_agent="ocf:chroma:Target" role="Started" active="true">
          <node name="a.example" id="1" cached="true"/>
        </resource>
        <resource id="st-fencing" resource_agent="stonith:fence_chroma" role="Stopped"/>
      </resources>
      <node_attributes><node name="a.example">
        <attribute name="0_fence_password" value="x"/><attribute name="0_fence_agent" value="y"/>
      </node></node_attributes>
      <bans><ban id="cli-ban-t1-on-b" resource="t1" node="b" weight="-1000000"
        promoted-only="false" master_only="false"/></bans>
      <status code="0" message="OK"/>
    </pacemaker-result>"""
    got = cib.parse_cib(xml)
    assert got["nodes"] == [
        node("1", "a.example", {"0_fence_password": MASK, "0_fence_agent": "y"})
    ]
    assert got["resources"] == [rsc("t1", "ocf", "chroma", "Target")]
    assert got["stonith"] == [{"id": "st-fencing", "type": "fence_chroma", "attributes": {}}]
    assert got["placement"] == {"t1": ["a.example"], "st-fencing": []}
    assert got["locations"] == [loc("cli-ban-t1-on-b", "t1", "b", "-1000000")]


def test_a_crm_mon_error_result_is_an_error():
    xml = """<pacemaker-result api-version="2.25"><status code="102" message="Not connected">
      <errors><error>crm_mon: Connection to cluster failed</error></errors></status>
      </pacemaker-result>"""
    with pytest.raises(CommandExecutionError, match="Not connected.*Connection to cluster failed"):
        cib.parse_cib(xml, source="crm_mon")


def test_secrets_are_masked_wherever_they_appear():
    xml = """<cib><configuration><crm_config><cluster_property_set id="c">
      <nvpair id="c1" name="my-password" value="p1"/></cluster_property_set></crm_config>
      <nodes><node id="1" uname="n"><instance_attributes id="n1">
      <nvpair id="n1a" name="0_fence_Password" value="p2"/></instance_attributes></node></nodes>
      <resources><primitive id="r" class="ocf" provider="x" type="y">
      <instance_attributes id="r1"><nvpair id="r1a" name="passwd" value="p3"/>
      <nvpair id="r1b" name="user" value="u"/></instance_attributes>
      <meta_attributes id="r2"><nvpair id="r2a" name="db_passwd_file" value="p4"/></meta_attributes>
      </primitive></resources><constraints/>
      <rsc_defaults><meta_attributes id="d"><nvpair id="d1" name="password" value="p5"/>
      </meta_attributes></rsc_defaults></configuration></cib>"""
    got = cib.parse_cib(xml)
    assert "p1" not in repr(got) and "p2" not in repr(got) and "p3" not in repr(got)
    assert "p4" not in repr(got) and "p5" not in repr(got)
    assert got["resources"][0]["attributes"] == {"passwd": MASK, "user": "u"}


def test_every_kind_of_fence_secret_is_masked_not_only_passwords():
    names = ["snmp_community", "hexadecimal_kg", "api-key", "auth_token", "secret_file"]
    pairs = "".join(f'<nvpair id="a{i}" name="{n}" value="v{i}"/>' for i, n in enumerate(names))
    xml = (
        '<resources><primitive id="f" class="stonith" type="fence_ipmilan">'
        f'<instance_attributes id="a">{pairs}<nvpair id="b" name="ipaddr" value="10.0.0.9"/>'
        "</instance_attributes></primitive></resources>"
    )
    attributes = cib.parse_cib(xml)["stonith"][0]["attributes"]
    assert attributes == {**dict.fromkeys(names, MASK), "ipaddr": "10.0.0.9"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("this is not xml", "is not XML"),
        ("", "is not XML"),
        ("<html><body/></html>", "root element <html> is neither a CIB"),
        (
            "<cib><configuration><resources><primitive class='ocf'/></resources>"
            "</configuration></cib>",
            "line 1: <primitive> has no id",
        ),
        (
            "<constraints><rsc_location rsc='r' node='n' score='1'/></constraints>",
            "<rsc_location> has no id",
        ),
    ],
)
def test_bad_input_is_an_error_naming_the_source(text, message):
    with pytest.raises(CommandExecutionError, match=message) as err:
        cib.parse_cib(text, source="backup.xml")
    assert "backup.xml" in str(err.value)


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(CommandExecutionError, match="cannot read .*nope.xml"):
        cib.read_cib_file(str(tmp_path / "nope.xml"))


def location(ident, rsc_id, node_name, score):
    return {"id": ident, "rsc": rsc_id, "node": node_name, "score": score, "role": None}


TARGET = {"class": "ocf", "provider": "chroma", "type": "Target"}


@pytest.mark.parametrize(
    ("locations", "preferred"),
    [
        ([location("t-secondary", "t", "b", "10"), location("t-primary", "t", "a", "20")], "a"),
        # The IML id wins even over a higher score elsewhere.
        ([location("t-primary", "t", "a", "20"), location("other", "t", "b", "50")], "a"),
        ([location("l1", "t", "a", "10"), location("l2", "t", "b", "30")], "b"),
        ([location("l1", "t", "a", "INFINITY"), location("l2", "t", "b", "30")], "a"),
        # A move, a ban or a relocation is no preference.
        ([location("l1", "t", "a", "10"), location("cli-prefer-t", "t", "b", "INFINITY")], "a"),
        ([location("l1", "t", "a", "10"), location("pcs-relocate-t", "t", "b", "INFINITY")], "a"),
        ([location("l1", "t", "a", "10"), location("l2", "t", "b", "10")], None),
        ([location("l1", "t", "a", "-INFINITY")], None),
        ([], None),
    ],
)
def test_preferred_node_of_a_target(locations, preferred):
    data = {"resources": [dict(TARGET, id="t")], "locations": locations}
    assert cib.preferred(data) == {"t": preferred}


def test_preferred_nodes_only_cover_targets():
    data = {
        "resources": [
            dict(TARGET, id="t"),
            {"id": "d", "class": "ocf", "provider": "pacemaker", "type": "Dummy"},
        ],
        "locations": [location("t-primary", "t", "a", "20"), location("d-primary", "d", "a", "20")],
    }
    assert cib.preferred(data) == {"t": "a"}


def test_the_preferred_placement_needs_a_preferred_node_for_every_target():
    assert cib.preferred_placement({"t1": "a", "t2": "b"}) == {"t1": ["a"], "t2": ["b"]}
    with pytest.raises(CommandExecutionError, match="no preferred node for t2"):
        cib.preferred_placement({"t1": "a", "t2": None})
    with pytest.raises(CommandExecutionError, match="holds no ocf:chroma:Target"):
        cib.preferred_placement({})


def test_a_wanted_placement_reads_a_node_a_list_or_none_and_finds_what_is_misplaced():
    want = cib.wanted_placement({"t1": "a", "t2": ["c", "b"], "t3": None})
    assert want == {"t1": ["a"], "t2": ["b", "c"], "t3": []}
    placement = {"t1": ["a"], "t2": ["b"], "t3": ["a"]}
    assert cib.misplaced(want, placement) == {
        "t2": {"old": ["b"], "new": ["b", "c"]},
        "t3": {"old": ["a"], "new": []},
    }
    with pytest.raises(SaltInvocationError, match="not a mapping"):
        cib.wanted_placement(["t1"])
