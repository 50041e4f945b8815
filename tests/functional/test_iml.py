"""iml execution and state modules in Salt's real loader, with real tools.

- target mount points: real target files (with their mount points moved under a temporary
  root), created for real;
- mirrors: a yum repository built at test time with rpmbuild + createrepo_c, mirrored with
  the real ``dnf reposync`` and ``createrepo_c`` under a private dnf configuration;
- agent repository: a local TLS server that requires client certificates, with a
  throwaway CA made by the ``openssl`` CLI.
"""

import glob
import http.server
import json
import os
import shutil
import ssl
import subprocess
import threading

import pytest
from salt.exceptions import CommandExecutionError

from lustre_upgrade_lib import iml_repos
from tests.support import REAL_FIXTURES

REAL_TARGET_FILES = ("online-help/targets-MGS.json", "online-help/targets-demo-MDT0000.json")
REPO_FILE_PATH = "/repo/Manager-for-Lustre.repo"


# --- target mount points ----------------------------------------------------------------


@pytest.fixture
def umask_077():
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def target_store(tmp_path):
    """A target store of the real target files, single-line, mount points under tmp_path/root."""
    missing = [rel for rel in REAL_TARGET_FILES if not (REAL_FIXTURES / rel).exists()]
    if missing:
        pytest.skip(f"real artifacts {missing} not present at {REAL_FIXTURES}")
    store = tmp_path / "targets"
    store.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    mntpts = []
    for i, rel in enumerate(REAL_TARGET_FILES):
        data = json.loads((REAL_FIXTURES / rel).read_text())
        data["mntpt"] = f"{root}{data['mntpt']}"
        mntpts.append(data["mntpt"])
        # IML writes each target as one line of JSON, named by the target's uuid.
        (store / f"c2890397-0000-4000-8000-00000000000{i}").write_text(json.dumps(data))
    return store, root, mntpts


def test_targets_returns_the_real_store_contents(modules, target_store):
    store, root, _ = target_store
    assert [(t["target_name"], t["mntpt"]) for t in modules.iml.targets(str(store))] == [
        ("MGS", f"{root}/mnt/MGS"),
        ("demo-MDT0000", f"{root}/mnt/demo-MDT0000"),
    ]


def test_target_mountpoints_creates_each_mount_point_0755_then_changes_nothing(
    states, target_store, testmode, umask_077
):
    store, root, mntpts = target_store
    ret = states.iml.target_mountpoints(name=str(store), test=testmode)
    assert (ret.result is None) is testmode
    assert ret.changes == {"created": sorted(mntpts)}
    if testmode:
        assert not (root / "mnt").exists()
        return
    assert ret.result is True
    for path in [root / "mnt", *map(type(root), mntpts)]:
        assert path.is_dir()
        assert oct(path.stat().st_mode & 0o777) == oct(0o755)
    again = states.iml.target_mountpoints(name=str(store))
    assert again.result is True
    assert again.changes == {}


def test_target_mountpoints_leaves_existing_directories_as_they_are(states, target_store):
    store, root, mntpts = target_store
    os.makedirs(mntpts[0])
    os.chmod(mntpts[0], 0o700)
    ret = states.iml.target_mountpoints(name=str(store))
    assert ret.result is True
    assert ret.changes == {"created": [mntpts[1]]}
    assert oct(os.stat(mntpts[0]).st_mode & 0o777) == oct(0o700)


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("corrupt", '{"mntpt": "/mnt/x", ', "not valid JSON"),
        ("nomntpt", '{"bdev": "/dev/sdc", "target_name": "OST0000"}', "has no key 'mntpt'"),
        ("relative", '{"mntpt": "mnt/OST0000"}', "not an absolute path"),
    ],
)
def test_target_mountpoints_validates_every_file_before_creating_anything(
    states, target_store, testmode, name, content, says
):
    store, root, _ = target_store
    (store / name).write_text(content)
    ret = states.iml.target_mountpoints(name=str(store), test=testmode)
    assert ret.result is False
    assert ret.changes == {}
    assert f"{store / name}: " in ret.comment
    assert says in ret.comment
    assert not (root / "mnt").exists()


def test_target_mountpoints_refuses_a_file_in_the_way_and_creates_nothing(
    states, target_store, testmode
):
    store, root, mntpts = target_store
    os.makedirs(os.path.dirname(mntpts[1]))
    with open(mntpts[1], "w") as fh:
        fh.write("not a directory")
    ret = states.iml.target_mountpoints(name=str(store), test=testmode)
    assert ret.result is False
    assert ret.changes == {}
    assert mntpts[1] in ret.comment and "move them away" in ret.comment
    assert not os.path.exists(mntpts[0])


