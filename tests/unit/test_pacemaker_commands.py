"""argv builders per pcs dialect (the library, pcs_dialects), cluster setup from an old
corosync.conf, and the module's dialect detection and resolution."""

import jinja2
import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from _modules import pacemaker
from lustre_upgrade_lib import corosync_conf, pcs_dialects
from tests.support import REAL_FIXTURES, real_fixture_params

ALL = ("0.9", "0.10", "0.12")
NEW = ("0.10", "0.12")


def expect(argv, dialects=ALL):
    return {dialect: argv for dialect in dialects}


# (builder, kwargs, {dialect: argv}) — every dialect of every builder is listed.
CASES = [
    (
        "auth_command",
        {"nodes": ["a.example", "b.example"]},
        {
            "0.9": ["pcs", "cluster", "auth", "a.example", "b.example", "-u", "hacluster"],
            **expect(["pcs", "host", "auth", "a.example", "b.example", "-u", "hacluster"], NEW),
        },
    ),
    (
        "standby_command",
        {"node": "a.example"},
        {
            "0.9": ["pcs", "cluster", "standby", "a.example"],
            **expect(["pcs", "node", "standby", "a.example"], NEW),
        },
    ),
    (
        "standby_command",
        {},
        {"0.9": ["pcs", "cluster", "standby"], **expect(["pcs", "node", "standby"], NEW)},
    ),
    (
        "unstandby_command",
        {"node": "a.example", "cib_file": "/tmp/c.xml"},
        {
            "0.9": ["pcs", "-f", "/tmp/c.xml", "cluster", "unstandby", "a.example"],
            **expect(["pcs", "-f", "/tmp/c.xml", "node", "unstandby", "a.example"], NEW),
        },
    ),
    ("cluster_command", {"action": "start"}, expect(["pcs", "cluster", "start"])),
    (
        "cluster_command",
        {"action": "stop", "all_nodes": True},
        expect(["pcs", "cluster", "stop", "--all"]),
    ),
    (
        "cluster_command",
        {"action": "disable", "node": "a"},
        expect(["pcs", "cluster", "disable", "a"]),
    ),
    ("cluster_command", {"action": "enable"}, expect(["pcs", "cluster", "enable"])),
    (
        "property_set_command",
        {"properties": {"no-quorum-policy": "ignore", "stonith-enabled": "true"}},
        expect(["pcs", "property", "set", "no-quorum-policy=ignore", "stonith-enabled=true"]),
    ),
    (
        "maintenance_mode_command",
        {"enabled": True},
        expect(["pcs", "property", "set", "maintenance-mode=true"]),
    ),
    (
        "maintenance_mode_command",
        {"enabled": "false"},
        expect(["pcs", "property", "set", "maintenance-mode=false"]),
    ),
    (
        "resource_enable_command",
        {"resources": ["MGS_32834e", "demo-MDT0000_802c1b"]},
        expect(["pcs", "resource", "enable", "MGS_32834e", "demo-MDT0000_802c1b"]),
    ),
    (
        "resource_disable_command",
        {"resources": "MGS_32834e"},
        expect(["pcs", "resource", "disable", "MGS_32834e"]),
    ),
    (
        "node_attribute_command",
        {
            "node": "a.example",
            "attributes": [["0_fence_plug", "a"], ["0_fence_agent", "fence_virsh"]],
        },
        {
            "0.9": [
                "pcs",
                "property",
                "set",
                "--node",
                "a.example",
                "0_fence_plug=a",
                "0_fence_agent=fence_virsh",
            ],
            **expect(
                [
                    "pcs",
                    "node",
                    "attribute",
                    "a.example",
                    "0_fence_plug=a",
                    "0_fence_agent=fence_virsh",
                ],
                NEW,
            ),
        },
    ),
    (
        "node_add_command",
        {"node": "b.example", "addrs": ["10.0.0.2", "10.1.0.2"], "start": True},
        {
            "0.9": ["pcs", "cluster", "node", "add", "b.example", "--start"],
            **expect(
                [
                    "pcs",
                    "cluster",
                    "node",
                    "add",
                    "b.example",
                    "addr=10.0.0.2",
                    "addr=10.1.0.2",
                    "--start",
                ],
                NEW,
            ),
        },
    ),
    ("relocate_command", {"action": "show"}, expect(["pcs", "resource", "relocate", "show"])),
    ("relocate_command", {"action": "run"}, expect(["pcs", "resource", "relocate", "run"])),
    (
        "relocate_command",
        {"action": "dry-run", "resources": ["t1"]},
        expect(["pcs", "resource", "relocate", "dry-run", "t1"]),
    ),
    (
        "cib_push_command",
        {"path": "/r.xml"},
        expect(["pcs", "cluster", "cib-push", "/r.xml", "--config"]),
    ),
    (
        "cib_push_command",
        {"path": "/r.xml", "diff_against": "/live.xml"},
        expect(["pcs", "cluster", "cib-push", "/r.xml", "diff-against=/live.xml"]),
    ),
    (
        "crm_mon_command",
        {},
        {
            "0.9": ["crm_mon", "--one-shot", "--inactive", "--as-xml"],
            **expect(["crm_mon", "--one-shot", "--inactive", "--output-as=xml"], NEW),
        },
    ),
    (
        "resource_defaults_command",
        {},
        {
            **expect(
                [
                    "pcs",
                    "resource",
                    "defaults",
                    "resource-stickiness=1000",
                    "failure-timeout=20m",
                    "migration-threshold=3",
                ],
                ("0.9", "0.10"),
            ),
            "0.12": [
                "pcs",
                "resource",
                "defaults",
                "update",
                "resource-stickiness=1000",
                "failure-timeout=20m",
                "migration-threshold=3",
            ],
        },
    ),
    (
        "stonith_create_command",
        {},
        expect(["pcs", "stonith", "create", "st-fencing", "fence_chroma"]),
    ),
    (
        "resource_config_command",
        {},
        {
            "0.9": ["pcs", "resource", "show", "--full"],
            **expect(["pcs", "resource", "config"], NEW),
        },
    ),
    (
        "constraint_config_command",
        {},
        {
            "0.9": ["pcs", "constraint", "show", "--full"],
            **expect(["pcs", "constraint", "config", "--full"], NEW),
        },
    ),
    (
        "property_config_command",
        {},
        {"0.9": ["pcs", "property", "show"], **expect(["pcs", "property", "config"], NEW)},
    ),
]


