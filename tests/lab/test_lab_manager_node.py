"""The lab's IML manager node `mgr`, in both of its starting lives.

- el7 (the shared lab's: what orch.upgrade_manager leaves): IML 4.0 answers its release on
  a migrated database with the pair's servers, and a pair node fetches packages from its
  HTTPS agent repository with its IML client certificate (dnf with sslclientcert);
- el6 (this module's own lab: an IML 2.4 manager before the runbook's manager sections):
  PostgreSQL holds the IML 2.4-shaped database, the runbook's psql/pg_dumpall commands
  work, the service answers /api/health and serves /repo/ only to a client certificate
  the manager's CA signed, logging each request; after a rebuild (fresh EL7, new key) and
  the IML 4.0 package, `chroma-config setup` refuses a database it cannot migrate, leaving
  it as it was, and migrates the restored IML 2.4 one.
"""

import pytest

from tests.lab.support import rebuild_like_the_product

pytestmark = pytest.mark.lab

# Only the own lab of this module (the el6 tests) takes these; the shared `lab` is el7.
LAB_OVERRIDES = {"manager": {"life": "el6"}}

CHROMA = "/var/lib/chroma"
ACCESS_LOG = "/var/log/chroma/access.log"
CLIENT = ["--cert", f"{CHROMA}/self.crt", "--key", f"{CHROMA}/private.pem"]
DATA_TABLES = (
    "auth_user",
    "chroma_core_managedhost",
    "chroma_core_managedfilesystem",
    "chroma_core_volume",
    "chroma_core_volumenode",
    "chroma_core_managedtarget",
)
IML24_LAST = "0131_auto__del_field_managedtarget_active_mount"
IML40_LAST = "0004_managedhost_install_method"


def _mgr(lab, argv, **kwargs):
    return lab.node_exec(lab.spec.manager_minion, argv, timeout=120, **kwargs)


def _psql(lab, sql, database="chroma"):
    got = _mgr(
        lab,
        ["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1"]
        + ["-d", database, "-c", sql],
    )
    assert got.returncode == 0, got.stderr
    return got.stdout.strip()


def _rows(lab):
    return {t: int(_psql(lab, f"SELECT count(*) FROM {t}")) for t in DATA_TABLES}


def _curl(lab, minion, path, *options):
    argv = ["curl", "-sS", "--max-time", "20", "--noproxy", "*", "-w", "\n%{http_code}"]
    argv += ["--cacert", f"{CHROMA}/authority.crt", *options]
    got = lab.node_exec(minion, [*argv, f"https://{lab.spec.manager_fqdn}{path}"], timeout=60)
    body, _, code = got.stdout.rpartition("\n")
    return (int(code) if code.isdigit() else 0), body


def _access_log(lab):
    return _mgr(lab, ["cat", ACCESS_LOG], check=True).stdout.splitlines()


def _servers(lab):
    return sorted(n.fqdn for n in lab.spec.nodes)


# ------------------------------------------------------------------ el7: the shared lab


def test_the_upgraded_manager_answers_iml_4_on_a_migrated_database(lab):
    code, health = lab.manager_health()
    assert code == 200, health
    assert health["release"] == "4.0.10.2" and health["schema_current"] is True, health
    assert health["schema_version"] == IML40_LAST
    assert health["servers"] == _servers(lab)
    assert all(health["rows"][t] > 0 for t in DATA_TABLES), health
    for unit in ("postgresql", "chroma-manager"):
        assert _mgr(lab, ["systemctl", "is-active", unit]).returncode == 0, unit
    assert _mgr(lab, ["rpm", "-q", "python2-iml-manager"]).stdout.startswith(
        "python2-iml-manager-4.0.10.2"
    )
    repo_file = _mgr(lab, ["cat", f"{CHROMA}/repo/Manager-for-Lustre.repo"], check=True).stdout
    # The lab pillar's server:lustre_repos is `pillar`: the servers define the Lustre
    # repositories themselves, the manager's file has the agent's only.
    assert "[iml-agent]" in repo_file and "[lustre-server]" not in repo_file
    for mirror in ("lustre-server", "lustre-client", "e2fsprogs-wc"):
        assert (
            _mgr(lab, ["test", "-s", f"{CHROMA}/repo/{mirror}/repodata/repomd.xml"]).returncode == 0
        )


