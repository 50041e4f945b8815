"""The preflight of one pair read from the old cluster's crm_mon and CIB: every finding
at once, each with the EL6 command that fixes it."""

import json

import pytest
from salt.exceptions import CommandExecutionError

from lustre_upgrade_lib import cluster_health, pair_preflight
from tests.support import REAL_FIXTURES, SUITE_FIXTURES

NODES = ("oss1-a", "oss1-b")
# An IML-like pair: target -> preferred node (its -primary location, score 20).
TARGETS = {
    "MGS": "oss1-a",
    "labfs-MDT0000": "oss1-a",
    "labfs-OST0000": "oss1-b",
    "labfs-OST0001": "oss1-b",
}


def _primitive(rsc, role):
    meta = (
        f'<meta_attributes id="{rsc}-meta"><nvpair id="{rsc}-meta-target-role" '
        f'name="target-role" value="{role}"/></meta_attributes>'
        if role
        else ""
    )
    return (
        f'<primitive id="{rsc}" class="ocf" provider="chroma" type="Target">{meta}'
        f'<instance_attributes id="{rsc}-ia"><nvpair id="{rsc}-ia-target" name="target" '
        f'value="uuid-{rsc}"/></instance_attributes></primitive>'
    )


def _locations(rsc, primary):
    secondary = NODES[1] if primary == NODES[0] else NODES[0]
    return (
        f'<rsc_location id="{rsc}-primary" rsc="{rsc}" node="{primary}" score="20"/>'
        f'<rsc_location id="{rsc}-secondary" rsc="{rsc}" node="{secondary}" score="10"/>'
    )


def _op(rsc, operation, call, rc="0", interval="0"):
    return (
        f'<lrm_rsc_op id="{rsc}_{operation}_{call}" operation_key="{rsc}_{operation}_{interval}" '
        f'operation="{operation}" call-id="{call}" rc-code="{rc}" op-status="0" '
        f'interval="{interval}"/>'
    )


def _history(rsc, node, running, primary):
    if node in running:  # started, then monitored
        ops = _op(rsc, "start", 10) + _op(rsc, "monitor", 11, interval="5000")
    elif node == primary:  # it ran here and was stopped
        ops = _op(rsc, "start", 10) + _op(rsc, "stop", 12)
    else:  # the probe found it not running
        ops = _op(rsc, "monitor", 1, rc="7")
    return (
        f'<lrm_resource id="{rsc}" class="ocf" provider="chroma" type="Target">{ops}</lrm_resource>'
    )


def cib_xml(targets=TARGETS, running=None, roles=None, constraints="", status=True):
    """The CIB ``cibadmin --query`` gives; ``running``: target -> nodes (default: its
    preferred node), ``roles``: target -> meta target-role."""
    running = {rsc: [node] for rsc, node in targets.items()} | (running or {})
    roles = roles or {}
    resources = "".join(_primitive(rsc, roles.get(rsc)) for rsc in targets)
    locations = "".join(_locations(rsc, node) for rsc, node in targets.items())
    states = "".join(
        f'<node_state id="{i}" uname="{node}" in_ccm="true" crmd="online" join="member">'
        f'<lrm id="{i}"><lrm_resources>'
        + "".join(_history(rsc, node, running[rsc], targets[rsc]) for rsc in targets)
        + "</lrm_resources></lrm></node_state>"
        for i, node in enumerate(NODES, 1)
    )
    return (
        '<cib validate-with="pacemaker-1.2" crm_feature_set="3.0.7"><configuration>'
        '<crm_config><cluster_property_set id="cib-bootstrap-options">'
        '<nvpair id="o-nqp" name="no-quorum-policy" value="ignore"/></cluster_property_set>'
        "</crm_config><nodes>"
        + "".join(f'<node id="{i}" uname="{node}"/>' for i, node in enumerate(NODES, 1))
        + "</nodes><resources>"
        + '<primitive id="st-fencing" class="stonith" type="fence_chroma"/>'
        + resources
        + f"</resources><constraints>{locations}{constraints}</constraints></configuration>"
        + (f"<status>{states}</status>" if status else "")
        + "</cib>"
    )