@pytest.mark.parametrize(
    ("builder", "kwargs", "dialect", "argv"),
    [
        pytest.param(builder, kwargs, dialect, argv, id=f"{builder}-{dialect}-{i}")
        for i, (builder, kwargs, table) in enumerate(CASES)
        for dialect, argv in table.items()
    ],
)
def test_builders_give_each_dialects_argv(builder, kwargs, dialect, argv):
    assert getattr(pcs_dialects, builder)(dialect=dialect, **kwargs) == argv


def test_every_case_table_covers_every_dialect():
    for builder, _, table in CASES:
        assert set(table) == set(ALL), builder


def test_patch_commands_are_the_same_everywhere():
    assert pcs_dialects.crm_diff_command("/a.xml", "/b.xml") == [
        "crm_diff",
        "--original",
        "/a.xml",
        "--new",
        "/b.xml",
        "--no-version",
    ]
    assert pcs_dialects.cib_patch_command("/p.xml") == [
        "cibadmin",
        "--patch",
        "--xml-file",
        "/p.xml",
    ]


def test_the_auth_argv_never_holds_a_password():
    for dialect in ALL:
        assert not any(
            "-p" == arg or "pass" in arg for arg in pcs_dialects.auth_command("a", dialect=dialect)
        )


@pytest.mark.parametrize(
    ("version", "dialect"),
    [
        ("0.9.155", "0.9"),
        ("0.9.169\n", "0.9"),
        ("0.10.1", "0.10"),
        ("0.10.18", "0.10"),
        ("0.11.5", "0.10"),
        ("0.11.5+54-gabcdef", "0.10"),
        ("0.12.0", "0.12"),
        ("0.12.1", "0.12"),
    ],
)
def test_pcs_versions_map_to_dialects(version, dialect):
    assert pcs_dialects.dialect_of_version(version) == dialect


@pytest.mark.parametrize("version", ["0.8.9", "0.13.0", "1.0.0", "", "pcs", "garbage 1.2"])
def test_an_unknown_pcs_version_is_a_clear_error(version):
    with pytest.raises(SaltInvocationError, match="pcs"):
        pcs_dialects.dialect_of_version(version)


def test_a_dialect_may_be_given_as_a_version_and_an_unknown_one_is_an_error():
    assert pcs_dialects.standby_command("a", dialect="0.11") == ["pcs", "node", "standby", "a"]
    assert pcs_dialects.standby_command("a", dialect="0.9.169")[1] == "cluster"
    with pytest.raises(SaltInvocationError, match="not a supported version"):
        pcs_dialects.standby_command("a", dialect="0.13")


def test_a_builder_needs_its_dialect_given():
    with pytest.raises(TypeError, match="dialect"):
        pcs_dialects.standby_command("a")


