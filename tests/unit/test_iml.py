import configparser
import inspect
import json
import textwrap

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from _modules import iml
from lustre_upgrade_lib import iml_repos, iml_store
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
        target, problems = iml_store.parse_target(variant, "/var/lib/chroma/targets/x")
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
    target, problems = iml_store.parse_target(text, "/store/abc")
    assert target is None
    assert len(problems) == 1
    assert problems[0].startswith("/store/abc: ")
    assert says in problems[0]


def test_a_mount_point_path_is_normalised():
    target, _ = iml_store.parse_target('{"mntpt": "/mnt//ost0/"}', "f")
    assert target["mntpt"] == "/mnt/ost0"


def test_a_target_store_is_read_in_name_order_skipping_dot_files_and_directories(tmp_path):
    (tmp_path / "b").write_text('{"mntpt": "/mnt/b", "target_name": "B"}')
    (tmp_path / "a").write_text('{"mntpt": "/mnt/a", "target_name": "A"}')
    (tmp_path / ".a.tmp").write_text("half-written")
    (tmp_path / "sub").mkdir()
    assert [t["target_name"] for t in iml_store.read_store(str(tmp_path))] == ["A", "B"]


def test_every_bad_file_of_a_store_is_named_in_one_error(tmp_path):
    (tmp_path / "good").write_text('{"mntpt": "/mnt/good"}')
    (tmp_path / "corrupt").write_text('{"mntpt": ')
    (tmp_path / "nomnt").write_text('{"bdev": "/dev/sdb"}')
    (tmp_path / "relative").write_text('{"mntpt": "mnt/x"}')
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    with pytest.raises(CommandExecutionError) as err:
        iml_store.read_store(str(tmp_path))
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
        iml_store.read_store(str(tmp_path / "targets"))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("0755", 0o755), ("755", 0o755), ("0o750", 0o750), (755, 0o755), (644, 0o644), (700, 0o700)],
)
def test_modes_are_read_as_octal_whatever_yaml_made_of_them(mode, expected):
    assert iml_store.parse_mode(mode) == expected


@pytest.mark.parametrize("mode", ["rwxr-xr-x", 493, "17777", "-1"])
def test_a_mode_that_is_not_octal_is_an_error(mode):
    with pytest.raises(SaltInvocationError, match="not an octal file mode"):
        iml_store.parse_mode(mode)


# --- manager repository file ------------------------------------------------------------


@pytest.mark.skipif(not RUNBOOK.exists(), reason=f"runbook not present at {RUNBOOK}")
@pytest.mark.parametrize("hostname", ["mgr.lfs.intl", "ct7-mgs.example.com"])
def test_the_manager_repo_file_is_byte_for_byte_the_runbook_scripts_output(hostname):
    assert iml_repos.manager_repo_file(hostname) == runbook_repo_script_output(hostname)


def test_the_manager_repo_file_parses_back_with_every_repository_and_its_certificates():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(iml_repos.manager_repo_file("mgr.lfs.intl"))
    assert parser.sections() == list(iml_repos.DEFAULT_REPOS)
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
    text = iml_repos.manager_repo_file("mgr", repos="lustre-server,zfs", cert_dir="/etc/iml")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    assert parser.sections() == ["lustre-server", "zfs"]
    assert parser["zfs"]["baseurl"] == "https://mgr/repo/zfs"
    assert parser["zfs"]["sslclientcert"] == "/etc/iml/self.crt"


@pytest.mark.parametrize("hostname", ["", None, "mgr lfs", "https://mgr", "mgr/repo"])
def test_a_bad_manager_host_name_is_refused(hostname):
    with pytest.raises(SaltInvocationError, match="not a host name"):
        iml_repos.manager_repo_file(hostname)


@pytest.mark.parametrize(
    ("repos", "says"),
    [
        ([], "needs at least one repository id"),
        ("", "needs at least one repository id"),
        ([" ", ""], "needs at least one repository id"),
        (["bad id"], "'bad id' is not a yum repository id"),
        (["a]b"], "'a]b' is not a yum repository id"),
        ("lustre-server,x/y", "'x/y' is not a yum repository id"),
    ],
)
def test_bad_repository_ids_are_refused(repos, says):
    with pytest.raises(SaltInvocationError, match=says):
        iml_repos.manager_repo_file("mgr", repos=repos)


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
    argv = iml_repos.reposync_argv(
        flavour,
        "/tmp/lustre-repo.conf",
        ["lustre-server", "e2fsprogs-wc"],
        "/var/lib/chroma/repo",
        newest_only=newest,
    )
    assert argv == expected


def test_an_unknown_reposync_flavour_is_refused():
    with pytest.raises(SaltInvocationError, match="dnf or yum"):
        iml_repos.reposync_argv("apt", "c", ["r"], "d")


