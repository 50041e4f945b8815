"""What the master sends to a node in its old life, and how it reads the answers."""

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from lustre_upgrade_lib import old_cluster
from tests.support import REAL_FIXTURES, REPO_ROOT


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (old_cluster.crm_mon_argv(), ["crm_mon", "--one-shot", "--as-xml"]),
        (old_cluster.cib_query_argv(), ["cibadmin", "--query"]),
        (
            old_cluster.standby_argv("ct6-oss1"),
            ["crm_attribute", "--type", "nodes", "--node", "ct6-oss1", "--name", "standby",
             "--update", "on"],
        ),
        (
            old_cluster.standby_argv("ct6-oss1", standby=False),
            ["crm_attribute", "--type", "nodes", "--node", "ct6-oss1", "--name", "standby",
             "--update", "off"],
        ),
        (
            old_cluster.target_role_argv("MGS_32834e", "Stopped"),
            ["crm_resource", "--resource", "MGS_32834e", "--meta", "--set-parameter",
             "target-role", "--parameter-value", "Stopped"],
        ),
        (
            old_cluster.stop_cluster_argvs(),
            [["service", "pacemaker", "stop"], ["service", "corosync", "stop"]],
        ),
        (
            old_cluster.disable_autostart_argvs(),
            [["chkconfig", "pacemaker", "off"], ["chkconfig", "corosync", "off"]],
        ),
        (old_cluster.daemons_argv(), ["pidof", "pacemakerd", "corosync"]),
    ],
    ids=["crm_mon", "cib", "standby", "unstandby", "stop-target", "stop", "disable", "pidof"],
)  # fmt: skip
def test_old_node_commands_are_pacemakers_own_cli_and_sysv(argv, expected):
    assert argv == expected


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: old_cluster.standby_argv(""), "node '' is not a name"),
        (lambda: old_cluster.standby_argv("--all"), "node '--all' is not a name"),
        (lambda: old_cluster.target_role_argv("MGS", "Master"), "target-role 'Master'"),
        (lambda: old_cluster.service_argv("pacemaker", "restart"), "service action 'restart'"),
    ],
)
def test_bad_arguments_are_refused_before_any_command(build, message):
    with pytest.raises(SaltInvocationError, match=message):
        build()


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"retcode": 1, "stdout": "", "stderr": ""}, []),
        ({"retcode": 0, "stdout": "2411 2398", "stderr": ""}, ["2411", "2398"]),
    ],
)
def test_pidof_tells_which_cluster_daemons_run(result, expected):
    assert old_cluster.running_daemons(result) == expected


def test_a_pidof_that_did_not_answer_is_not_read_as_stopped():
    with pytest.raises(CommandExecutionError, match="exit 127"):
        old_cluster.running_daemons({"retcode": 127, "stdout": "", "stderr": "not found"})


PROC_MOUNTS = """\
/dev/mapper/vg_root-lv_root / ext4 rw,relatime,barrier=1,data=ordered 0 0
proc /proc proc rw,relatime 0 0
/dev/sdb /mnt/MGS lustre ro 0 0
/dev/sdc /mnt/demo-MDT0000 lustre ro 0 0
/srv/targets/odd /mnt/with\\040space none rw,bind 0 0
"""


def test_proc_mounts_are_read_with_their_escapes():
    mounts = old_cluster.parse_proc_mounts(PROC_MOUNTS)
    assert mounts[2] == {"device": "/dev/sdb", "mountpoint": "/mnt/MGS", "fstype": "lustre"}
    assert mounts[4]["mountpoint"] == "/mnt/with space"


@pytest.mark.parametrize(
    ("mountpoints", "served"),
    [
        (["/mnt/MGS", "/mnt/demo-MDT0000"], ["/mnt/MGS", "/mnt/demo-MDT0000"]),
        (["/mnt/demo-OST0000"], []),
        (["/mnt/with space/"], ["/mnt/with space"]),
        (["/mnt"], []),
    ],
)
def test_served_mount_points_are_the_target_stores_that_are_mounted(mountpoints, served):
    mounts = old_cluster.parse_proc_mounts(PROC_MOUNTS)
    assert old_cluster.served_mountpoints(mounts, mountpoints) == served


