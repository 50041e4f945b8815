"""The manager's pillar checks and the repositories it mirrors or leaves upstream."""

import copy

import pytest
import yaml

from lustre_upgrade_lib import manager_pillar, manager_repos
from tests.support import REPO_ROOT

REPOS = {
    "lustre-server": "https://dl.example/public/lustre/latest-release/el7/server",
    "lustre-client": {"baseurl": "https://dl.example/public/lustre/latest-release/el7/client"},
    "e2fsprogs-wc": "https://dl.example/public/e2fsprogs/latest/el7",
    "iml-manager": "https://mirror.example/iml-manager",
}
CONFIG = {
    "manager": {"minion": "iml", "fqdn": "iml.lfs.example"},
    "server": {"lustre_repos": "manager"},
    "repos": REPOS,
}


def _with(path, value):
    config = copy.deepcopy(CONFIG)
    where = config
    for key in path[:-1]:
        where = where.setdefault(key, {})
    if value is KeyError:
        where.pop(path[-1], None)
    else:
        where[path[-1]] = value
    return config


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        pytest.param(("manager", "minion"), "iml", [], id="complete"),
        pytest.param(
            ("manager",), KeyError, ["lustre_upgrade:manager is missing"], id="no-manager"
        ),
        pytest.param(
            ("manager", "fqdn"), KeyError, ["lustre_upgrade:manager:fqdn is missing"], id="no-fqdn"
        ),
        pytest.param(
            ("manager", "fqdn"),
            "iml",
            ["manager:fqdn (iml) is not a lowercase fully"],
            id="short-fqdn",
        ),
        pytest.param(
            ("manager", "stop_agents"),
            "yes",
            ["manager:stop_agents must be true or false"],
            id="stop-agents",
        ),
        pytest.param(
            ("manager", "colour"), "red", ["manager:colour is not a setting"], id="unknown-key"
        ),
        pytest.param(
            ("manager", "repos", "mirror"),
            ["lustre-server", "lustre-foo"],
            ["manager:repos:mirror names 'lustre-foo', a repository the runbook does not know"],
            id="unknown-repository",
        ),
        pytest.param(
            ("manager", "repos", "mode"), "rsync", ["manager:repos:mode is 'rsync'"], id="mode"
        ),
        pytest.param(
            ("repos", "iml-manager"),
            KeyError,
            ["lustre_upgrade:repos:iml-manager is missing"],
            id="no-release-repo",
        ),
        pytest.param(
            ("repos", "e2fsprogs-wc"),
            KeyError,
            ["lustre_upgrade:repos:e2fsprogs-wc is missing"],
            id="no-upstream",
        ),
        pytest.param(
            ("manager", "repos", "release"),
            "2.10 8",
            ["manager:repos:release must be latest"],
            id="release",
        ),
        pytest.param(
            ("rebuild",), {"hook": "pxe"}, ["lustre_upgrade:rebuild:hook is 'pxe'"], id="hook"
        ),
        pytest.param(
            ("server", "lustre_repos"),
            "pillar",
            [],
            id="upstream-by-default-when-servers-write-their-repos",
        ),
    ],
)
def test_findings_name_the_key(path, value, expected):
    found = manager_pillar.validate(_with(path, value), source="/srv/pillar/lustre_upgrade.sls")
    assert len(found) == len(expected), found
    for finding, text in zip(found, expected):
        assert text in finding
        assert finding.endswith("(in /srv/pillar/lustre_upgrade.sls)")


def test_a_mirror_the_servers_would_not_use_is_refused():
    config = _with(("server", "lustre_repos"), "pillar")
    config["manager"]["repos"] = {"mode": "mirror"}
    (finding,) = manager_pillar.validate(config)
    assert "lustre_repos is not manager" in finding and "mode: upstream" in finding


@pytest.mark.parametrize(
    ("server", "mode"), [({"lustre_repos": "manager"}, "mirror"), ({}, "upstream")]
)
def test_the_default_mode_follows_the_servers(server, mode):
    config = dict(CONFIG, server=server)
    settings = manager_pillar.settings(config)
    assert settings["repos"]["mode"] == mode
    assert settings["stop_agents"] is False and settings["package"] == "python2-iml-manager"


@pytest.mark.parametrize(
    ("release", "server_url", "e2fs_url"),
    [
        ("latest", REPOS["lustre-server"], REPOS["e2fsprogs-wc"]),
        (
            "2.10.8",
            "https://dl.example/public/lustre/lustre-2.10.8/el7/server",
            REPOS["e2fsprogs-wc"],
        ),
    ],
)
def test_a_pinned_release_replaces_latest_release_but_not_e2fsprogs(release, server_url, e2fs_url):
    config = _with(("manager", "repos"), {"release": release})
    urls = manager_repos.upstream_urls(manager_pillar.settings(config), REPOS)
    assert list(urls) == ["lustre-server", "lustre-client", "e2fsprogs-wc"]
    assert urls["lustre-server"] == server_url and urls["e2fsprogs-wc"] == e2fs_url


@pytest.mark.parametrize(("debuginfo", "excluded"), [(False, True), (True, False)])
def test_the_mirror_configuration_excludes_debuginfo_unless_asked(debuginfo, excluded):
    text = manager_repos.mirror_config({"lustre-server": "https://x/server"}, debuginfo)
    assert text.startswith("[lustre-server]\nname=lustre-server\nbaseurl=https://x/server\n")
    assert ("exclude=*debuginfo*" in text) is excluded
    assert "gpgcheck=0" in text


@pytest.mark.parametrize(
    ("mode", "sections"),
    [
        ("mirror", ["iml-agent", "lustre-server", "lustre-client", "e2fsprogs-wc"]),
        ("upstream", ["iml-agent"]),
    ],
)
def test_manager_repo_file_for_the_fqdn_with_client_certificates(mode, sections):
    config = _with(("manager", "repos"), {"mode": mode})
    settings = manager_pillar.settings(config)
    urls = manager_repos.upstream_urls(settings, REPOS)
    text = manager_repos.manager_repo_text("iml.lfs.example", settings, urls)
    assert [line[1:-1] for line in text.splitlines() if line.startswith("[")] == sections
    assert "baseurl=https://iml.lfs.example/repo/iml-agent/7" in text
    assert text.count("sslclientcert = /var/lib/chroma/self.crt") == len(sections)
    assert "dl.example" not in text


def test_an_unreachable_repository_names_its_pillar_key():
    ret = {"retcode": 7, "stderr": "curl: (7) Failed to connect"}
    finding = manager_repos.unreachable_finding("lustre-server", "https://x", "iml", ret)
    assert "lustre_upgrade:repos:lustre-server" in finding and "Failed to connect" in finding
    assert (
        manager_repos.unreachable_finding("lustre-server", "https://x", "iml", {"retcode": 0})
        is None
    )


def test_the_shipped_example_is_a_complete_manager_pillar():
    text = (REPO_ROOT / "pillar.example" / "lustre_upgrade" / "init.sls").read_text()
    config = yaml.safe_load(text)["lustre_upgrade"]
    assert manager_pillar.validate(config) == []
    assert manager_pillar.settings(config)["repos"]["mode"] == "upstream"