@pytest.mark.parametrize(
    ("tool", "update", "expected"),
    [
        ("/usr/bin/createrepo_c", False, ["/usr/bin/createrepo_c", "/d/lustre-server"]),
        ("createrepo", True, ["createrepo", "--update", "/d/lustre-server"]),
    ],
)
def test_createrepo_command_lines(tool, update, expected):
    assert iml_repos.createrepo_argv(tool, "/d/lustre-server", update=update) == expected


def test_createrepo_refuses_other_tools():
    with pytest.raises(SaltInvocationError, match="not createrepo"):
        iml_repos.createrepo_argv("/bin/rm", "/d")


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
    assert iml_repos.agent_repo_url(manager, port) == expected


def test_a_fetched_repository_file_must_hold_a_repository():
    assert iml_repos.check_repo_text(iml_repos.manager_repo_file("m").encode(), "u") == list(
        iml_repos.DEFAULT_REPOS
    )
    with pytest.raises(CommandExecutionError, match="not a yum repository file"):
        iml_repos.check_repo_text(b"<html><body>Login</body></html>", "u")
    with pytest.raises(CommandExecutionError, match="no repository with a baseurl"):
        iml_repos.check_repo_text(b"[main]\nenabled=1\n", "u")


def test_the_client_files_are_the_ca_the_certificate_and_the_key():
    assert iml_repos.client_files("/var/lib/chroma") == [
        "/var/lib/chroma/authority.crt",
        "/var/lib/chroma/self.crt",
        "/var/lib/chroma/private.pem",
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (b"same\n", b"same\n", ""),
        (None, b"[a]\n", "--- /dev/null\n+++ /x.repo\n@@ -0,0 +1 @@\n+[a]\n"),
        (b"[a]\n", b"[b]\n", "--- /x.repo\n+++ /x.repo\n@@ -1 +1 @@\n-[a]\n+[b]\n"),
    ],
)
def test_a_file_diff_shows_what_a_write_changes(old, new, expected):
    assert iml_repos.file_diff(old, new, "/x.repo") == expected


def test_the_mountpoint_plan_creates_the_missing_and_refuses_files_in_the_way():
    states = {"/mnt/b": "missing", "/mnt/a": "missing", "/mnt/c": "present"}
    assert iml_store.mountpoint_plan(states) == {
        "created": ["/mnt/a", "/mnt/b"],
        "present": ["/mnt/c"],
    }
    with pytest.raises(CommandExecutionError, match="not directories: /mnt/d; move them away"):
        iml_store.mountpoint_plan({**states, "/mnt/d": "not-a-directory"})


def test_path_states(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    assert iml_store.path_state(str(tmp_path / "dir")) == "present"
    assert iml_store.path_state(str(tmp_path / "none")) == "missing"
    assert iml_store.path_state(str(tmp_path / "file")) == "not-a-directory"
    assert iml_store.path_state(str(tmp_path / "file" / "below")) == "not-a-directory"


# --- the module over the library ----------------------------------------------------------


def test_missing_certificate_files_are_named_with_the_restore_step(tmp_path):
    (tmp_path / "authority.crt").write_text("x")
    with pytest.raises(CommandExecutionError) as err:
        iml._client_files(str(tmp_path))
    message = str(err.value)
    assert f"{tmp_path}/self.crt" in message and f"{tmp_path}/private.pem" in message
    assert "authority.crt" not in message
    assert "cp -a $HOME/bck-" in message


@pytest.mark.parametrize(
    ("function", "library_default"),
    [
        (iml.targets, iml_store.TARGETS_DIR),
        (iml.mountpoints, iml_store.TARGETS_DIR),
        (iml.make_mountpoints, iml_store.TARGETS_DIR),
        (iml.manager_repo_file, iml_repos.DEFAULT_REPOS),
        (iml.write_manager_repo_file, iml_repos.MANAGER_REPO_PATH),
        (iml.mirror_repos, iml_repos.MIRRORED_REPOS),
        (iml.fetch_agent_repo, iml_repos.AGENT_REPO_PATH),
    ],
)
def test_the_modules_defaults_are_the_librarys(function, library_default):
    defaults = [p.default for p in inspect.signature(function).parameters.values()]
    assert library_default in defaults


def test_the_module_writes_a_file_once_atomically_and_diffs_it(tmp_path):
    target = tmp_path / "Manager-for-Lustre.repo"
    target.write_text("old\n")
    predicted = iml._install_file(str(target), b"new\n", test=True)
    assert predicted["changed"] is True and "-old\n+new\n" in predicted["diff"]
    assert target.read_text() == "old\n"
    assert iml._install_file(str(target), b"new\n", test=False)["changed"] is True
    assert target.read_bytes() == b"new\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    assert [p.name for p in tmp_path.iterdir()] == ["Manager-for-Lustre.repo"]
    assert iml._install_file(str(target), b"new\n", test=False)["changed"] is False
