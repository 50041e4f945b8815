import configparser
import json
import textwrap

import pytest
from salt.exceptions import CommandExecutionError

from _modules import iml
from tests.support import REAL_FIXTURES, real_fixture_params

RUNBOOK = REAL_FIXTURES.parent.parent / "reference" / "upgrade-runbook-ee24-el6-to-el7.md"
REAL_TARGETS = {
    "online-help/targets-MGS.json": {
        "bdev": "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_EEMGT0000",
        "mntpt": "/mnt/MGS",
        "backfstype": "ext4",
        "device_type": "linux",
        "target_name": "MGS",
    },
    "online-help/targets-demo-MDT0000.json": {
        "bdev": "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_EEMDT0000",
        "mntpt": "/mnt/demo-MDT0000",
        "backfstype": "ext4",
        "device_type": "linux",
        "target_name": "demo-MDT0000",
    },
}


def runbook_repo_script_output(hostname):
    """The file the runbook's heredoc writes, with ``$hn`` expanded as the shell does."""
    lines = RUNBOOK.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "Manager-for-Lustre.repo <<__EOF" in line)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "__EOF")
    body = textwrap.dedent("\n".join(lines[start + 1 : end])) + "\n"
    return body.replace("$hn", hostname)


# --- target store ---------------------------------------------------------------------


@pytest.mark.parametrize("path", real_fixture_params(*REAL_TARGETS))
def test_a_real_target_file_parses_pretty_printed_and_single_line(path):
    expected = REAL_TARGETS[path.relative_to(REAL_FIXTURES).as_posix()]
    text = path.read_text()
    single_line = json.dumps(json.loads(text), separators=(",", ":"))
    for variant in (text, single_line):
        target, problems = iml._parse_target(variant, "/var/lib/chroma/targets/x")
        assert problems == []
        assert target == {"file": "/var/lib/chroma/targets/x", **expected}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"mntpt": "/mnt/MGS"', "not valid JSON"),
        ("", "not valid JSON"),
        ('["/mnt/MGS"]', "holds a JSON list, not an object"),
        (
            '{"bdev": "/dev/sda", "target_name": "MGS"}',
            "has no key 'mntpt' (keys: bdev, target_name)",
        ),
        ('{"mntpt": "mnt/MGS"}', "key 'mntpt' is 'mnt/MGS', not an absolute path"),
        ('{"mntpt": ""}', "key 'mntpt' is '', not a path"),
        ('{"mntpt": null}', "key 'mntpt' is None, not a path"),
        ('{"mntpt": "/"}', "not a mount point path"),
        ('{"mntpt": "/mnt/../etc"}', "not a mount point path"),
        ('{"mntpt": "/mnt/MGS", "bdev": 7}', "key 'bdev' is 7, not a string"),
    ],
)
def test_a_bad_target_file_is_a_problem_naming_the_file_and_the_key(text, says):
    target, problems = iml._parse_target(text, "/store/abc")
    assert target is None
    assert len(problems) == 1
    assert problems[0].startswith("/store/abc: ")
    assert says in problems[0]


def test_a_mount_point_path_is_normalised():
    target, _ = iml._parse_target('{"mntpt": "/mnt//ost0/"}', "f")
    assert target["mntpt"] == "/mnt/ost0"


def test_a_target_store_is_read_in_name_order_skipping_dot_files_and_directories(tmp_path):
    (tmp_path / "b").write_text('{"mntpt": "/mnt/b", "target_name": "B"}')
    (tmp_path / "a").write_text('{"mntpt": "/mnt/a", "target_name": "A"}')
    (tmp_path / ".a.tmp").write_text("half-written")
    (tmp_path / "sub").mkdir()
    assert [t["target_name"] for t in iml.targets(str(tmp_path))] == ["A", "B"]