def test_comma_lists_from_the_cli_are_lists():
    assert pcs_dialects.resource_enable_command("t1, t2", dialect="0.10")[3:] == ["t1", "t2"]
    assert pcs_dialects.node_add_command("b", "10.0.0.2,10.1.0.2", "yes", dialect="0.12") == [
        *["pcs", "cluster", "node", "add", "b", "addr=10.0.0.2", "addr=10.1.0.2", "--start"]
    ]


@pytest.mark.parametrize(
    ("builder", "kwargs", "message"),
    [
        ("cluster_command", {"action": "restart"}, "not one of start, stop"),
        ("cluster_command", {"action": "stop", "node": "a", "all_nodes": True}, "not both"),
        ("relocate_command", {"action": "go"}, "not one of show"),
        ("resource_enable_command", {"resources": []}, "no resource"),
        ("property_set_command", {"properties": {}}, "no property"),
        ("node_attribute_command", {"node": "a", "attributes": {}}, "no attribute"),
    ],
)
def test_builders_reject_what_pcs_would_misread(builder, kwargs, message):
    with pytest.raises(SaltInvocationError, match=message):
        getattr(pcs_dialects, builder)(dialect="0.10", **kwargs)


def fake_salt(outputs):
    calls = []

    def run_all(argv, **kwargs):
        calls.append((argv, kwargs))
        key = tuple(argv)
        retcode, stdout = outputs[key]
        return {"retcode": retcode, "stdout": stdout, "stderr": "" if retcode == 0 else "boom"}

    return {"cmd.run_all": run_all}, calls


@pytest.mark.parametrize(
    ("outputs", "dialect"),
    [
        (
            {
                ("pcs", "--version"): (0, "0.9.169\n"),
                ("pcs", "property", "--help"): (0, "set [--force] [--node <nodename>] ..."),
            },
            "0.9",
        ),
        (
            {
                ("pcs", "--version"): (0, "0.11.5\n"),
                ("pcs", "--version", "--full"): (0, "0.11.5\nbooth node.attributes node.standby"),
            },
            "0.10",
        ),
        (
            {
                ("pcs", "--version"): (0, "0.12.1\n"),
                ("pcs", "--version", "--full"): (0, "0.12.1\nnode.attributes pcs.auth.client"),
            },
            "0.12",
        ),
    ],
)
def test_the_dialect_is_detected_once_and_cached(monkeypatch, outputs, dialect):
    salt, calls = fake_salt(outputs)
    context = {}
    monkeypatch.setattr(pacemaker, "__salt__", salt, raising=False)
    monkeypatch.setattr(pacemaker, "__context__", context, raising=False)
    assert pacemaker.detect_dialect() == dialect
    count = len(calls)
    assert pacemaker.detect_dialect() == dialect
    assert len(calls) == count
    assert context == {"pacemaker.dialect": dialect}
    # The module's builders without dialect= use the detected one.
    assert pacemaker.auth_command("a")[1] == ("cluster" if dialect == "0.9" else "host")
    assert len(calls) == count


def test_a_given_dialect_runs_no_pcs_and_each_module_builder_delegates(monkeypatch):
    salt, calls = fake_salt({})
    monkeypatch.setattr(pacemaker, "__salt__", salt, raising=False)
    monkeypatch.setattr(pacemaker, "__context__", {}, raising=False)
    for builder, kwargs, table in CASES:
        for dialect, argv in table.items():
            assert getattr(pacemaker, builder)(dialect=dialect, **kwargs) == argv, builder
    assert calls == []


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({("pcs", "--version"): (0, "0.13.0\n")}, "pcs 0.13.0 is not a supported version"),
        (
            {
                ("pcs", "--version"): (0, "0.11.5\n"),
                ("pcs", "--version", "--full"): (0, "0.11.5\nbooth"),
            },
            "node.attributes",
        ),
        (
            {
                ("pcs", "--version"): (0, "0.9.169\n"),
                ("pcs", "property", "--help"): (0, "Usage: pcs property set"),
            },
            "property set --node",
        ),
        ({("pcs", "--version"): (127, "")}, "pcs --version` failed"),
    ],
)
def test_an_unknown_or_inconsistent_pcs_is_an_error(monkeypatch, outputs, message):
    salt, _ = fake_salt(outputs)
    monkeypatch.setattr(pacemaker, "__salt__", salt, raising=False)
    monkeypatch.setattr(pacemaker, "__context__", {}, raising=False)
    with pytest.raises(CommandExecutionError, match=message):
        pacemaker.detect_dialect()
    assert pacemaker.__context__ == {}


# ----------------------------------------------------------------- cluster setup