def test_the_target_store_listing_reads_every_target_by_uuid(real_fixtures):
    mgs = (REAL_FIXTURES / "online-help" / "targets-MGS.json").read_text()
    mdt = (REAL_FIXTURES / "online-help" / "targets-demo-MDT0000.json").read_text()
    listing = "".join(
        f"/var/lib/chroma/targets/{uuid}:{line}\n"
        for uuid, text in (("0b9bd6a4", mgs), ("9aaf3d9d", mdt))
        for line in text.splitlines()
    )
    targets = old_cluster.parse_target_store_listing(listing)
    assert sorted(targets) == ["0b9bd6a4", "9aaf3d9d"]
    assert targets["0b9bd6a4"]["mntpt"] == "/mnt/MGS"
    assert targets["9aaf3d9d"]["target_name"] == "demo-MDT0000"


def test_a_damaged_target_file_is_named_with_what_to_do():
    listing = '/var/lib/chroma/targets/0b9bd6a4:{"bdev": "/dev/sdb"\n'
    with pytest.raises(CommandExecutionError, match="targets/0b9bd6a4: not valid JSON"):
        old_cluster.parse_target_store_listing(listing)


def test_the_old_cluster_is_read_by_section_without_its_node_attributes():
    from lustre_upgrade_lib import cib

    full = (REPO_ROOT / "tests" / "fixtures" / "cluster" / "el6-iml-cib-backup.xml").read_text()
    root = cib.parse_xml(full, "fixture")
    sections = {
        scope: cib.to_bytes(root.find(f".//{scope}")).decode()
        for scope in old_cluster.QUERIED_SCOPES
    }
    assert [old_cluster.cib_query_argv(s) for s in old_cluster.QUERIED_SCOPES] == [
        ["cibadmin", "--query", "--scope", "resources"],
        ["cibadmin", "--query", "--scope", "constraints"],
        ["cibadmin", "--query", "--scope", "status"],
    ]
    with pytest.raises(SaltInvocationError):
        old_cluster.cib_query_argv("nodes")
    assembled = old_cluster.assemble_cib(sections)
    whole, parts = cib.parse_cib(full), cib.parse_cib(assembled)
    for key in ("resources", "locations", "placement"):
        assert parts[key] == whole[key], key
    assert parts["nodes"] == [] and "_fence_password" not in assembled
    assert "_fence_password" in full


class SectionSite:
    """A node answering ``cibadmin --query --scope S`` from a CIB file."""

    def __init__(self, path):
        from lxml import etree

        self.root = etree.parse(str(path)).getroot()
        self.asked = []

    def run_argv(self, minion, argv, timeout=60):
        from lxml import etree

        self.asked.append(argv)
        scope = argv[argv.index("--scope") + 1]
        return {"retcode": 0, "stdout": etree.tostring(self.root.find(f".//{scope}")).decode()}


EL6_CIB = REPO_ROOT / "tests" / "fixtures" / "cluster" / "el6-iml-cib-backup.xml"


def test_the_status_section_alone_places_targets_as_the_whole_cib_does():
    from lustre_upgrade_lib import old_side

    site = SectionSite(EL6_CIB)
    ids = sorted(old_side.targets(old_side.read_cluster(site, "ct6-mds2")))
    site.asked.clear()
    polled = old_side.placement_now(site, "ct6-mds2", ids)
    assert site.asked == [["cibadmin", "--query", "--scope", "status"]]
    assert polled == old_side.placement(old_side.read_cluster(site, "ct6-mds2"), ids)
    # demo-OST0001 was stopped on ct6-mds2 and started on ct6-mds1 (its last operations)
    assert polled["demo-OST0001_c3d2f0"] == ["ct6-mds1"]
    assert polled["demo-MDT0000_802c1b"] == ["ct6-mds2"]
    assert set(polled) == set(ids)
