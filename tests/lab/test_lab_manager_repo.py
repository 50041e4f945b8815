"""The manager node serves IML's agent repository as IML's manager does: over HTTPS on the
manager's FQDN, to clients with a certificate its CA signed. The pair nodes'
/var/lib/chroma holds what registration left there: the CA's certificate (authority.crt)
and the node's own certificate (self.crt, private.pem) signed by that CA; the CA's key is
the manager's (/var/lib/chroma/authority.pem on `mgr`) and never on a pair node. The
manager's service logs each request with the client certificate's CN in
/var/log/chroma/access.log. The shared lab's manager is upgraded (life "el7")."""

import stat

import pytest

pytestmark = pytest.mark.lab

CHROMA = "/var/lib/chroma"
REPO_PATH = "/repo/Manager-for-Lustre.repo"
REPOMD = "/repo/iml-agent/7/repodata/repomd.xml"
ACCESS_LOG = "/var/log/chroma/access.log"
CLIENT = ["--cert", f"{CHROMA}/self.crt", "--key", f"{CHROMA}/private.pem"]


def _url(lab, path=REPO_PATH):
    return f"https://{lab.spec.manager_fqdn}{path}"


def _curl(lab, minion, *options, path=REPO_PATH):
    """The runbook's fetch of the agent repository, from the node."""
    argv = ["curl", "-sS", "--fail", "--max-time", "20", "--noproxy", "*", *options]
    return lab.node_exec(minion, [*argv, _url(lab, path)], timeout=60)


def _access_log(lab):
    got = lab.node_exec(lab.spec.manager_minion, ["cat", ACCESS_LOG], check=True)
    return got.stdout.splitlines()


def test_a_node_fetches_the_agent_repository_with_its_iml_certificate(lab):
    for node in lab.spec.nodes:
        before = len(_access_log(lab))
        got = _curl(lab, node.minion, "--cacert", f"{CHROMA}/authority.crt", *CLIENT)
        assert got.returncode == 0, got.stderr
        assert got.stdout.startswith("[iml-agent]"), got.stdout
        assert f"baseurl=https://{lab.spec.manager_fqdn}/repo/iml-agent/7" in got.stdout
        repomd = _curl(
            lab, node.minion, "--cacert", f"{CHROMA}/authority.crt", *CLIENT, path=REPOMD
        )
        assert repomd.returncode == 0 and "<repomd" in repomd.stdout, repomd.stderr
        lines = _access_log(lab)[before:]
        fields = [line.split() for line in lines]
        assert [f[1:] for f in fields] == [
            [node.rings[0], node.fqdn, "GET", REPO_PATH, "200"],
            [node.rings[0], node.fqdn, "GET", REPOMD, "200"],
        ], lines


def test_a_request_without_a_client_certificate_is_refused(lab):
    node = lab.spec.nodes[0]
    before = len(_access_log(lab))
    anonymous = _curl(lab, node.minion, "--cacert", f"{CHROMA}/authority.crt")
    assert anonymous.returncode == 22, anonymous.stderr  # --fail: HTTP 403
    assert "iml-agent" not in anonymous.stdout
    # A certificate the manager's CA did not sign fails the TLS handshake.
    stranger = lab.node_exec(
        node.minion,
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={node.fqdn}",
            "-keyout",
            "/tmp/stranger.key",
            "-out",
            "/tmp/stranger.crt",
        ],
    )
    assert stranger.returncode == 0, stranger.stderr
    unknown = _curl(
        lab,
        node.minion,
        "--cacert",
        f"{CHROMA}/authority.crt",
        "--cert",
        "/tmp/stranger.crt",
        "--key",
        "/tmp/stranger.key",
    )
    lab.node_exec(node.minion, ["rm", "-f", "/tmp/stranger.key", "/tmp/stranger.crt"])
    assert unknown.returncode not in (0, 22) and "iml-agent" not in unknown.stdout
    lines = _access_log(lab)[before:]
    assert [line.split()[1:] for line in lines] == [
        [node.rings[0], "-", "GET", REPO_PATH, "403"],
        [node.rings[0], "-", "-", "-", "tls-refused:CERTIFICATE_VERIFY_FAILED"],
    ], lines


def test_the_nodes_iml_certificates_come_from_the_manager_ca_whose_key_stays_off_the_pair(lab):
    manager = lab.run_dir / "manager"
    assert stat.S_IMODE(manager.stat().st_mode) == 0o700
    for name in ("ca.key", "server.key"):
        assert stat.S_IMODE((manager / name).stat().st_mode) == 0o600
        assert (manager / name).stat().st_uid == 0
    ca = (manager / "ca.crt").read_text()
    ca_key = (manager / "ca.key").read_text()
    # The manager holds its CA as IML does: authority.crt and its key authority.pem.
    mgr = lab.spec.manager_minion
    held = lab.node_exec(mgr, ["cat", f"{CHROMA}/authority.crt", f"{CHROMA}/authority.pem"])
    assert held.stdout == ca + ca_key
    mode = lab.node_exec(mgr, ["stat", "-c", "%a", f"{CHROMA}/authority.pem"], check=True)
    assert mode.stdout.strip() == "600"
    for node in lab.spec.nodes:
        authority = lab.node_exec(node.minion, ["cat", f"{CHROMA}/authority.crt"], check=True)
        assert authority.stdout == ca
        verify = lab.node_exec(
            node.minion,
            ["openssl", "verify", "-CAfile", f"{CHROMA}/authority.crt", f"{CHROMA}/self.crt"],
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
        subject = lab.node_exec(
            node.minion,
            [
                "openssl",
                "x509",
                "-in",
                f"{CHROMA}/self.crt",
                "-noout",
                "-subject",
                "-nameopt",
                "RFC2253",
            ],
            check=True,
        )
        assert subject.stdout.strip() == f"subject=CN={node.fqdn}"
        # The node cannot see the run dir, and no copy of the CA's key is on its disk.
        run_dir = lab.node_exec(node.minion, ["test", "-e", str(manager / "ca.key")])
        assert run_dir.returncode != 0
        disk = lab.nodes[node.minion].disk
        for path in disk.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.stat().st_size == len(ca_key):
                assert path.read_text(errors="replace") != ca_key, path