def crm_mon_xml(quorum=True, maintenance=False, standby=(), offline=(), failures="", running=None):
    """``crm_mon --one-shot --as-xml`` (Pacemaker 1.1's shape); ``running``: target -> nodes."""
    running = running if running is not None else {rsc: [n] for rsc, n in TARGETS.items()}
    nodes = "".join(
        f'<node name="{n}" id="{i}" online="{str(n not in offline).lower()}" '
        f'standby="{str(n in standby).lower()}" maintenance="false" unclean="false" '
        'shutdown="false" type="member"/>'
        for i, n in enumerate(NODES, 1)
    )
    resources = "".join(
        f'<resource id="{rsc}" resource_agent="ocf::chroma:Target" '
        f'role="{"Started" if on else "Stopped"}" nodes_running_on="{len(on)}">'
        + "".join(f'<node name="{n}" id="{n}"/>' for n in on)
        + "</resource>"
        for rsc, on in running.items()
    )
    return (
        '<crm_mon version="1.1.10"><summary>'
        f'<current_dc present="true" name="{NODES[0]}" id="1" '
        f'with_quorum="{str(quorum).lower()}"/>'
        f'<cluster_options maintenance-mode="{str(maintenance).lower()}"/>'
        f"</summary><nodes>{nodes}</nodes><resources>{resources}</resources>"
        f"<failures>{failures}</failures></crm_mon>"
    )


FAILED_MONITOR = (
    '<failure op_key="labfs-OST0000_monitor_5000" node="oss1-b" exitstatus="not running" '
    'exitreason="" exitcode="7" call="20" status="complete"/>'
)
CLI_BAN = (
    '<rsc_location id="cli-ban-labfs-OST0000-on-oss1-a" rsc="labfs-OST0000" '
    'node="oss1-a" role="Started" score="-INFINITY"/>'
)
CLI_PREFER = (
    '<rsc_location id="cli-prefer-MGS" rsc="MGS" node="oss1-a" role="Started" score="INFINITY"/>'
)
BAN = '<rsc_location id="mgs-never-on-b" rsc="MGS" node="oss1-b" score="-INFINITY"/>'
RULE_BAN = (
    '<rsc_location id="mdt-rule" rsc="labfs-MDT0000"><rule id="mdt-rule-r" '
    'score="-INFINITY"><expression id="mdt-rule-e" attribute="#uname" operation="eq" '
    'value="oss1-b"/></rule></rsc_location>'
)
HARMLESS = (
    # A ban from a node outside the pair, a ban of the fencing resource, a low score.
    '<rsc_location id="mgs-not-on-oss9" rsc="MGS" node="oss9" score="-INFINITY"/>'
    '<rsc_location id="st-not-on-a" rsc="st-fencing" node="oss1-a" score="-INFINITY"/>'
    '<rsc_location id="ost1-avoid-a" rsc="labfs-OST0001" node="oss1-a" score="-5"/>'
)
CLEAR = "crm_resource --cleanup --resource"
ENABLE = "--meta --delete-parameter target-role"


