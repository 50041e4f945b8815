"""The IML manager node (`mgr`): what its kickstart and IML left on its disk, by its life.

- `el6` (an IML 2.4 manager before the runbook's manager sections): CentOS 6.7, PostgreSQL
  (EL6 8.4.20 names) with the IML 2.4-shaped database `chroma` (the pair's servers, the
  file system, its targets and volumes, South's history up to IML 2.4's last migration),
  the IML 2.4.2.7 stand-in package `chroma-manager`, the manager's CA and HTTPS
  certificate in /var/lib/chroma, the manager service serving HTTPS;
- `el7` (what orch.upgrade_manager leaves; a starting state for the pair's tests): EL7, the
  IML 4.0 stand-in `python2-iml-manager`, the same database migrated to IML 4.0's schema,
  the same certificates, the local mirrors and Manager-for-Lustre.repo in
  /var/lib/chroma/repo.

The manager's CA is the run's (lablib.cluster.manager_pki: it signs the pair nodes' IML
certificates too); its key is the manager's /var/lib/chroma/authority.pem, as on IML.
The database is built on the host with the host's PostgreSQL 15 (the one the node's
packages carry), once per set of inputs, in the lab's cache, and copied onto the disk.
"""

import contextlib
import hashlib
import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .cluster import _ssh_keys, hosts_file
from .proc import run

PAYLOAD = Path(__file__).resolve().parent / "payload"
PG_BIN = "/usr/lib/postgresql/15/bin"
CHROMA = "/var/lib/chroma"
DB_BUILDER_VERSION = "1"
MIRRORS = ("lustre-server", "lustre-client", "e2fsprogs-wc")


