"""The IML manager's backup carries a real pg_dumpall of its database."""

import gzip
import subprocess
import tarfile

import pytest
from salt.exceptions import CommandExecutionError

from tests.support import make_tree


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


MANAGER_FILES = {
    "etc/hosts": ("127.0.0.1 localhost\n10.0.0.10 iml\n", 0o644),
    "etc/ssh/sshd_config": ("PermitRootLogin yes\n", 0o600),
    "var/lib/chroma/authority.crt": ("OLD CA\n", 0o644),
    "var/lib/chroma/authority.pem": ("OLD CA KEY\n", 0o600),
    "var/lib/chroma/manager.crt": ("OLD MANAGER CERT\n", 0o644),
    "var/lib/chroma/manager.pem": ("OLD MANAGER KEY\n", 0o600),
    "var/lib/chroma/repo/old/lustre.rpm": ("old package\n", 0o644),
}


def test_a_manager_restore_puts_back_the_certificates_and_keeps_the_installed_repo(
    modules, iml_database, tmp_path
):
    node = make_tree(tmp_path / "el6-manager", MANAGER_FILES)
    backup = modules.node_backup.create(
        "manager",
        dest=str(tmp_path / "b"),
        push=False,
        root=str(node),
        pg_host=iml_database["host"],
        pg_port=iml_database["port"],
    )
    fresh = make_tree(
        tmp_path / "el7-manager",
        {
            "var/lib/chroma/authority.crt": ("NEW CA\n", 0o644),
            "var/lib/chroma/manager.crt": ("NEW MANAGER CERT\n", 0o644),
            "var/lib/chroma/settings.py": ("INSTALLED = True\n", 0o644),
            "var/lib/chroma/repo/Manager-for-Lustre.repo": ("[manager-for-lustre]\n", 0o644),
        },
    )
    ret = modules.node_backup.restore(backup["path"], sha256=backup["sha256"], root=str(fresh))
    chroma = fresh / "var/lib/chroma"
    assert "/var/lib/chroma" not in ret["changed"]
    assert {p for p in ret["changed"] if p.startswith("/var/lib/chroma/")} == {
        f"/var/lib/chroma/{name}"
        for name in ("authority.crt", "authority.pem", "manager.crt", "manager.pem")
    }
    for name in ("authority.crt", "authority.pem", "manager.crt", "manager.pem"):
        assert (chroma / name).read_text() == MANAGER_FILES[f"var/lib/chroma/{name}"][0]
    assert (chroma / "repo/Manager-for-Lustre.repo").read_text() == "[manager-for-lustre]\n"
    assert (chroma / "settings.py").read_text() == "INSTALLED = True\n"
    assert (chroma / "certs-inst/authority.crt").read_text() == "NEW CA\n"
    assert (chroma / "certs-inst/manager.crt").read_text() == "NEW MANAGER CERT\n"
    assert set(ret["kept_as_inst"]) >= {
        "/var/lib/chroma/certs-inst/authority.crt",
        "/var/lib/chroma/certs-inst/manager.crt",
    }
    assert not (fresh / "var/lib/chroma.inst").exists()