def test_target_mountpoints_refuses_a_mode_that_is_not_octal(states, target_store, testmode):
    store, root, _ = target_store
    ret = states.iml.target_mountpoints(name=str(store), mode="rwxr-xr-x", test=testmode)
    assert ret.result is False
    assert "not an octal file mode" in ret.comment
    assert not (root / "mnt").exists()


def test_target_mountpoints_on_a_missing_store_says_to_restore_it(states, tmp_path, testmode):
    ret = states.iml.target_mountpoints(name=str(tmp_path / "targets"), test=testmode)
    assert ret.result is False
    assert "restore /var/lib/chroma" in ret.comment


def test_an_empty_store_has_nothing_to_create(states, tmp_path, testmode):
    ret = states.iml.target_mountpoints(name=str(tmp_path), test=testmode)
    assert ret.result is True
    assert ret.changes == {}


# --- manager repository file ------------------------------------------------------------


def test_write_manager_repo_file_writes_once_and_predicts_in_test_mode(modules, tmp_path):
    path = tmp_path / "repo" / "Manager-for-Lustre.repo"
    path.parent.mkdir()
    predicted = modules.iml.write_manager_repo_file("mgr.lfs.intl", path=str(path), test=True)
    assert predicted["changed"] is True
    assert not path.exists()
    written = modules.iml.write_manager_repo_file("mgr.lfs.intl", path=str(path))
    assert written["changed"] is True
    assert path.read_text() == modules.iml.manager_repo_file("mgr.lfs.intl")
    assert modules.iml.write_manager_repo_file("mgr.lfs.intl", path=str(path))["changed"] is False


def test_write_manager_repo_file_without_the_manager_installed_says_so(modules, tmp_path):
    with pytest.raises(CommandExecutionError, match="install the IML manager first"):
        modules.iml.write_manager_repo_file("mgr", path=str(tmp_path / "no" / "x.repo"))


# --- mirrors ----------------------------------------------------------------------------

TINY_SPEC = """\
Name: {name}
Version: {version}
Release: 1
Summary: stand-in for {name}
License: GPL
BuildArch: noarch
%description
A package named like one of the Lustre repositories' packages.
%files
"""


def _require(*tools):
    absent = [t for t in tools if not shutil.which(t)]
    if absent:
        pytest.skip(f"{', '.join(absent)} not installed (tests/run.sh installs them)")


@pytest.fixture(scope="module")
def upstream_repos(tmp_path_factory):
    """Two file:// yum repositories, each with tiny noarch RPMs, built with the real tools."""
    _require("rpmbuild", "createrepo_c")
    base = tmp_path_factory.mktemp("upstream")
    env = {**os.environ, "HOME": str(base)}
    contents = {
        "lustre-server": [("lustre", "2.10.7"), ("lustre", "2.10.6"), ("kmod-lustre", "2.10.7")],
        "e2fsprogs-wc": [("e2fsprogs", "1.44.3.wc1")],
    }
    for repo, packages in contents.items():
        (base / repo).mkdir()
        for name, version in packages:
            top = base / "build" / f"{name}-{version}"
            (top / "SPECS").mkdir(parents=True)
            spec = top / "SPECS" / f"{name}.spec"
            spec.write_text(TINY_SPEC.format(name=name, version=version))
            subprocess.run(
                ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", str(spec)],
                check=True,
                env=env,
                capture_output=True,
            )
            for rpm in (top / "RPMS" / "noarch").glob("*.rpm"):
                shutil.copy(rpm, base / repo)
        subprocess.run(["createrepo_c", "-q", str(base / repo)], check=True)
    return base


def _private_dnf_conf(path, private, repos):
    """A dnf configuration that keeps cache, logs, state and repos out of the host's."""
    lines = [
        "[main]",
        f"cachedir={private}/cache",
        f"logdir={private}/log",
        f"persistdir={private}/persist",
        f"reposdir={private}/repos.d",
        f"pluginconfpath={private}/plugins",
        "gpgcheck=0",
        # As Debian's dnf.conf has it (and the repositories below): mirror_repos must
        # still fail on an unreachable repository.
        "skip_if_unavailable=True",
        "",
    ]
    for repo, baseurl in repos.items():
        lines += [
            f"[{repo}]",
            f"name={repo}",
            f"baseurl={baseurl}",
            "exclude=*debuginfo*",
            "gpgcheck=0",
            "skip_if_unavailable=True",
            "",
        ]
    for sub in ("cache", "log", "persist", "repos.d", "plugins"):
        (private / sub).mkdir(parents=True, exist_ok=True)
    # generate_completion_cache writes /var/cache/dnf/packages.db whatever cachedir says;
    # local adds a repository of its own.
    for plugin in ("generate_completion_cache", "local"):
        (private / "plugins" / f"{plugin}.conf").write_text("[main]\nenabled=0\n")
    path.write_text("\n".join(lines))
    return path


