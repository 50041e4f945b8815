"""The manager's database on a real PostgreSQL: the EL6 script's backup of it (the
manager branch), and iml.restore_database, which restores only a dump that verifies."""

import gzip
import os
import subprocess
import tarfile

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from lustre_upgrade_lib import manager_checks
from tests.support import REPO_ROOT, make_tree

SCRIPT = REPO_ROOT / "salt" / "lustre" / "files" / "node-backup.sh"
CERTS = {f"var/lib/chroma/{name}": (f"OLD {name}\n", 0o600) for name in manager_checks.CERTIFICATES}
EL6_MANAGER = {
    "etc/hosts": ("127.0.0.1 localhost\n10.0.0.10 iml.lfs.example iml\n", 0o644),
    "etc/ssh/sshd_config": ("PermitRootLogin yes\n", 0o600),
    **CERTS,
    "var/lib/chroma/repo/old/lustre.rpm": ("old package\n", 0o644),
}


@pytest.fixture
def chroma(postgres):
    psql = [postgres["bindir"] / "psql", "-h", postgres["host"], "-p", postgres["port"]]

    def sql(statement, database="chroma"):
        return postgres["run"](*psql, "-d", database, "-Atc", statement).stdout.strip()

    sql("DROP DATABASE IF EXISTS chroma", "postgres")
    sql("CREATE DATABASE chroma", "postgres")
    sql(
        "CREATE TABLE chroma_core_managedhost (id serial, fqdn text);"
        "INSERT INTO chroma_core_managedhost (fqdn) VALUES ('oss1-a.lfs.example'),"
        "('oss1-b.lfs.example');"
        "CREATE TABLE south_migrationhistory (app_name text, migration text);"
        "INSERT INTO south_migrationhistory VALUES ('chroma_core', '0001_initial');"
    )
    return dict(postgres, sql=sql, psql=str(postgres["bindir"] / "psql"))