def test_a_pair_node_downloads_agent_packages_over_https_with_its_client_certificate(lab):
    node = lab.spec.nodes[0]
    work = "/tmp/lab-iml-agent"
    code, text = _curl(lab, node.minion, "/repo/Manager-for-Lustre.repo", *CLIENT)
    assert code == 200, text
    dnf = [
        "dnf",
        "-y",
        f"--setopt=reposdir={work}/repos.d",
        f"--setopt=cachedir={work}/cache",
        "--releasever=7",
    ]
    try:
        lab.node_exec(node.minion, ["mkdir", "-p", f"{work}/repos.d"], check=True)
        lab.node_exec(
            node.minion,
            ["sh", "-c", f"cat > {work}/repos.d/Manager-for-Lustre.repo"],
            input=text + "\n",
            check=True,
        )
        before = len(_access_log(lab))
        got = lab.node_exec(
            node.minion,
            [*dnf, "download", "--destdir", f"{work}/rpms", "chroma-diagnostics"],
            timeout=120,
        )
        assert got.returncode == 0, got.stdout + got.stderr
        listing = lab.node_exec(node.minion, ["ls", f"{work}/rpms"], check=True).stdout
        assert "chroma-diagnostics-4.0.10.2-1.el7.noarch.rpm" in listing
        fetched = [line.split()[1:] for line in _access_log(lab)[before:]]
        assert [
            node.rings[0],
            node.fqdn,
            "GET",
            "/repo/iml-agent/7/repodata/repomd.xml",
            "200",
        ] in fetched
        assert [
            node.rings[0],
            node.fqdn,
            "GET",
            "/repo/iml-agent/7/chroma-diagnostics-4.0.10.2-1.el7.noarch.rpm",
            "200",
        ] in fetched
        # Without the client certificate the repository is refused.
        lab.node_exec(
            node.minion,
            ["sed", "-i", "/^sslclient/d", f"{work}/repos.d/Manager-for-Lustre.repo"],
            check=True,
        )
        refused = lab.node_exec(node.minion, [*dnf, "makecache", "--refresh"], timeout=120)
        assert refused.returncode != 0
    finally:
        lab.node_exec(node.minion, ["rm", "-rf", work])


# ------------------------------------------------------------------ el6: this module's lab