def test_every_bad_file_of_a_store_is_named_in_one_error(tmp_path):
    (tmp_path / "good").write_text('{"mntpt": "/mnt/good"}')
    (tmp_path / "corrupt").write_text('{"mntpt": ')
    (tmp_path / "nomnt").write_text('{"bdev": "/dev/sdb"}')
    (tmp_path / "relative").write_text('{"mntpt": "mnt/x"}')
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    with pytest.raises(CommandExecutionError) as err:
        iml.targets(str(tmp_path))
    message = str(err.value)
    assert "4 invalid file(s)" in message
    assert "nothing was changed" in message
    for name, says in [
        ("corrupt", "not valid JSON"),
        ("nomnt", "has no key 'mntpt'"),
        ("relative", "not an absolute path"),
        ("binary", "UTF-8"),
    ]:
        assert f"{tmp_path / name}: " in message
        assert says in message


def test_a_missing_target_store_says_to_restore_it(tmp_path):
    with pytest.raises(CommandExecutionError, match="does not exist: restore /var/lib/chroma"):
        iml.targets(str(tmp_path / "targets"))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("0755", 0o755), ("755", 0o755), ("0o750", 0o750), (755, 0o755), (644, 0o644), (700, 0o700)],
)
def test_modes_are_read_as_octal_whatever_yaml_made_of_them(mode, expected):
    assert iml._mode(mode) == expected


@pytest.mark.parametrize("mode", ["rwxr-xr-x", 493, "17777", "-1"])
def test_a_mode_that_is_not_octal_is_an_error(mode):
    with pytest.raises(CommandExecutionError, match="not an octal file mode"):
        iml._mode(mode)


# --- manager repository file ------------------------------------------------------------


@pytest.mark.skipif(not RUNBOOK.exists(), reason=f"runbook not present at {RUNBOOK}")
@pytest.mark.parametrize("hostname", ["mgr.lfs.intl", "ct7-mgs.example.com"])
def test_the_manager_repo_file_is_byte_for_byte_the_runbook_scripts_output(hostname):
    assert iml.manager_repo_file(hostname) == runbook_repo_script_output(hostname)


def test_the_manager_repo_file_parses_back_with_every_repository_and_its_certificates():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(iml.manager_repo_file("mgr.lfs.intl"))
    assert parser.sections() == list(iml.DEFAULT_REPOS)
    assert parser["iml-agent"]["name"] == "Intel Manager for Lustre Agent"
    assert parser["iml-agent"]["baseurl"] == "https://mgr.lfs.intl/repo/iml-agent/7"
    for repo in ("lustre-server", "lustre-client", "e2fsprogs-wc"):
        assert parser[repo]["name"] == repo
        assert parser[repo]["baseurl"] == f"https://mgr.lfs.intl/repo/{repo}"
    for section in parser.sections():
        assert dict(parser[section]) == {
            "name": parser[section]["name"],
            "baseurl": parser[section]["baseurl"],
            "enabled": "1",
            "gpgcheck": "0",
            "sslverify": "1",
            "sslcacert": "/var/lib/chroma/authority.crt",
            "sslclientkey": "/var/lib/chroma/private.pem",
            "sslclientcert": "/var/lib/chroma/self.crt",
            "proxy": "_none_",
        }


def test_the_manager_repo_file_takes_other_repositories_and_a_certificate_directory():
    text = iml.manager_repo_file("mgr", repos="lustre-server,zfs", cert_dir="/etc/iml")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    assert parser.sections() == ["lustre-server", "zfs"]
    assert parser["zfs"]["baseurl"] == "https://mgr/repo/zfs"
    assert parser["zfs"]["sslclientcert"] == "/etc/iml/self.crt"


@pytest.mark.parametrize("hostname", ["", None, "mgr lfs", "https://mgr", "mgr/repo"])
def test_a_bad_manager_host_name_is_refused(hostname):
    with pytest.raises(CommandExecutionError, match="not a host name"):
        iml.manager_repo_file(hostname)


@pytest.mark.parametrize("repos", [[], ["bad id"], ["a]b"]])
def test_bad_repository_ids_are_refused(repos):
    with pytest.raises(CommandExecutionError):
        iml.manager_repo_file("mgr", repos=repos)