def _el6_backup(chroma, tmp_path, pg_host=None):
    root = make_tree(tmp_path / "el6-manager", EL6_MANAGER)
    env = dict(
        os.environ,
        NODE_BACKUP_ROOT=str(root),
        PATH=f"{chroma['bindir']}:{os.environ['PATH']}",
        PGHOST=pg_host or chroma["host"],
        PGPORT=str(chroma["port"]),
    )
    return subprocess.run(
        ["dash", str(SCRIPT), "manager", str(tmp_path / "backups"), "iml"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _dump_of(archive, tmp_path):
    info = manager_checks.check_backup(archive, "iml")
    with tarfile.open(archive) as tar:
        data = tar.extractfile(f"{info['top']}/{info['dump']}").read()
    path = tmp_path / info["dump"]
    path.write_bytes(data)
    os.chmod(path, 0o600)
    return path


def test_the_el6_script_backs_up_the_manager_and_the_dump_restores(modules, chroma, tmp_path):
    res = _el6_backup(chroma, tmp_path)
    assert res.returncode == 0, res.stderr
    archive = res.stdout.strip().splitlines()[-1]
    info = modules.node_backup.verify(archive)
    assert info["kind"] == "manager" and info["minion"] == "iml"
    assert "/var/lib/chroma/repo" not in info["contents"]
    assert not [c for c in info["contents"] if c.startswith("/var/lib/chroma/repo/")]
    dump = _dump_of(archive, tmp_path)

    chroma["sql"]("INSERT INTO chroma_core_managedhost (fqdn) VALUES ('added-after')")
    chroma["sql"]("DROP TABLE south_migrationhistory")
    ret = modules.iml.restore_database(
        str(dump), psql=chroma["psql"], pg_host=chroma["host"], pg_port=chroma["port"]
    )
    assert "chroma" in ret["databases"]
    assert chroma["sql"]("SELECT fqdn FROM chroma_core_managedhost ORDER BY fqdn") == (
        "oss1-a.lfs.example\noss1-b.lfs.example"
    )
    assert chroma["sql"]("SELECT migration FROM south_migrationhistory") == "0001_initial"


def test_the_el6_script_fails_clearly_when_postgresql_is_down(chroma, tmp_path):
    res = _el6_backup(chroma, tmp_path, pg_host=str(tmp_path / "no-socket-here"))
    assert res.returncode != 0
    assert "pg_dumpall --clean failed" in res.stderr and "service postgresql status" in res.stderr
    assert not list((tmp_path / "backups").glob("*.tgz"))


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        pytest.param(
            lambda d: gzip.compress(gzip.decompress(d)[:-300]),
            "the dump is truncated",
            id="dump-failed-half-way",
        ),
        pytest.param(lambda d: d[: len(d) // 2], "does not read back", id="gzip-truncated"),
        pytest.param(
            lambda d: gzip.compress(b"SELECT 1;\n"), "not a pg_dumpall output", id="foreign"
        ),
    ],
)
def test_a_dump_that_does_not_verify_is_refused_and_the_database_untouched(
    modules, chroma, tmp_path, spoil, message
):
    res = _el6_backup(chroma, tmp_path)
    assert res.returncode == 0, res.stderr
    dump = _dump_of(res.stdout.strip().splitlines()[-1], tmp_path)
    dump.write_bytes(spoil(dump.read_bytes()))
    chroma["sql"]("INSERT INTO chroma_core_managedhost (fqdn) VALUES ('marker')")
    with pytest.raises(CommandExecutionError, match="The database was not touched") as exc:
        modules.iml.restore_database(
            str(dump), psql=chroma["psql"], pg_host=chroma["host"], pg_port=chroma["port"]
        )
    assert message in str(exc.value) and str(dump) in str(exc.value)
    assert "marker" in chroma["sql"]("SELECT fqdn FROM chroma_core_managedhost")


def test_a_restore_with_postgresql_down_says_to_check_it(modules, chroma, tmp_path):
    res = _el6_backup(chroma, tmp_path)
    dump = _dump_of(res.stdout.strip().splitlines()[-1], tmp_path)
    with pytest.raises(CommandExecutionError, match="psql restoring .* as postgres failed") as exc:
        modules.iml.restore_database(
            str(dump), psql=chroma["psql"], pg_host=str(tmp_path / "nowhere"), pg_port="1"
        )
    assert "systemctl status postgresql" in str(exc.value)


def test_a_missing_dump_says_to_restore_the_backup_first(modules, tmp_path):
    with pytest.raises(CommandExecutionError, match="phase restore"):
        modules.iml.restore_database(str(tmp_path / "pgbackup-x.sql.gz"))


@pytest.fixture
def fake_chroma_config(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "chroma-config"
    tool.write_text(
        '#!/bin/sh\necho "$@" >> "$(dirname "$0")/calls"\n'
        'if [ "$1" = setup ] && [ -e "$(dirname "$0")/refuse" ]; then\n'
        '  echo "cannot migrate schema 9999_future" >&2; exit 3\nfi\necho "chroma-config $1: ok"\n'
    )
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return bindir


def test_chroma_config_runs_the_action_and_says_why_it_failed(modules, fake_chroma_config):
    assert modules.iml.chroma_config("stop")["stdout"].strip() == "chroma-config stop: ok"
    assert modules.iml.chroma_config("setup", verbose=True)["action"] == "setup"
    assert (fake_chroma_config / "calls").read_text().splitlines() == ["stop", "setup -v"]
    (fake_chroma_config / "refuse").touch()
    with pytest.raises(CommandExecutionError, match="cannot migrate schema 9999_future"):
        modules.iml.chroma_config("setup")
    with pytest.raises(SaltInvocationError, match="use one of stop, start, setup, status"):
        modules.iml.chroma_config("rm -rf")


def test_chroma_config_without_the_release_says_to_install_it(modules, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CommandExecutionError, match="install the manager release first"):
        modules.iml.chroma_config("stop")