@pytest.mark.parametrize(
    ("cib_args", "mon_args", "expected", "texts"),
    [
        pytest.param({}, {}, [], [], id="healthy"),
        pytest.param({"constraints": HARMLESS}, {}, [], [], id="harmless-constraints"),
        pytest.param(
            {"constraints": CLI_BAN},
            {},
            [("location", "inhibitor")],
            [
                "temporary location constraint cli-ban-labfs-OST0000-on-oss1-a bans target "
                "labfs-OST0000 from node oss1-a: crm_resource --clear --resource labfs-OST0000"
            ],
            id="cli-ban",
        ),
        pytest.param(
            {"constraints": CLI_PREFER},
            {},
            [("location", "inhibitor")],
            [
                "temporary location constraint cli-prefer-MGS pins target MGS to node oss1-a "
                "(score INFINITY): crm_resource --clear --resource MGS"
            ],
            id="cli-prefer",
        ),
        pytest.param(
            {"constraints": BAN},
            {},
            [("location", "inhibitor")],
            [
                "location constraint mgs-never-on-b bans target MGS from node oss1-b: "
                "cibadmin --delete --xml-text '<rsc_location id=\"mgs-never-on-b\"/>'"
            ],
            id="infinity-ban",
        ),
        pytest.param(
            {"constraints": RULE_BAN},
            {},
            [("location", "warning")],
            ["mdt-rule bans target labfs-MDT0000 from the nodes its rule selects, which may"],
            id="rule-ban",
        ),
        pytest.param(
            {},
            {"standby": ["oss1-b"]},
            [("standby", "inhibitor")],
            [
                "node oss1-b is in standby: crm_attribute --type nodes --node oss1-b "
                "--name standby --update off"
            ],
            id="standby",
        ),
        pytest.param(
            {},
            {"failures": FAILED_MONITOR},
            [("failed-action", "inhibitor")],
            [f"{CLEAR} labfs-OST0000 --node oss1-b"],
            id="failed-action",
        ),
        pytest.param(
            {},
            {"quorum": False, "maintenance": True},
            [("maintenance-mode", "inhibitor"), ("quorum", "inhibitor")],
            ["maintenance-mode", "no quorum (DC oss1-a)"],
            id="no-quorum-maintenance",
        ),
        pytest.param(
            {"running": {"labfs-OST0001": []}},
            {},
            [("target-stopped", "inhibitor")],
            [
                "target labfs-OST0001 is stopped: it runs on no node: find the cause in "
                f"`crm_mon -1 --show-detail --failcounts`, fix it, then {CLEAR} labfs-OST0001"
            ],
            id="stopped",
        ),
        pytest.param(
            {"running": {"labfs-MDT0000": ["oss1-a", "oss1-b"]}},
            {},
            [("target-multiple-active", "inhibitor")],
            [
                "target labfs-MDT0000 is active on 2 nodes: oss1-a and oss1-b: check "
                "`mount -t lustre` on oss1-a and oss1-b"
            ],
            id="active-twice",
        ),
        pytest.param(
            {"running": {"MGS": []}, "roles": {"MGS": "Stopped"}},
            {},
            [("target-role", "inhibitor"), ("target-stopped", "inhibitor")],
            [
                f"target MGS is disabled: its meta target-role is Stopped: "
                f"crm_resource --resource MGS {ENABLE}",
                f"then crm_resource --resource MGS {ENABLE}",
            ],
            id="target-role-stopped",
        ),
        pytest.param(
            {"roles": {"MGS": "Stopped", "labfs-MDT0000": "Started"}},
            {},
            [("target-role", "inhibitor")],
            ["target MGS is disabled"],
            id="target-role-stopped-still-running",
        ),
        pytest.param(
            {"targets": {}},
            {"running": {}},
            [("targets", "inhibitor")],
            ["the old cluster's CIB holds no ocf:chroma:Target resource"],
            id="no-targets",
        ),
    ],
)
def test_cluster_findings(cib_args, mon_args, expected, texts):
    found = pair_preflight.cluster_findings(crm_mon_xml(**mon_args), cib_xml(**cib_args), NODES)
    assert [(f["check"], f["severity"]) for f in found] == expected
    lines = "\n".join(pair_preflight.finding_text(f) for f in found)
    for text in texts:
        assert text in lines


def test_every_problem_is_reported_at_once_in_a_stable_order():
    cib_text = cib_xml(
        running={"labfs-OST0001": [], "labfs-MDT0000": list(NODES)},
        constraints=BAN + CLI_BAN,
    )
    mon_text = crm_mon_xml(standby=["oss1-b"], failures=FAILED_MONITOR)
    found = pair_preflight.cluster_findings(mon_text, cib_text, list(reversed(NODES)))
    assert [f["check"] for f in found] == [
        "failed-action",
        "location",
        "location",
        "standby",
        "target-multiple-active",
        "target-stopped",
    ]
    assert found == sorted(found, key=lambda f: (f["check"], f["message"]))
    assert found == pair_preflight.cluster_findings(mon_text, cib_text, NODES)
    assert len(pair_preflight.inhibitors(found)) == 6


def test_a_cib_without_status_takes_placement_from_crm_mon():
    running = {rsc: [node] for rsc, node in TARGETS.items()} | {"labfs-OST0000": []}
    found = pair_preflight.cluster_findings(
        crm_mon_xml(running=running), cib_xml(status=False), NODES
    )
    assert [(f["check"], f["message"]) for f in found] == [
        ("target-stopped", "target labfs-OST0000 is stopped: it runs on no node")
    ]
    healthy = pair_preflight.cluster_findings(crm_mon_xml(), cib_xml(status=False), NODES)
    assert healthy == []