def _host_dnf_state():
    paths = [*glob.glob("/var/cache/dnf/*"), *glob.glob("/var/log/dnf*"), "/var/lib/dnf"]
    return {p: os.stat(p).st_mtime_ns for p in paths if os.path.exists(p)}


@pytest.fixture
def private_home(tmp_path, monkeypatch):
    """Keep dnf off the host: $HOME (Debian's rpm keeps its database there), and check
    afterwards that the host's dnf cache, logs and state were not touched."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    before = _host_dnf_state()
    yield home
    assert _host_dnf_state() == before


def test_mirror_repos_mirrors_and_indexes_a_yum_repository_with_dnf_reposync(
    modules, upstream_repos, tmp_path, private_home
):
    _require("dnf", "createrepo_c")
    conf = _private_dnf_conf(
        tmp_path / "lustre-repo.conf",
        tmp_path / "dnf",
        {r: f"file://{upstream_repos / r}" for r in ("lustre-server", "e2fsprogs-wc")},
    )
    dest = tmp_path / "chroma-repo"
    result = modules.iml.mirror_repos(
        str(conf), repos=["lustre-server", "e2fsprogs-wc"], dest=str(dest)
    )
    assert result["flavour"] == "dnf"
    # -n: only the newest lustre of the two.
    assert sorted(p.name for p in (dest / "lustre-server").rglob("*.rpm")) == [
        "kmod-lustre-2.10.7-1.noarch.rpm",
        "lustre-2.10.7-1.noarch.rpm",
    ]
    assert result["repos"]["lustre-server"] == {"path": str(dest / "lustre-server"), "packages": 2}
    assert result["repos"]["e2fsprogs-wc"]["packages"] == 1

    # The mirror is itself a yum repository the servers can use.
    check_conf = _private_dnf_conf(
        tmp_path / "check.conf",
        tmp_path / "dnf-check",
        {r: f"file://{dest / r}" for r in ("lustre-server", "e2fsprogs-wc")},
    )
    listed = subprocess.run(
        ["dnf", "-q", "-c", str(check_conf), "repoquery", "--qf", "%{name}-%{version}",
         "--repoid", "lustre-server", "--repoid", "e2fsprogs-wc"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert sorted(listed.stdout.split()) == [
        "e2fsprogs-1.44.3.wc1",
        "kmod-lustre-2.10.7",
        "lustre-2.10.7",
    ]

    # Mirroring again reuses the metadata (createrepo --update) and gives the same mirror.
    again = modules.iml.mirror_repos(str(conf), repos="lustre-server,e2fsprogs-wc", dest=str(dest))
    assert again["repos"] == result["repos"]


def test_mirror_repos_reports_reposync_failures_with_their_output(
    modules, upstream_repos, tmp_path, private_home
):
    _require("dnf", "createrepo_c")
    conf = _private_dnf_conf(
        tmp_path / "lustre-repo.conf",
        tmp_path / "dnf",
        {"lustre-server": f"file://{tmp_path / 'nowhere'}"},
    )
    with pytest.raises(CommandExecutionError, match="reposync failed"):
        modules.iml.mirror_repos(
            str(conf), repos=["lustre-server"], dest=str(tmp_path / "d"), flavour="dnf"
        )


def test_mirror_repos_without_its_configuration_says_what_to_write(modules, tmp_path):
    with pytest.raises(CommandExecutionError, match="write it first"):
        modules.iml.mirror_repos(str(tmp_path / "lustre-repo.conf"))


# --- agent repository over TLS with client certificates ----------------------------------


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], check=True, cwd=cwd, capture_output=True)


def _make_ca(directory, name):
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", f"{name}.key", "-out", f"{name}.crt", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip


def _make_cert(directory, ca, name, cn, ext):
    (directory / f"{name}.ext").write_text(ext)
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
        "-out", f"{name}.csr", "-subj", f"/CN={cn}",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", "-extfile", f"{name}.ext",
        cwd=directory,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The manager's CA, a server certificate, a node's client certificate; another CA's too."""
    _require("openssl")
    d = tmp_path_factory.mktemp("pki")
    _make_ca(d, "authority")
    _make_ca(d, "other-ca")
    _make_cert(
        d, "authority", "manager", "localhost",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )  # fmt: skip
    _make_cert(d, "authority", "node", "oss1-a.lfs.intl", "extendedKeyUsage=clientAuth\n")
    _make_cert(d, "other-ca", "stranger", "oss1-a.lfs.intl", "extendedKeyUsage=clientAuth\n")

    def cert_dir(name, client="node", ca="authority"):
        """A node's /var/lib/chroma: authority.crt, self.crt, private.pem."""
        target = d / name
        target.mkdir()
        shutil.copy(d / f"{ca}.crt", target / "authority.crt")
        if client:
            shutil.copy(d / f"{client}.crt", target / "self.crt")
            shutil.copy(d / f"{client}.key", target / "private.pem")
        return target

    return {
        "dir": d,
        "node": cert_dir("node"),
        "stranger": cert_dir("stranger", client="stranger"),
        "wrong-authority": cert_dir("wrong-authority", ca="other-ca"),
        "no-client": cert_dir("no-client", client=None),
    }