def test_the_el6_manager_holds_an_iml_24_database_in_postgresql(own_lab):
    lab = own_lab
    status = _mgr(lab, ["service", "postgresql", "status"])
    assert status.returncode == 0 and "is running" in status.stdout, status.stdout
    assert _mgr(lab, ["test", "-e", "/usr/bin/systemctl"]).returncode != 0
    assert _mgr(lab, ["rpm", "-q", "postgresql-server", "chroma-manager"]).stdout.split() == [
        "postgresql-server-8.4.20-3.el6_6.noarch",
        "chroma-manager-2.4.2.7-1.el6.noarch",
    ]
    assert _psql(lab, "SELECT fqdn FROM chroma_core_managedhost ORDER BY fqdn").split() == (
        _servers(lab)
    )
    rows = _rows(lab)
    assert all(count > 0 for count in rows.values()), rows
    assert (
        _psql(
            lab,
            "SELECT migration FROM south_migrationhistory WHERE app_name = 'chroma_core' "
            "ORDER BY id DESC LIMIT 1",
        )
        == IML24_LAST
    )
    assert _psql(lab, "SELECT to_regclass('public.django_migrations')") == ""
    # The runbook's commands: the backup's dump, and a restore's psql.
    dump = _mgr(lab, ["su", "-", "postgres", "-c", "/usr/bin/pg_dumpall --clean"])
    assert dump.returncode == 0, dump.stderr
    assert "DROP DATABASE chroma;" in dump.stdout
    assert "CREATE TABLE public.chroma_core_managedhost" in dump.stdout
    restore = _mgr(lab, ["su", "-", "postgres", "-c", "psql postgres"], input="SELECT 42;\n")
    assert restore.returncode == 0 and "42" in restore.stdout, restore.stderr
    code, health = lab.manager_health()
    assert code == 200, health
    assert health["release"] == "2.4.2.7" and health["schema_current"] is True
    assert health["servers"] == _servers(lab) and health["rows"] == rows
    assert health["rows_total"] == sum(rows.values())
    ca = (lab.run_dir / "manager" / "ca.crt").read_text()
    assert _mgr(lab, ["cat", f"{CHROMA}/authority.crt"]).stdout == ca
    verify = _mgr(
        lab, ["openssl", "verify", "-CAfile", f"{CHROMA}/authority.crt", f"{CHROMA}/manager.crt"]
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    grains = lab.salt_json(lab.spec.manager_minion, "grains.item", "osfinger", "fqdn")
    assert grains[lab.spec.manager_minion] == {
        "osfinger": "CentOS-6",
        "fqdn": lab.spec.manager_fqdn,
    }


def test_the_el6_manager_serves_its_repository_to_client_certificates_only(own_lab):
    lab = own_lab
    node = lab.spec.nodes[1]
    path = "/repo/iml-agent/6/repodata/repomd.xml"
    before = len(_access_log(lab))
    code, body = _curl(lab, node.minion, path, *CLIENT)
    assert code == 200 and "<repomd" in body, body
    code, body = _curl(lab, node.minion, path)
    assert code == 403, body
    code, body = _curl(lab, node.minion, "/api/health")
    assert code == 200 and '"release": "2.4.2.7"' in body, body
    lines = [line.split()[1:] for line in _access_log(lab)[before:]]
    assert lines == [
        [node.rings[0], node.fqdn, "GET", path, "200"],
        [node.rings[0], "-", "GET", path, "403"],
        [node.rings[0], "-", "GET", "/api/health", "200"],
    ], lines


def test_a_rebuilt_manager_migrates_the_restored_iml_24_database_and_refuses_others(own_lab):
    lab = own_lab
    mgr = lab.spec.manager_minion
    before = _rows(lab)
    dump = _mgr(lab, ["su", "-", "postgres", "-c", "/usr/bin/pg_dumpall --clean"], check=True)
    certs = {
        name: _mgr(lab, ["cat", f"{CHROMA}/{name}"], check=True).stdout
        for name in ("authority.crt", "authority.pem", "manager.crt", "manager.pem")
    }
    hosts = _mgr(lab, ["cat", "/etc/hosts"], check=True).stdout
    # The rebuild hook: fresh EL7, same minion id, a new key.
    rebuild_like_the_product(lab, mgr)
    assert lab.spec.manager_fqdn not in _mgr(lab, ["cat", "/etc/hosts"]).stdout
    _mgr(lab, ["sh", "-c", "cat > /etc/hosts"], input=hosts, check=True)
    assert _mgr(lab, ["rpm", "-q", "postgresql-server"]).returncode != 0
    assert _mgr(lab, ["sh", "-c", "command -v psql"]).returncode != 0
    assert _mgr(lab, ["test", "-e", CHROMA]).returncode != 0
    # The IML 4.0 release (the lab's stand-in), then its setup on the empty data directory.
    _mgr(
        lab,
        ["sh", "-c", "cat > /etc/yum.repos.d/iml-manager.repo"],
        input=f"[iml-manager]\nname=IML\nbaseurl={lab.spec.repos['iml-manager']}\ngpgcheck=0\n",
        check=True,
    )
    installed = _mgr(lab, ["dnf", "-y", "install", "python2-iml-manager"])
    assert installed.returncode == 0, installed.stdout + installed.stderr
    fresh = _mgr(lab, ["chroma-config", "setup"])
    assert fresh.returncode == 0, fresh.stderr
    assert _psql(lab, "SELECT count(*) FROM chroma_core_managedhost") == "0"
    # The runbook's restore: stop, the backup's certificates, its database.
    assert _mgr(lab, ["chroma-config", "stop"]).returncode == 0
    _mgr(
        lab,
        ["sh", "-c", f"mkdir {CHROMA}/certs-inst && mv {CHROMA}/*.* {CHROMA}/certs-inst/"],
        check=True,
    )
    for name, text in certs.items():
        _mgr(lab, ["sh", "-c", f"cat > {CHROMA}/{name}"], input=text, check=True)
    restored = _mgr(lab, ["su", "-", "postgres", "-c", "psql postgres"], input=dump.stdout)
    assert restored.returncode == 0, restored.stderr
    assert _rows(lab) == before

    def refused(reason):
        got = _mgr(lab, ["chroma-config", "setup"])
        assert got.returncode != 0 and reason in got.stderr, got.stdout + got.stderr
        assert _psql(lab, "SELECT to_regclass('public.django_migrations')") == ""

    # A schema it does not know (not IML 2.4's last migration), and missing tables.
    _psql(
        lab,
        f"UPDATE south_migrationhistory SET migration = '0099_other' WHERE migration = '{IML24_LAST}'",
    )
    refused("unknown IML schema")
    _psql(
        lab,
        f"UPDATE south_migrationhistory SET migration = '{IML24_LAST}' WHERE migration = '0099_other'",
    )
    _psql(lab, "ALTER TABLE chroma_core_volumenode RENAME TO lab_volumenode")
    refused("lacks IML tables: chroma_core_volumenode")
    _psql(lab, "ALTER TABLE lab_volumenode RENAME TO chroma_core_volumenode")
    # The restored IML 2.4 database: migrated, the rows kept, the service started.
    setup = _mgr(lab, ["chroma-config", "setup", "-v"])
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "0002_managedhost_server_profile" in setup.stdout
    code, health = lab.manager_health()
    assert code == 200, health
    assert health["release"] == "4.0.10.2" and health["schema_current"] is True, health
    assert health["schema_version"] == IML40_LAST and health["servers"] == _servers(lab)
    assert health["rows"] == before
    certificate = _mgr(lab, ["cat", f"{CHROMA}/authority.crt"], check=True).stdout
    assert certificate == certs["authority.crt"]
    # The runbook's local repositories: reposync (yum-utils) and createrepo, installed.
    assert _mgr(lab, ["sh", "-c", "command -v createrepo_c"]).returncode != 0
    tools = _mgr(lab, ["dnf", "-y", "install", "yum-utils", "createrepo"])
    assert tools.returncode == 0, tools.stdout + tools.stderr
    conf = (
        f"[lustre-client]\nname=lustre-client\nbaseurl={lab.spec.repos['lustre-client']}\n"
        "exclude=*debuginfo*\ngpgcheck=0\n"
    )
    _mgr(lab, ["sh", "-c", "cat > /tmp/lustre-repo.conf"], input=conf, check=True)
    sync = "cd /var/lib/chroma/repo && reposync -c /tmp/lustre-repo.conf -n -r lustre-client"
    stat = "stat -c '%i %Y' /var/lib/chroma/repo/lustre-client/*.rpm"
    first = _mgr(lab, ["sh", "-c", f"{sync} && {stat}"])
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.splitlines()) == 2, first.stdout  # kmod-lustre-client, lustre-client
    again = _mgr(lab, ["sh", "-c", f"{sync} && {stat}"])
    assert again.returncode == 0 and again.stdout == first.stdout, again.stdout  # nothing new
    index = _mgr(lab, ["sh", "-c", "cd /var/lib/chroma/repo/lustre-client && createrepo ."])
    assert index.returncode == 0, index.stderr
    assert (
        _mgr(lab, ["test", "-s", f"{CHROMA}/repo/lustre-client/repodata/repomd.xml"]).returncode
        == 0
    )
    # A newer schema than the release's, and a foreign database: refused, left as they are.
    _psql(
        lab,
        "INSERT INTO django_migrations (app, name, applied) VALUES ('chroma_core', '0099_future', now())",
    )
    got = _mgr(lab, ["chroma-config", "setup"])
    assert got.returncode != 0 and "newer or unknown schema" in got.stderr, got.stderr
    assert _psql(lab, "SELECT count(*) FROM django_migrations WHERE name = '0099_future'") == "1"
    _psql(lab, "DROP DATABASE chroma WITH (FORCE)", database="postgres")
    _psql(lab, "CREATE DATABASE chroma OWNER chroma", database="postgres")
    _psql(lab, "CREATE TABLE inventory (id serial PRIMARY KEY, item text)")
    got = _mgr(lab, ["chroma-config", "setup"])
    assert got.returncode != 0 and "not an IML database" in got.stderr, got.stderr
    assert _psql(lab, "SELECT to_regclass('public.chroma_core_managedhost')") == ""
    code, health = lab.manager_health()
    assert code == 200 and health["schema_current"] is False and health["rows_total"] == 0