# --- mirrors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flavour", "newest", "expected"),
    [
        (
            "dnf",
            True,
            ["dnf", "reposync", "-c", "/tmp/lustre-repo.conf",
             "--setopt=*.skip_if_unavailable=False",
             "--repoid", "lustre-server", "--repoid", "e2fsprogs-wc",
             "-n", "-p", "/var/lib/chroma/repo"],
        ),
        (
            "yum",
            True,
            ["reposync", "-c", "/tmp/lustre-repo.conf", "-r", "lustre-server", "-r",
             "e2fsprogs-wc", "-n", "-p", "/var/lib/chroma/repo"],
        ),
        (
            "dnf",
            False,
            ["dnf", "reposync", "-c", "/tmp/lustre-repo.conf",
             "--setopt=*.skip_if_unavailable=False",
             "--repoid", "lustre-server", "--repoid", "e2fsprogs-wc", "-p", "/var/lib/chroma/repo"],
        ),
    ],
)  # fmt: skip
def test_reposync_command_lines_follow_the_runbook_for_each_flavour(flavour, newest, expected):
    argv = iml.reposync_argv(
        flavour,
        "/tmp/lustre-repo.conf",
        ["lustre-server", "e2fsprogs-wc"],
        "/var/lib/chroma/repo",
        newest_only=newest,
    )
    assert argv == expected


def test_an_unknown_reposync_flavour_is_refused():
    with pytest.raises(CommandExecutionError, match="dnf or yum"):
        iml.reposync_argv("apt", "c", ["r"], "d")


@pytest.mark.parametrize(
    ("tool", "update", "expected"),
    [
        ("/usr/bin/createrepo_c", False, ["/usr/bin/createrepo_c", "/d/lustre-server"]),
        ("createrepo", True, ["createrepo", "--update", "/d/lustre-server"]),
    ],
)
def test_createrepo_command_lines(tool, update, expected):
    assert iml.createrepo_argv(tool, "/d/lustre-server", update=update) == expected


def test_createrepo_refuses_other_tools():
    with pytest.raises(CommandExecutionError):
        iml.createrepo_argv("/bin/rm", "/d")


# --- agent repository file --------------------------------------------------------------


@pytest.mark.parametrize(
    ("manager", "port", "expected"),
    [
        ("mgr.lfs.intl", None, "https://mgr.lfs.intl/repo/Manager-for-Lustre.repo"),
        ("127.0.0.1", 40443, "https://127.0.0.1:40443/repo/Manager-for-Lustre.repo"),
        ("::1", "8443", "https://[::1]:8443/repo/Manager-for-Lustre.repo"),
    ],
)
def test_the_agent_repo_url_names_the_manager_and_port(manager, port, expected):
    assert iml.agent_repo_url(manager, port) == expected


def test_a_fetched_repository_file_must_hold_a_repository():
    assert iml._check_repo_text(iml.manager_repo_file("m").encode(), "u") == list(iml.DEFAULT_REPOS)
    with pytest.raises(CommandExecutionError, match="not a yum repository file"):
        iml._check_repo_text(b"<html><body>Login</body></html>", "u")
    with pytest.raises(CommandExecutionError, match="no repository with a baseurl"):
        iml._check_repo_text(b"[main]\nenabled=1\n", "u")


def test_missing_certificate_files_are_named_with_the_restore_step(tmp_path):
    (tmp_path / "authority.crt").write_text("x")
    with pytest.raises(CommandExecutionError) as err:
        iml._client_files(str(tmp_path))
    message = str(err.value)
    assert f"{tmp_path}/self.crt" in message and f"{tmp_path}/private.pem" in message
    assert "authority.crt" not in message
    assert "cp -a $HOME/bck-" in message


def test_an_atomic_write_replaces_the_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "Manager-for-Lustre.repo"
    target.write_text("old")
    iml._atomic_write(str(target), b"new")
    assert target.read_bytes() == b"new"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    assert [p.name for p in tmp_path.iterdir()] == ["Manager-for-Lustre.repo"]