class _ManagerHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def finish_request(self, request, client_address):
        # The handshake runs in the request's thread, so a refused client cannot block
        # the accept loop.
        tls = self.tls_context.wrap_socket(request, server_side=True)
        self.RequestHandlerClass(tls, client_address, self)

    def handle_error(self, request, client_address):
        self.refused.append(client_address)


@pytest.fixture(scope="module")
def manager(pki):
    """An HTTPS server on 127.0.0.1 (random port) that requires a client certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["dir"] / "manager.crt", pki["dir"] / "manager.key")
    context.load_verify_locations(pki["dir"] / "authority.crt")
    context.verify_mode = ssl.CERT_REQUIRED
    server = _TLSServer(("127.0.0.1", 0), _ManagerHandler)
    server.tls_context = context
    server.refused = []
    server.files = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def served(manager):
    """Serve the manager's repository file for this test: ``served(text)``."""

    def serve(text):
        manager.files[REPO_FILE_PATH] = text.encode()

    serve(_repo_text("ct7-mgs.lfs.intl"))
    yield serve
    manager.files.clear()


def _repo_text(host):
    # The manager's own file, as iml.write_manager_repo_file writes it.
    return iml_repos.manager_repo_file(host)


@pytest.fixture
def yum_repos_d(tmp_path):
    d = tmp_path / "yum.repos.d"
    d.mkdir()
    return d


def test_fetch_agent_repo_fetches_with_the_client_certificate_once(
    modules, manager, served, pki, yum_repos_d
):
    dest = yum_repos_d / "Manager-for-Lustre.repo"
    port = manager.server_address[1]
    kwargs = {"dest": str(dest), "cert_dir": str(pki["node"]), "port": port}
    predicted = modules.iml.fetch_agent_repo("127.0.0.1", test=True, **kwargs)
    assert predicted["changed"] is True
    assert predicted["url"] == f"https://127.0.0.1:{port}{REPO_FILE_PATH}"
    assert not dest.exists()
    assert modules.iml.fetch_agent_repo("127.0.0.1", **kwargs)["changed"] is True
    assert dest.read_text() == _repo_text("ct7-mgs.lfs.intl")
    assert oct(dest.stat().st_mode & 0o777) == oct(0o644)
    assert modules.iml.fetch_agent_repo("localhost", **kwargs)["changed"] is False
    assert sorted(p.name for p in yum_repos_d.iterdir()) == ["Manager-for-Lustre.repo"]


def test_a_connection_without_a_client_certificate_is_refused_with_a_clear_error(
    modules, manager, served, pki
):
    url = f"https://127.0.0.1:{manager.server_address[1]}{REPO_FILE_PATH}"
    with pytest.raises(CommandExecutionError) as err:
        modules.iml.fetch(url, str(pki["node"] / "authority.crt"), timeout=10)
    message = str(err.value)
    assert url in message
    assert "refused a connection without a client certificate" in message or (
        "closed the TLS connection" in message
    )
    assert "restore /var/lib/chroma" in message


def test_a_node_without_its_client_certificate_is_told_to_restore_it(
    modules, manager, served, pki, yum_repos_d
):
    with pytest.raises(CommandExecutionError) as err:
        modules.iml.fetch_agent_repo(
            "127.0.0.1",
            dest=str(yum_repos_d / "Manager-for-Lustre.repo"),
            cert_dir=str(pki["no-client"]),
            port=manager.server_address[1],
        )
    assert f"{pki['no-client']}/self.crt" in str(err.value)
    assert "restore /var/lib/chroma" in str(err.value)