IML_RINGS = [
    {"ringnumber": 0, "bindnetaddr": "10.128.0.0", "mcastaddr": "226.94.0.1", "mcastport": 40015},
    {"ringnumber": 1, "bindnetaddr": "10.73.10.0", "mcastaddr": "226.94.1.1", "mcastport": 40015},
]


def render_el6_template(name):
    template = (REAL_FIXTURES / "iml" / name).read_text()
    return jinja2.Template(template).render(interfaces=IML_RINGS)


NODE1 = {"ct6-mds1.lfs.intl": ["10.128.0.21", "10.73.10.21"]}
SETUP_09 = [
    "pcs",
    "cluster",
    "setup",
    "--name",
    "lustre-ha-cluster",
    "ct6-mds1.lfs.intl",
    "--transport",
    "udp",
    "--rrpmode",
    "passive",
    "--addr0",
    "10.128.0.0",
    "--mcast0",
    "226.94.0.1",
    "--mcastport0",
    "40015",
    "--addr1",
    "10.73.10.0",
    "--mcast1",
    "226.94.1.1",
    "--mcastport1",
    "40015",
    "--token",
    "17000",
    "--fail_recv_const",
    "10",
]
SETUP_NEW = [
    "pcs",
    "cluster",
    "setup",
    "lustre-ha-cluster",
    "ct6-mds1.lfs.intl",
    "addr=10.128.0.21",
    "addr=10.73.10.21",
    "transport",
    "knet",
    "link_mode=passive",
    "link",
    "linknumber=0",
    "mcastport=40015",
    "link",
    "linknumber=1",
    "mcastport=40015",
    "totem",
    "token=17000",
    "fail_recv_const=10",
]


@pytest.mark.parametrize(
    "template",
    ["corosync.conf.el6-v2.4.2.7RC1.template", "corosync.conf.el6-v4.0.10.2.template"],
)
@pytest.mark.parametrize("dialect", ALL)
def test_setup_translates_the_rendered_el6_iml_config(template, dialect):
    if not (REAL_FIXTURES / "iml" / template).exists():
        pytest.skip("real artifacts absent")
    conf = corosync_conf.parse_conf(render_el6_template(template))
    argv = pcs_dialects.setup_command(conf, NODE1, dialect=dialect)
    assert argv == (SETUP_09 if dialect == "0.9" else SETUP_NEW)


@pytest.mark.parametrize("path", real_fixture_params("iml/corosync.conf"))
@pytest.mark.parametrize("dialect", ALL)
def test_setup_translates_the_el7_iml_config_the_runbook_awk_way(path, dialect):
    # Same rings as the EL6 template (this EL7 file came from such a setup).
    argv = pcs_dialects.setup_command(corosync_conf.read_conf(str(path)), NODE1, dialect=dialect)
    assert argv == (SETUP_09 if dialect == "0.9" else SETUP_NEW)


@pytest.mark.parametrize("path", real_fixture_params("iml/chroma-director-corosync.conf.el6"))
def test_setup_of_a_one_ring_config(path):
    conf = corosync_conf.read_conf(str(path))
    assert pcs_dialects.setup_command(conf, ["n1.example"], "c", dialect="0.9") == [
        "pcs",
        "cluster",
        "setup",
        "--name",
        "c",
        "n1.example",
        "--transport",
        "udp",
        "--rrpmode",
        "passive",
        "--addr0",
        "192.168.1.1",
        "--mcast0",
        "226.94.1.1",
        "--mcastport0",
        "5405",
        "--token",
        "17000",
        "--fail_recv_const",
        "10",
    ]
    # One link: a name alone is enough for knet (pcs resolves it).
    assert pcs_dialects.setup_command(conf, ["n1.example"], "c", dialect="0.10") == [
        "pcs",
        "cluster",
        "setup",
        "c",
        "n1.example",
        "transport",
        "knet",
        "link",
        "linknumber=0",
        "mcastport=5405",
        "totem",
        "token=17000",
        "fail_recv_const=10",
    ]


@pytest.mark.parametrize("path", real_fixture_params("pcs/corosync.conf"))
def test_setup_of_a_udpu_nodelist_config(path):
    conf = corosync_conf.read_conf(str(path))
    nodes = {"rh7-1.example": ["10.0.0.1"], "rh7-2.example": ["10.0.0.2"]}
    assert pcs_dialects.setup_command(conf, nodes, "test99", dialect="0.9") == [
        "pcs",
        "cluster",
        "setup",
        "--name",
        "test99",
        "rh7-1.example",
        "rh7-2.example",
        "--transport",
        "udpu",
        "--token",
        "17000",
        "--fail_recv_const",
        "10",
    ]
    assert pcs_dialects.setup_command(conf, nodes, "test99", dialect="0.12") == [
        "pcs",
        "cluster",
        "setup",
        "test99",
        "rh7-1.example",
        "addr=10.0.0.1",
        "rh7-2.example",
        "addr=10.0.0.2",
        "transport",
        "knet",
        "totem",
        "token=17000",
        "fail_recv_const=10",
    ]


