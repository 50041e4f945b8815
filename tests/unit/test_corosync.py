"""corosync.conf of every generation and corosync-cfgtool output, parsed by the library
(corosync_conf); the corosync module's wrappers and its corosync-cfgtool run."""

import jinja2
import pytest
from salt.exceptions import CommandExecutionError

from _modules import corosync
from lustre_upgrade_lib import corosync_conf
from tests.support import REAL_FIXTURES, SUITE_FIXTURES, real_fixture_params

IML_TWO_RINGS = [
    {"ringnumber": 0, "bindnetaddr": "10.128.0.0", "mcastaddr": "226.94.0.1", "mcastport": 40015},
    {"ringnumber": 1, "bindnetaddr": "10.73.10.0", "mcastaddr": "226.94.1.1", "mcastport": 40015},
]
PCS_TOTEM = {"version": "2", "secauth": "off", "cluster_name": "test99", "transport": "udpu"}

EXPECTED = {
    "iml/corosync.conf": {
        "totem": {
            "version": "2",
            "cluster_name": "lustre-ha-cluster",
            "secauth": "off",
            "transport": "udp",
            "config_version": "5",
            "rrp_mode": "passive",
            "token": "17000",
            "fail_recv_const": "10",
        },
        "interfaces": IML_TWO_RINGS,
        "nodes": [
            {"ring0_addr": "10.128.0.21", "nodeid": "1"},
            {"ring0_addr": "10.128.0.22", "nodeid": "2"},
        ],
        "generation": "2.x",
    },
    "iml/chroma-director-corosync.conf.el6": {
        "totem": {"version": "2", "secauth": "off", "threads": "0"},
        "interfaces": [
            {
                "ringnumber": 0,
                "bindnetaddr": "192.168.1.1",
                "mcastaddr": "226.94.1.1",
                "mcastport": 5405,
            }
        ],
        "nodes": [],
        "generation": "1.x",
    },
    "pcs/corosync.conf": {
        "totem": PCS_TOTEM,
        "interfaces": [],
        "nodes": [{"ring0_addr": "rh7-1", "nodeid": "1"}, {"ring0_addr": "rh7-2", "nodeid": "2"}],
        "generation": "2.x",
    },
    "pcs/corosync-3nodes.conf": {
        "totem": PCS_TOTEM,
        "interfaces": [],
        "nodes": [
            {"ring0_addr": "rh7-1", "nodeid": "1"},
            {"ring0_addr": "rh7-2", "nodeid": "2"},
            {"ring0_addr": "rh7-3", "nodeid": "3"},
        ],
        "generation": "2.x",
    },
}


@pytest.mark.parametrize("path", real_fixture_params(*EXPECTED))
def test_read_conf_gives_what_each_real_corosync_conf_holds(path):
    assert corosync_conf.read_conf(str(path)) == EXPECTED[f"{path.parent.name}/{path.name}"]


@pytest.mark.parametrize(
    ("template", "token"),
    [
        ("corosync.conf.el6-v2.4.2.7RC1.template", "5000"),
        ("corosync.conf.el6-v4.0.10.2.template", "17000"),
    ],
)
def test_read_conf_of_the_rendered_el6_iml_templates(tmp_path, template, token):
    source = REAL_FIXTURES / "iml" / template
    if not source.exists():
        pytest.skip(f"real artifact {template} absent")
    rendered = tmp_path / "corosync.conf"
    rendered.write_text(jinja2.Template(source.read_text()).render(interfaces=IML_TWO_RINGS))
    assert corosync_conf.read_conf(str(rendered)) == {
        "totem": {
            "version": "2",
            "secauth": "off",
            "threads": "0",
            "token": token,
            "token_retransmits_before_loss_const": "10",
            "max_messages": "20",
            "rrp_mode": "active",
        },
        "interfaces": IML_TWO_RINGS,
        "nodes": [],
        "generation": "1.x",
    }


def test_a_rendered_template_with_one_ring():
    source = REAL_FIXTURES / "iml" / "corosync.conf.el6-v4.0.10.2.template"
    if not source.exists():
        pytest.skip("real artifact absent")
    text = jinja2.Template(source.read_text()).render(interfaces=IML_TWO_RINGS[:1])
    assert corosync_conf.parse_conf(text)["interfaces"] == IML_TWO_RINGS[:1]