def test_a_client_certificate_from_another_ca_is_refused_with_a_clear_error(
    modules, manager, served, pki, yum_repos_d
):
    dest = yum_repos_d / "Manager-for-Lustre.repo"
    with pytest.raises(CommandExecutionError) as err:
        modules.iml.fetch_agent_repo(
            "127.0.0.1",
            dest=str(dest),
            cert_dir=str(pki["stranger"]),
            port=manager.server_address[1],
            timeout=10,
        )
    message = str(err.value)
    assert "the manager refused the client certificate" in message or (
        "closed the TLS connection" in message
    )
    assert "restore /var/lib/chroma" in message
    assert not dest.exists()


def test_a_manager_certificate_from_another_ca_is_not_trusted(
    modules, manager, served, pki, yum_repos_d
):
    with pytest.raises(CommandExecutionError, match="manager's certificate is not trusted by"):
        modules.iml.fetch_agent_repo(
            "127.0.0.1",
            dest=str(yum_repos_d / "Manager-for-Lustre.repo"),
            cert_dir=str(pki["wrong-authority"]),
            port=manager.server_address[1],
        )


def test_a_missing_repository_file_on_the_manager_says_how_to_create_it(
    modules, manager, served, pki, yum_repos_d
):
    url = f"https://127.0.0.1:{manager.server_address[1]}/repo/nothing.repo"
    with pytest.raises(CommandExecutionError, match="HTTP 404.*write_manager_repo_file"):
        modules.iml.fetch_agent_repo(
            dest=str(yum_repos_d / "x.repo"), cert_dir=str(pki["node"]), url=url
        )


def test_agent_repo_writes_the_managers_file_then_changes_nothing(
    states, manager, served, pki, yum_repos_d, testmode
):
    dest = yum_repos_d / "Manager-for-Lustre.repo"
    dest.write_text(_repo_text("old-manager.lfs.intl"))
    kwargs = {
        "name": str(dest),
        "manager": "127.0.0.1",
        "port": manager.server_address[1],
        "cert_dir": str(pki["node"]),
    }
    ret = states.iml.agent_repo(test=testmode, **kwargs)
    assert (ret.result is None) is testmode
    diff = ret.changes["diff"]
    assert "-baseurl=https://old-manager.lfs.intl/repo/lustre-server" in diff
    assert "+baseurl=https://ct7-mgs.lfs.intl/repo/lustre-server" in diff
    if testmode:
        assert dest.read_text() == _repo_text("old-manager.lfs.intl")
        return
    assert ret.result is True
    assert dest.read_text() == _repo_text("ct7-mgs.lfs.intl")
    again = states.iml.agent_repo(**kwargs)
    assert again.result is True
    assert again.changes == {}


def test_agent_repo_failures_say_what_to_do(states, manager, served, pki, yum_repos_d, testmode):
    ret = states.iml.agent_repo(
        name=str(yum_repos_d / "Manager-for-Lustre.repo"),
        manager="127.0.0.1",
        port=manager.server_address[1],
        cert_dir=str(pki["stranger"]),
        test=testmode,
    )
    assert ret.result is False
    assert ret.changes == {}
    assert "restore /var/lib/chroma" in ret.comment


@pytest.mark.parametrize("tool", ["reposync", "createrepo_c"])
def test_a_hanging_reposync_or_createrepo_ends_mirror_repos_with_its_timeout(
    modules, tmp_path, monkeypatch, tool
):
    from tests.functional.test_pacemaker_hangs import finishes, hanging

    bindir = hanging(tmp_path, monkeypatch, tool)
    for other in {"reposync", "createrepo_c"} - {tool}:
        (bindir / other).write_text("#!/bin/sh\nexit 0\n")
        (bindir / other).chmod(0o755)
    conf = tmp_path / "lustre-repo.conf"
    conf.write_text("[lustre-server]\nbaseurl=file:///nowhere\n")
    outcome = finishes(
        lambda: modules.iml.mirror_repos(
            str(conf), repos=["lustre-server"], dest=str(tmp_path / "d"), flavour="yum", timeout=3
        )
    )
    assert isinstance(outcome.get("error"), CommandExecutionError), outcome
    assert tool in str(outcome["error"]) and "did not finish within 3s" in str(outcome["error"])