def test_a_crm_mon_snapshot_is_not_taken_for_the_cib():
    with pytest.raises(CommandExecutionError, match="old cluster CIB: <crm_mon> is crm_mon XML"):
        pair_preflight.cluster_findings(crm_mon_xml(), crm_mon_xml(), NODES)
    with pytest.raises(CommandExecutionError, match="oss1 crm_mon"):
        pair_preflight.cluster_findings("not xml", cib_xml(), NODES, source="oss1")


@pytest.mark.parametrize(
    ("free", "needed", "expected"),
    [
        (10 * pair_preflight.MIB, 10 * pair_preflight.MIB, None),
        (2**40, 512 * pair_preflight.MIB, None),
        (
            pair_preflight.MIB // 2,
            3 * pair_preflight.MIB,
            "only 0.5 MiB free under /var/cache/salt/master, 3.0 MiB needed for the pair's "
            "backups: free space under /var/cache/salt/master or move the master's cachedir",
        ),
    ],
)
def test_disk_space_finding(free, needed, expected):
    found = pair_preflight.disk_space_finding(free, needed, "/var/cache/salt/master")
    if expected is None:
        assert found is None
    else:
        assert (found["check"], found["severity"]) == ("disk-space", "inhibitor")
        assert pair_preflight.finding_text(found) == expected


def test_finding_text_and_inhibitors():
    warning = cluster_health.finding("x", "a warning", "", severity=cluster_health.WARNING)
    blocker = cluster_health.finding("y", "a blocker", "fix it")
    assert pair_preflight.finding_text(warning) == "a warning"
    assert pair_preflight.finding_text(blocker) == "a blocker: fix it"
    assert pair_preflight.inhibitors([warning, blocker]) == [blocker]


def test_the_suite_el6_cib_backup_names_its_leftover_move_and_ban():
    """The EL6 IML CIB (Pacemaker 1.1.10, with status) the other tests restore: a
    cli-ban and a cli-prefer left by crm_resource --ban/--move."""
    nodes = ("ct6-mds1", "ct6-mds2")
    running = {"MGS_32834e": ["ct6-mds1"], "demo-MDT0000_802c1b": ["ct6-mds2"]}
    mon = crm_mon_xml(running=running).replace("oss1-a", nodes[0]).replace("oss1-b", nodes[1])
    cib_text = (SUITE_FIXTURES / "cluster" / "el6-iml-cib-backup.xml").read_text()
    found = pair_preflight.cluster_findings(mon, cib_text, nodes)
    assert [pair_preflight.finding_text(f) for f in found] == [
        "temporary location constraint cli-ban-demo-OST0000_4a7e91-on-ct6-mds2 bans target "
        "demo-OST0000_4a7e91 from node ct6-mds2: "
        "crm_resource --clear --resource demo-OST0000_4a7e91",
        "temporary location constraint cli-prefer-demo-OST0001_c3d2f0 pins target "
        "demo-OST0001_c3d2f0 to node ct6-mds1 (score INFINITY): "
        "crm_resource --clear --resource demo-OST0001_c3d2f0",
    ]


def test_a_real_el6_snapshot_and_cib_report_quorum_the_down_node_and_no_target(real_fixtures):
    """No real EL6 crm_mon + CIB pair of one cluster exists in ../shared: the crm_mon is
    IML's 1.1.7-6.el6 snapshot (storage1.node down), the CIB IML's 1.1.10-14.el6 one
    (cibadmin --query, crm_config only), each read by the parser it would meet."""
    mon = (real_fixtures / "iml" / "test_corosync_crm_mon_1.1.7-6.el6.xml").read_text()
    cib_text = (real_fixtures / "iml" / "test_fencing_cib_configured_result.el6.xml").read_text()
    found = pair_preflight.cluster_findings(mon, cib_text, ["storage0.node", "storage1.node"])
    assert [(f["check"], f["severity"]) for f in found] == [
        ("online", "inhibitor"),
        ("quorum", "inhibitor"),
        ("targets", "inhibitor"),
    ]
    assert found[0]["message"] == "node storage1.node is offline"
    assert found[1]["message"] == "the cluster has no quorum (DC storage0.node)"