def test_a_pcs_010_knet_config_is_generation_3():
    text = """totem {
    version: 2
    cluster_name: lustre-ha-cluster
    transport: knet
    link_mode: passive
    interface {
        linknumber: 1
        mcastport: 40016
    }
    interface {
        linknumber: 0
        mcastport: 40015
    }
}
nodelist {
    node {
        ring0_addr: 10.128.0.21
        ring1_addr: 10.73.10.21
        name: mds1.lfs.intl
        nodeid: 1
    }
}
quorum {
    provider: corosync_votequorum
}
"""
    got = corosync_conf.parse_conf(text)
    assert got["generation"] == "3.x"
    assert got["interfaces"] == [
        {"ringnumber": 0, "bindnetaddr": None, "mcastaddr": None, "mcastport": 40015},
        {"ringnumber": 1, "bindnetaddr": None, "mcastaddr": None, "mcastport": 40016},
    ]
    assert got["nodes"] == [
        {
            "ring0_addr": "10.128.0.21",
            "ring1_addr": "10.73.10.21",
            "name": "mds1.lfs.intl",
            "nodeid": "1",
        }
    ]


def test_the_parser_takes_comments_any_whitespace_and_nested_blocks():
    text = (
        "# top comment\r\n"
        "totem\n{\r\n"
        "\t  # indented comment: with {braces}\n"
        "\tversion:2\n"
        "  token :   17000   \n"
        "  empty:\n"
        "\tinterface { \n ringnumber: 0\n bindnetaddr: 10.0.0.0\n }\n"
        "}\n"
        "logging {\n logfile: /var/log/cluster/corosync.log\n"
        " logger_subsys { subsys: AMF\n debug: off\n }\n}\n"
        "service{\n name: pacemaker\n ver: 1\n}"
    )
    parsed = corosync_conf.parse(text)
    assert parsed["totem"] == [
        {
            "version": "2",
            "token": "17000",
            "empty": "",
            "interface": [{"ringnumber": "0", "bindnetaddr": "10.0.0.0"}],
        }
    ]
    # A value runs to the end of its line, colons and all.
    assert parsed["logging"][0]["logfile"] == "/var/log/cluster/corosync.log"
    assert parsed["logging"][0]["logger_subsys"] == [{"subsys": "AMF", "debug": "off"}]
    assert parsed["service"] == [{"name": "pacemaker", "ver": "1"}]
    assert corosync_conf.parse_conf(text)["generation"] == "1.x"


def test_a_repeated_key_keeps_its_last_value_and_repeated_blocks_are_all_kept():
    parsed = corosync_conf.parse("a: 1\na: 2\nb {\n}\nb {\nc: 3\n}\n")
    assert parsed == {"a": "2", "b": [{}, {"c": "3"}]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("totem {\n version: 2\n", r"block 'totem' \(line 1\) is never closed"),
        (
            "totem {\n interface {\n ringnumber: 0\n",
            r"block 'interface' \(line 2\) is never closed",
        ),
        ("totem {\n}\n}\n", "line 3: '}' closes no block"),
        ("totem {\n version 2\n}\n", "line 2: 'version' is followed by neither"),
        ("totem {\n : 2\n}\n", "line 2: ':' without a key"),
        ("{\n}\n", "line 1: '{' without a block name"),
        ("totem: 1\ntotem {\n}\n", "'totem' is already a value"),
        ("totem {\n}\ntotem: 1\n", "'totem' is already a block"),
    ],
)
def test_malformed_files_are_errors_naming_file_and_line(text, message):
    with pytest.raises(CommandExecutionError, match=message) as err:
        corosync_conf.parse_conf(text, source="/bck/corosync.conf")
    assert "/bck/corosync.conf" in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("logging {\n to_syslog: yes\n}\n", "has no totem block"),
        (
            "totem {\n version: 2\n}\nquorum {\n provider: corosync_votequorum\n}\n",
            "neither a totem.interface block nor a nodelist",
        ),
        (
            "totem {\n interface {\n ringnumber: zero\n }\n}\n",
            r"totem.interface\[0\].ringnumber is 'zero'",
        ),
        ("totem {\n interface {\n ringnumber: 0\n mcastport: x\n }\n}\n", "mcastport is 'x'"),
        (
            "totem {\n interface {\n ringnumber: 0\n }\n interface {\n ringnumber: 0\n }\n}\n",
            "share a ring number",
        ),
    ],
)
def test_configs_without_rings_are_errors(text, message):
    with pytest.raises(CommandExecutionError, match=message) as err:
        corosync_conf.parse_conf(text, source="/bck/corosync.conf")
    assert "/bck/corosync.conf" in str(err.value)


def test_a_missing_or_binary_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(CommandExecutionError, match="cannot read .*nope"):
        corosync_conf.read_conf(str(tmp_path / "nope"))
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe\x00totem")
    with pytest.raises(CommandExecutionError, match="bin is not a text file"):
        corosync_conf.read_conf(str(binary))