def iml_lib():
    """The manager stand-in's library (payload/chroma_manager_lab.py), as the host sees it."""
    spec = importlib.util.spec_from_file_location(
        "chroma_manager_lab", PAYLOAD / "chroma_manager_lab.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def database_sql(spec, life):
    """The SQL of the manager's database in that life: IML 2.4's, migrated for el7."""
    iml = iml_lib()
    servers = [(n.fqdn, n.old_name, n.rings[0]) for n in spec.nodes]
    fsnames = sorted({t.name.split("-", 1)[0] for t in spec.targets if "-" in t.name})
    targets = [
        (
            t.name,
            t.uuid,
            t.resource,
            t.primary - 1,
            t.secondary - 1,
            f"/dev/disk/by-id/{t.disk}",
        )
        for t in spec.targets
    ]
    sql = iml.schema_24_sql(servers, fsnames[0] if fsnames else None, targets)
    if life == "el7":
        sql += iml.migration_sql([name for name, _sql in iml.IML40_MIGRATIONS])
    return sql


def build_database(spec, life, log=print):
    """A PostgreSQL data directory holding the manager's database (cached; owner postgres)."""
    sql = database_sql(spec, life)
    postgres = run([f"{PG_BIN}/postgres", "--version"]).stdout.strip()
    key = hashlib.sha256(f"{DB_BUILDER_VERSION}\n{postgres}\n{sql}".encode()).hexdigest()[:20]
    cache = Path(spec.cache_dir)
    final = cache / f"pgdata-{key}"
    if (final / "complete").exists():
        return final / "data"
    cache.mkdir(parents=True, exist_ok=True)
    log(f"building the manager's database into {final} (once per set of inputs)")
    work = Path(tempfile.mkdtemp(prefix=".pgbuild-", dir=cache))
    server = None
    try:
        os.chmod(work, 0o755)  # postgres (the host's user) works below it
        data, sock = work / "data", work / "sock"
        for path in (data, sock):
            path.mkdir(mode=0o700)
            shutil.chown(path, "postgres", "postgres")
        as_postgres = {"user": "postgres", "group": "postgres", "extra_groups": []}
        run(
            [
                f"{PG_BIN}/initdb",
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            timeout=120,
            cwd=str(work),
            **as_postgres,
        )
        server = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                f"{PG_BIN}/postgres",
                "-D",
                str(data),
                "-k",
                str(sock),
                "-c",
                "listen_addresses=",
                "-p",
                "5432",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(work),
            **as_postgres,
        )
        psql = [
            f"{PG_BIN}/psql",
            "-X",
            "-q",
            "-h",
            str(sock),
            "-p",
            "5432",
            "-v",
            "ON_ERROR_STOP=1",
        ]
        deadline = time.monotonic() + 30
        while run([*psql, "-U", "postgres", "-c", "SELECT 1"], check=False).returncode != 0:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the manager database's build: postgres did not start")
            time.sleep(0.2)
        run([*psql, "-U", "postgres", "-d", "postgres", "-c", "CREATE ROLE chroma LOGIN"])
        run(
            [*psql, "-U", "postgres", "-d", "postgres", "-c", "CREATE DATABASE chroma OWNER chroma"]
        )
        run([*psql, "-U", "chroma", "-d", "chroma", "--single-transaction"], input=sql)
        server.send_signal(signal.SIGINT)  # fast shutdown: a clean data directory
        server.wait(timeout=60)
        server = None
        shutil.rmtree(sock)
        (work / "complete").write_text(key + "\n")
        try:
            os.rename(work, final)
        except OSError:
            if not (final / "complete").exists():
                raise
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        if server is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        shutil.rmtree(work, ignore_errors=True)
        raise
    return final / "data"


def provision(node, spec, manager_dir, repo_dir, life, log=print):
    """Turn a kickstarted disk into the IML manager of that life (before its first boot)."""
    manager_dir = Path(manager_dir)
    if life == "el6":
        # EL6 names itself from /etc/sysconfig/network (the kickstart wrote it).
        node.upper("/etc/hostname").unlink(missing_ok=True)
    node.write("/etc/hosts", hosts_file(spec))
    # The pair's servers take their time from the manager (their ntp.conf names it).
    node.write(
        "/etc/ntp.conf",
        "driftfile /var/lib/ntp/drift\nserver 127.127.1.0\nfudge 127.127.1.0 stratum 10\n",
    )
    node.mkdir("/etc/ssh", mode=0o755)
    _ssh_keys(node, spec.manager_fqdn.split(".", 1)[0])
    # The manager's CA and HTTPS certificate, as IML keeps them.
    node.mkdir(CHROMA, mode=0o755)
    node.write(f"{CHROMA}/authority.crt", (manager_dir / "ca.crt").read_text())
    node.write(f"{CHROMA}/authority.pem", (manager_dir / "ca.key").read_text(), mode=0o600)
    node.write(f"{CHROMA}/manager.crt", (manager_dir / "server.crt").read_text())
    node.write(f"{CHROMA}/manager.pem", (manager_dir / "server.key").read_text(), mode=0o600)
    node.mkdir("/var/log/chroma", mode=0o755)
    # PostgreSQL's data directory with the IML database.
    data = build_database(spec, life, log)
    node.mkdir("/var/lib/pgsql", mode=0o700, owner=("postgres", "postgres"))
    run(["cp", "-a", str(data), str(node.upper("/var/lib/pgsql/data"))])
    for unit in ("postgresql.service", "chroma-manager.service"):
        node.enable_unit(unit)
    if life == "el7":
        _upgraded_repositories(node, spec, repo_dir)


def manager_repo_file(fqdn):
    """Manager-for-Lustre.repo as orch.upgrade_manager writes it with the pillar's
    `server:lustre_repos: pillar` (the default): the agent repository only (the servers
    define the Lustre repositories themselves)."""
    return (
        "[iml-agent]\nname=Intel Manager for Lustre Agent\n"
        f"baseurl=https://{fqdn}/repo/iml-agent/7\nenabled=1\ngpgcheck=0\nsslverify = 1\n"
        "sslcacert = /var/lib/chroma/authority.crt\n"
        "sslclientkey = /var/lib/chroma/private.pem\n"
        "sslclientcert = /var/lib/chroma/self.crt\nproxy=_none_\n"
    )


def _upgraded_repositories(node, spec, repo_dir):
    """What the runbook's "Create Local Repositories" leaves in /var/lib/chroma/repo."""
    repo = node.upper(f"{CHROMA}/repo")
    repo.mkdir(parents=True, exist_ok=True)
    for name in MIRRORS:
        source = Path(repo_dir) / name if repo_dir else None
        if source is not None and source.is_dir():
            shutil.copytree(source, repo / name, dirs_exist_ok=True)
    node.write(f"{CHROMA}/repo/Manager-for-Lustre.repo", manager_repo_file(spec.manager_fqdn))