def test_setup_of_a_knet_config_and_its_offline_output_file():
    conf = corosync_conf.parse_conf(
        "totem {\n version: 2\n cluster_name: x\n transport: knet\n link_mode: passive\n"
        " interface {\n  linknumber: 0\n  knet_link_priority: 1\n }\n}\n"
        "nodelist {\n node {\n  ring0_addr: 10.0.0.1\n  ring1_addr: 10.1.0.1\n  name: a\n"
        "  nodeid: 1\n }\n}\n"
    )
    argv = pacemaker.setup_command(
        conf, {"a.example": ["10.0.0.1", "10.1.0.1"]}, dialect="0.10", corosync_conf_out="/t/c"
    )
    assert argv == [
        "pcs",
        "cluster",
        "setup",
        "lustre-ha-cluster",
        "a.example",
        "addr=10.0.0.1",
        "addr=10.1.0.1",
        "transport",
        "knet",
        "link_mode=passive",
        "totem",
        "token=17000",
        "fail_recv_const=10",
        "--corosync_conf",
        "/t/c",
    ]
    with pytest.raises(CommandExecutionError, match="pcs 0.9 cannot set up knet"):
        pcs_dialects.setup_command(conf, {"a.example": ["10.0.0.1", "10.1.0.1"]}, dialect="0.9")
    with pytest.raises(SaltInvocationError, match="cannot write a corosync.conf"):
        pcs_dialects.setup_command(conf, ["a.example"], dialect="0.9", corosync_conf_out="/x")


@pytest.mark.parametrize(
    ("nodes", "dialect", "message"),
    [
        (["ct6-mds1.lfs.intl"], "0.10", "needs one address per ring"),
        ({"ct6-mds1.lfs.intl": ["10.128.0.21"]}, "0.10", "has 1 address.*2 ring"),
        ({"ct6-mds1.lfs.intl": ["a", "b", "c"]}, "0.9", "has 3 address.*2 ring"),
        ([], "0.10", "no node"),
    ],
)
def test_setup_needs_one_address_per_ring_per_node(nodes, dialect, message):
    conf = {"totem": {}, "interfaces": IML_RINGS, "nodes": [], "generation": "1.x"}
    with pytest.raises(SaltInvocationError, match=message):
        pcs_dialects.setup_command(conf, nodes, dialect=dialect)


def el6_conf_text(rings):
    """A corosync 1.x totem section with one interface block per ring."""
    blocks = "".join(
        "  interface {\n" + "".join(f"    {k}: {v}\n" for k, v in ring.items()) + "  }\n"
        for ring in rings
    )
    return f"totem {{\n  version: 2\n{blocks}}}\n"


def test_the_modules_setup_command_reads_a_path_with_the_library(tmp_path, monkeypatch):
    monkeypatch.setattr(pacemaker, "__salt__", {}, raising=False)  # no corosync module
    conf = tmp_path / "corosync.conf"
    conf.write_text(el6_conf_text(IML_RINGS))
    assert pacemaker.setup_command(str(conf), NODE1, dialect="0.12") == SETUP_NEW
    assert pacemaker.setup_command(str(conf), NODE1, dialect="0.9") == SETUP_09
    with pytest.raises(CommandExecutionError, match="cannot read .*nope"):
        pacemaker.setup_command(str(tmp_path / "nope"), NODE1, dialect="0.12")


@pytest.mark.parametrize("conf", [{"totem": {}}, ["not", "a", "conf"]])
def test_setup_of_something_that_is_not_a_read_conf_is_a_bad_argument(conf):
    with pytest.raises(SaltInvocationError, match="corosync.read_conf"):
        pcs_dialects.setup_command(conf, NODE1, dialect="0.12")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        (None, "missing or empty"),
        ("", "missing or empty"),
        ("-----BEGIN PGP MESSAGE-----\nhQEMA...", "still GPG-encrypted"),
    ],
)
def test_an_unusable_hacluster_password_names_its_pillar_key(password, message):
    with pytest.raises(CommandExecutionError, match=f"pillar a:b is {message}"):
        pcs_dialects.auth_password(password, "pillar a:b")
    assert pcs_dialects.auth_password("s3cret", "pillar a:b") == "s3cret"
