"""The IML manager's backup carries a real pg_dumpall of its database."""

import gzip
import subprocess
import tarfile

import pytest
from salt.exceptions import CommandExecutionError


@pytest.fixture
def iml_database(postgres):
    psql = [postgres["bindir"] / "psql", "-h", postgres["host"], "-p", postgres["port"]]
    postgres["run"](*psql, "-c", "DROP DATABASE IF EXISTS chroma")
    postgres["run"](*psql, "-c", "CREATE DATABASE chroma")
    postgres["run"](
        *psql,
        "-d",
        "chroma",
        "-c",
        "CREATE TABLE chroma_core_managedhost (id serial, fqdn text);"
        "INSERT INTO chroma_core_managedhost (fqdn) VALUES ('oss1-a.lfs.example');",
    )
    return postgres


def test_manager_backup_holds_a_dump_that_recreates_the_database(modules, iml_database, tmp_path):
    ret = modules.node_backup.create(
        "manager",
        dest=str(tmp_path / "b"),
        push=False,
        root=str(tmp_path / "empty-root"),
        pg_host=iml_database["host"],
        pg_port=iml_database["port"],
    )
    info = modules.node_backup.verify(ret["path"])
    (dump_name,) = [e for e in info["extras"] if e.startswith("pgbackup-")]
    with tarfile.open(ret["path"]) as tar:
        dump = gzip.decompress(tar.extractfile(f"{info['top']}/{dump_name}").read()).decode()
    assert "DROP DATABASE" in dump  # --clean
    assert "oss1-a.lfs.example" in dump

    # The runbook restores with `zcat pgbackup-*.sql.gz | psql postgres`.
    psql = [iml_database["bindir"] / "psql", "-h", iml_database["host"], "-p", iml_database["port"]]
    iml_database["run"](*psql, "-c", "DROP DATABASE chroma")
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *map(str, psql), "-v", "ON_ERROR_STOP=0", "postgres"],
        input=dump,
        text=True,
        capture_output=True,
        check=True,
    )
    out = iml_database["run"](
        *psql, "-d", "chroma", "-Atc", "SELECT fqdn FROM chroma_core_managedhost"
    )
    assert out.stdout.strip() == "oss1-a.lfs.example"


def test_a_manager_backup_without_its_database_fails(modules, tmp_path):
    with pytest.raises(CommandExecutionError, match="pg_dumpall --clean failed"):
        modules.node_backup.create(
            "manager",
            dest=str(tmp_path / "b"),
            push=False,
            root=str(tmp_path),
            pg_host=str(tmp_path / "no-socket-here"),
            pg_port="1",
        )
