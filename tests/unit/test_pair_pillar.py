"""The runner's pillar checks, on the shipped pillar.example and variations of it."""

import copy

import pytest
import yaml

from lustre_upgrade_lib import pair_pillar
from tests.support import REPO_ROOT

EXAMPLE = yaml.safe_load(
    (REPO_ROOT / "pillar.example" / "lustre_upgrade" / "init.sls").read_text()
)["lustre_upgrade"]
OSS1 = "lustre_upgrade:pairs:oss1"


def changed(edit):
    config = copy.deepcopy(EXAMPLE)
    edit(config)
    return config


def node(config, index):
    return config["pairs"]["oss1"]["nodes"][index]


@pytest.mark.parametrize("pair", sorted(EXAMPLE["pairs"]))
def test_every_pair_of_the_example_pillar_is_usable(pair):
    assert pair_pillar.validate_pair(pair, EXAMPLE) == []


@pytest.mark.parametrize(
    ("pair", "config", "findings"),
    [
        (None, EXAMPLE, ["no pair given: run salt-run state.orch orch.upgrade_pair pillar='{pair: <name>}'"]),
        ("oss1", None, ["pillar key lustre_upgrade is missing: see pillar.example/lustre_upgrade/init.sls"]),
        ("oss9", EXAMPLE, ["pillar key lustre_upgrade:pairs:oss9 is missing (pairs defined: mds1, oss1)"]),
        ("oss1", {"pairs": []}, ["pillar key lustre_upgrade:pairs:oss1 is missing (pairs defined: none)"]),
        (
            "oss1",
            changed(lambda c: c["pairs"]["oss1"]["nodes"].pop()),
            [f"pillar key {OSS1}:nodes must list exactly the pair's two nodes"],
        ),
        (
            "oss1",
            changed(lambda c: c["pairs"]["oss1"]["nodes"].__setitem__(1, "oss1-b")),
            [f"pillar key {OSS1}:nodes, node 2 must be a mapping with minion, old_name, fqdn"],
        ),
        (
            "oss1",
            changed(lambda c: node(c, 0).pop("fqdn")),
            [f"pillar key {OSS1}:nodes, node 1 (oss1-a): fqdn is missing"],
        ),
        (
            "oss1",
            changed(lambda c: node(c, 1).update(fqdn="oss1-b")),
            [f"pillar key {OSS1}:nodes, node 2 (oss1-b): fqdn (oss1-b) is not a fully qualified name"],
        ),
        (
            "oss1",
            changed(lambda c: node(c, 0).update(old_name="OSS1-A")),
            [f"pillar key {OSS1}:nodes, node 1 (oss1-a): node names must be lowercase for Pacemaker"],
        ),
        (
            "oss1",
            changed(lambda c: node(c, 1).update(minion="oss1-a")),
            [f"pillar key {OSS1}:nodes: both nodes have minion 'oss1-a'"],
        ),
        (
            "oss1",
            changed(lambda c: node(c, 1).update(osd="btrfs")),
            [
                f"pillar key {OSS1}:nodes, node 2 (oss1-b): osd (or {OSS1}:osd, lustre_upgrade:osd) is 'btrfs'; "
                "expected one of ldiskfs, zfs, ldiskfs-zfs"
            ],
        ),
        (
            "oss1",
            changed(lambda c: c.update(rebuild={"hook": "pxe"})),
            ["pillar key lustre_upgrade:rebuild:hook is 'pxe'; expected one of manual, command"],
        ),
        (
            "oss1",
            changed(lambda c: c.update(rebuild={"hook": "command", "command": "reinstall {minion}"})),
            [
                "pillar key lustre_upgrade:rebuild:command must be the hook's argv, a list of "
                "strings ({minion} becomes the minion id), with hook: command"
            ],
        ),
        (
            "oss1",
            changed(lambda c: c.update(rebuild={"timeout": "1h", "auto_resume": "yes"})),
            [
                "pillar key lustre_upgrade:rebuild:timeout must be seconds (> 0)",
                "pillar key lustre_upgrade:rebuild:auto_resume must be true or false",
            ],
        ),
        (
            "oss1",
            changed(lambda c: c["pairs"]["oss1"].update(cutover="all")),
            [
                f"pillar key {OSS1}:cutover (or lustre_upgrade:cutover) is 'all'; "
                "expected one of per-target, all-at-once"
            ],
        ),
    ],
    ids=[
        "no-pair", "no-pillar", "unknown-pair", "no-pairs", "one-node", "not-a-mapping",
        "no-fqdn", "short-fqdn", "uppercase", "same-minion", "bad-osd", "bad-hook",
        "command-not-argv", "bad-timeout-and-auto-resume", "bad-cutover",
    ],
)  # fmt: skip
def test_each_problem_names_the_pillar_key_to_fix(pair, config, findings):
    assert pair_pillar.validate_pair(pair, config) == findings


def test_every_problem_of_a_pair_is_reported_at_once():
    def break_both(config):
        node(config, 0).pop("minion")
        node(config, 1).update(fqdn="OSS1-B.lfs.example", osd=None)

    findings = pair_pillar.validate_pair("oss1", changed(break_both))
    assert len(findings) == 3
    assert findings[0] == f"pillar key {OSS1}:nodes, node 1: minion is missing"


def test_findings_name_the_pillar_file_where_it_is_known():
    config = changed(lambda c: node(c, 1).pop("old_name"))
    source = "/srv/pillar/lustre_upgrade/init.sls"
    assert pair_pillar.validate_pair("oss1", config, source=source) == [
        f"pillar key {OSS1}:nodes, node 2 (oss1-b): old_name is missing (in {source})"
    ]


@pytest.mark.parametrize(
    ("pair", "index", "expected"),
    [("oss1", 0, "ldiskfs"), ("mds1", 0, "ldiskfs-zfs"), ("mds1", 1, "ldiskfs-zfs")],
)
def test_a_nodes_osd_flavour_is_its_own_else_its_pairs_else_the_default(pair, index, expected):
    node_config = EXAMPLE["pairs"][pair]["nodes"][index]
    assert pair_pillar.node_osd(EXAMPLE, pair, node_config) == expected
    no_default = changed(lambda c: c.pop("osd"))
    if "osd" not in node_config and "osd" not in EXAMPLE["pairs"][pair]:
        assert pair_pillar.node_osd(no_default, pair, node_config) is None