def test_a_real_el7_snapshot_with_failures_is_not_taken_for_a_cib(real_fixtures):
    mon = (REAL_FIXTURES / "iml" / "vagrant_fixture.xml").read_text()
    with pytest.raises(CommandExecutionError, match="is crm_mon XML, not a CIB"):
        pair_preflight.cluster_findings(mon, mon, ["oss1.local", "oss2.local"])


def _ran(retcode=0, stdout="", stderr=""):
    return {"retcode": retcode, "stdout": stdout, "stderr": stderr, "pid": 1}


HEALTH_4 = json.dumps(
    {"release": "4.0.10.2", "schema_version": "0020_iml_4_0", "schema_current": True}
)


@pytest.mark.parametrize(
    ("repo", "health", "checks", "words"),
    [
        pytest.param(_ran(), _ran(stdout=HEALTH_4), [], [], id="upgraded-and-reachable"),
        pytest.param(
            _ran(),
            _ran(stdout=json.dumps({"release": "2.4.2.7", "schema_current": True})),
            ["manager-release"],
            ["runs release 2.4.2.7", "orch.upgrade_manager"],
            id="old-release",
        ),
        pytest.param(
            _ran(),
            _ran(stdout=json.dumps({"release": "4.0.10.2", "schema_version": "0129_ee"})),
            ["manager-schema"],
            ["not migrated", "0129_ee", "chroma-config setup"],
            id="not-migrated",
        ),
        pytest.param(
            _ran(35, stderr="curl: (35) alert certificate required"),
            _ran(stdout=HEALTH_4),
            ["manager-repo"],
            ["Manager-for-Lustre.repo", "oss1-a", "alert certificate required", "self.crt"],
            id="client-certificate-refused",
        ),
        pytest.param(
            _ran(6, stderr="curl: (6) Could not resolve host"),
            _ran(6, stderr="curl: (6) Could not resolve host"),
            ["manager-repo", "manager-health"],
            ["/api/health", "Could not resolve host", "resolves on oss1-a"],
            id="unreachable",
        ),
        pytest.param(
            _ran(),
            _ran(stdout="<html>nginx</html>"),
            ["manager-health"],
            ["without a release", "lustre_upgrade:manager:fqdn"],
            id="not-an-iml-manager",
        ),
    ],
)
def test_the_pair_waits_for_an_upgraded_manager_its_nodes_reach(repo, health, checks, words):
    found = pair_preflight.manager_findings("iml.lab.example", "oss1-a", repo, health)

    assert [f["check"] for f in found] == checks
    assert all(f["severity"] == cluster_health.INHIBITOR for f in found)
    text = "\n".join(pair_preflight.finding_text(f) for f in found)
    for word in words:
        assert word in text


def test_the_manager_probes_trust_its_ca_and_present_the_client_certificate_only_to_the_repo():
    repo_url, health_url = pair_preflight.manager_urls("iml.lab.example")

    assert repo_url == "https://iml.lab.example/repo/Manager-for-Lustre.repo"
    assert health_url == "https://iml.lab.example/api/health"
    with_cert = pair_preflight.manager_probe_argv(repo_url, True)
    assert with_cert[-1] == repo_url
    assert with_cert[with_cert.index("--cacert") + 1] == "/var/lib/chroma/authority.crt"
    assert with_cert[with_cert.index("--cert") + 1] == "/var/lib/chroma/self.crt"
    assert with_cert[with_cert.index("--key") + 1] == "/var/lib/chroma/private.pem"
    assert "--cert" not in pair_preflight.manager_probe_argv(health_url, False)


def test_a_minion_without_a_grains_answer_is_named_and_the_others_get_their_os():
    nodes = [{"minion": "oss1-a"}, {"minion": "oss1-b"}]
    grains = {"oss1-a": {"os_family": "RedHat", "osmajorrelease": 6}, "oss1-b": "no return"}
    findings = pair_preflight.reachability_findings(nodes, grains)
    assert findings == [
        "minion oss1-b did not answer: start its salt-minion and check `salt-key -L` on the master"
    ]
    assert nodes[0] == {"minion": "oss1-a", "os_family": "RedHat", "osmajorrelease": 6}