@pytest.mark.parametrize("path", real_fixture_params("iml/corosync_cfgtool_fixture.txt"))
def test_ring_status_of_corosync_2(path):
    assert corosync_conf.parse_ring_status(path.read_text()) == {
        "local_nodeid": 1,
        "rings": [
            {
                "ring": 0,
                "address": "10.73.10.11",
                "status": "ring 0 active with no faults",
                "faulty": False,
            }
        ],
    }


def test_ring_status_of_corosync_3_links():
    # Hand-written from corosync 3.1's corosync-cfgtool.c output format.
    text = (SUITE_FIXTURES / "cluster" / "corosync-cfgtool-s.knet.txt").read_text()
    assert corosync_conf.parse_ring_status(text) == {
        "local_nodeid": 1,
        "rings": [
            {
                "ring": 0,
                "address": "10.128.0.21",
                "status": "nodeid 1: localhost\nnodeid 2: connected",
                "faulty": False,
            },
            {
                "ring": 1,
                "address": "10.73.10.21",
                "status": "nodeid 1: localhost\nnodeid 2: disconnected",
                "faulty": True,
            },
        ],
    }


def test_a_faulty_corosync_2_ring_is_reported():
    text = (
        "Local node ID 2\nRING ID 1\n\tid\t= 10.0.0.2\n"
        "\tstatus\t= Marking ringid 1 interface 10.0.0.2 FAULTY\n"
    )
    assert corosync_conf.parse_ring_status(text)["rings"][0]["faulty"] is True


def test_the_modules_parsers_give_the_librarys_data(tmp_path):
    text = "totem {\n interface {\n ringnumber: 0\n mcastport: 5405\n }\n}\n"
    conf = tmp_path / "corosync.conf"
    conf.write_text(text)
    assert corosync.read_conf(str(conf)) == corosync_conf.read_conf(str(conf))
    assert corosync.parse_conf(text) == corosync_conf.parse_conf(text)
    assert corosync.parse(text) == corosync_conf.parse(text)
    status = (
        "Local node ID 2\nRING ID 0\n\tid\t= 10.0.0.2\n\tstatus\t= ring 0 active with no faults\n"
    )
    assert corosync.parse_ring_status(status) == corosync_conf.parse_ring_status(status)
    assert corosync.exists(str(conf)) and not corosync.exists(str(tmp_path / "nope"))


def node(name, *addrs):
    entry = {f"ring{i}_addr": addr for i, addr in enumerate(addrs)}
    return {**entry, "name": name} if name else entry


@pytest.mark.parametrize(
    ("conf", "links"),
    [
        ({"interfaces": [], "nodes": [node("a", "10.0.0.1")]}, 1),
        ({"interfaces": [], "nodes": [node("a", "10.0.0.1", "10.1.0.1")]}, 2),
        ({"interfaces": [{"ringnumber": 0}, {"ringnumber": 1}], "nodes": []}, 2),
        ({"interfaces": [{"ringnumber": 1}], "nodes": [node(None, "x")]}, 2),
        ({"interfaces": [], "nodes": []}, 1),
    ],
)
def test_the_rings_of_an_old_config_are_its_interfaces_and_node_addresses(conf, links):
    assert corosync_conf.link_count(conf) == links


def live(name, *nodes):
    return {"totem": {"cluster_name": name}, "nodes": [node(n, n) for n in nodes]}


def test_an_existing_cluster_lacking_nodes_needs_them_added_never_replaced_or_shrunk():
    assert corosync_conf.cluster_of(live("c", "a", "b")) == ("c", ["a", "b"])
    assert corosync_conf.membership_changes(live("c", "a"), "c", ["a", "b"], "/x") == {
        "auth": ["a", "b"],
        "added": ["b"],
    }
    assert corosync_conf.membership_changes(live("c", "a", "b"), "c", ["b", "a"], "/x") == {}
    with pytest.raises(CommandExecutionError, match="/x belongs to cluster 'old', not 'c'"):
        corosync_conf.membership_changes(live("old", "a"), "c", ["a"], "/x")
    with pytest.raises(CommandExecutionError, match="has node\\(s\\) z that are not in nodes"):
        corosync_conf.membership_changes(live("c", "a", "z"), "c", ["a"], "/x")


def test_ring_status_runs_corosync_cfgtool(monkeypatch):
    fixture = REAL_FIXTURES / "iml" / "corosync_cfgtool_fixture.txt"
    if not fixture.exists():
        pytest.skip("real artifact absent")
    calls = []

    def run_all(argv, **kwargs):
        calls.append((argv, kwargs))
        return {"retcode": 0, "stdout": fixture.read_text(), "stderr": ""}

    monkeypatch.setattr(corosync, "__salt__", {"cmd.run_all": run_all}, raising=False)
    assert corosync.ring_status()["rings"][0]["address"] == "10.73.10.11"
    assert calls[0][0] == ["corosync-cfgtool", "-s"] and calls[0][1]["python_shell"] is False
