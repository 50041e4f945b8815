"""The EL6 backup script (POSIX sh, run by dash here) refuses what it could not take whole.

POSIX sh has no pipefail: these tests break one stage at a time (pg_dumpall, tar) with a
wrapper found first on PATH and show that no archive is left behind, then take real
backups with spaces in every path and of a real PostgreSQL database.
"""

import gzip
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from tests.support import REPO_ROOT, SERVER_FILES, make_tree, write_empty_cib

SCRIPT = REPO_ROOT / "salt" / "lustre" / "files" / "node-backup.sh"
COMPLETE = "--\n-- PostgreSQL database cluster dump complete\n--\n\n"


@pytest.fixture
def bindir():
    """A directory of wrappers put first on PATH; readable by postgres (pg_dumpall runs as it)."""
    path = Path(tempfile.mkdtemp(prefix="lu-el6-bin-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def wrapper(bindir, name, body):
    path = bindir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def run_script(kind, root, dest, env=None, bindir=None, minion="el6"):
    Path(root).mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ, NODE_BACKUP_ROOT=str(root), **(env or {}))
    if bindir is not None:
        full_env["PATH"] = f"{bindir}:{full_env['PATH']}"
    return subprocess.run(
        ["dash", str(SCRIPT), kind, str(dest), minion],
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
    )


def archives(dest):
    return sorted(p.name for p in Path(dest).iterdir()) if Path(dest).exists() else []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            "printf -- '--\\n-- PostgreSQL database cluster dump\\n--\\n\\nSET client_encoding;\\n'\n"
            "echo 'pg_dumpall: error: connection to server failed' >&2\nexit 1\n",
            id="fails-after-printing-a-little",
        ),
        pytest.param("exit 0\n", id="succeeds-with-no-output"),
        pytest.param(
            "printf -- '--\\n-- PostgreSQL database cluster dump\\n--\\n\\nCREATE ROLE x;\\n'\n",
            id="succeeds-but-stops-before-the-end",
        ),
    ],
)
def test_a_manager_backup_with_a_failed_or_incomplete_dump_leaves_no_archive(
    tmp_path, bindir, body
):
    wrapper(bindir, "pg_dumpall", body)
    res = run_script("manager", tmp_path / "root", tmp_path / "dest", bindir=bindir)
    assert res.returncode != 0, res.stdout
    assert "pg_dumpall" in res.stderr
    assert archives(tmp_path / "dest") == []


def test_a_failing_tar_leaves_no_archive(tmp_path, bindir):
    # GNU tar exits 2 after an unreadable member and still writes the rest: a pipe into
    # the extracting tar would hide that status.
    real_tar = shutil.which("tar")
    wrapper(
        bindir,
        "tar",
        f'case " $* " in *" --no-recursion "*)\n'
        f'    "{real_tar}" "$@"\n'
        f"    echo 'tar: etc/shadow: Cannot open: Permission denied' >&2\n"
        f"    exit 2 ;;\nesac\n"
        f'exec "{real_tar}" "$@"\n',
    )
    root = make_tree(tmp_path / "node", SERVER_FILES)
    cib = write_empty_cib(tmp_path / "cib.xml")
    res = run_script("server", root, tmp_path / "dest", env={"CIB_file": str(cib)}, bindir=bindir)
    assert res.returncode != 0, res.stdout
    assert "tar" in res.stderr
    assert archives(tmp_path / "dest") == []


def test_paths_with_spaces_are_backed_up_whole(modules, tmp_path):
    files = dict(SERVER_FILES)
    files["var/lib/chroma/targets/MGS target"] = ('{"bdev": "/dev/sdc"}', 0o644)
    files["etc/sysconfig/network-scripts/ifcfg-eth 2"] = ("DEVICE=eth2\n", 0o644)
    root = make_tree(tmp_path / "node root", files)
    cib = write_empty_cib(tmp_path / "cib.xml")
    dest = tmp_path / "backup dest"
    res = run_script("server", root, dest, env={"CIB_file": str(cib)})
    assert res.returncode == 0, res.stderr
    archive = res.stdout.strip().splitlines()[-1]
    assert archive.startswith(str(dest) + "/")

    info = modules.node_backup.verify(archive)
    assert "/var/lib/chroma/targets/MGS target" in info["contents"]
    assert "/etc/sysconfig/network-scripts/ifcfg-eth 2" in info["contents"]
    with tarfile.open(archive) as tar:
        held = tar.extractfile(f"{info['top']}/var/lib/chroma/targets/MGS target").read()
    assert held == b'{"bdev": "/dev/sdc"}'
    sidecar = Path(archive + ".sha256").read_text().split()[0]
    assert sidecar == info["sha256"]


@pytest.fixture
def el6_database(postgres):
    psql = [postgres["bindir"] / "psql", "-h", postgres["host"], "-p", postgres["port"]]
    postgres["run"](*psql, "-c", "DROP DATABASE IF EXISTS chroma_el6")
    postgres["run"](*psql, "-c", "CREATE DATABASE chroma_el6")
    postgres["run"](
        *psql,
        "-d",
        "chroma_el6",
        "-c",
        "CREATE TABLE chroma_core_managedhost (id serial, fqdn text);"
        "INSERT INTO chroma_core_managedhost (fqdn) VALUES"
        " ('oss1-a.lfs.example'), ('oss1-b.lfs.example');",
    )
    return dict(postgres, psql=psql)


def test_the_el6_manager_backup_replays_into_a_fresh_database(modules, el6_database, tmp_path):
    def rows():
        return el6_database["run"](
            *el6_database["psql"],
            "-d",
            "chroma_el6",
            "-Atc",
            "SELECT id, fqdn FROM chroma_core_managedhost ORDER BY id",
        ).stdout

    before = rows()
    # The real pg_dumpall, as postgres, against the private server (PGHOST/PGPORT).
    res = run_script(
        "manager",
        tmp_path / "empty root",
        tmp_path / "dest",
        env={"PGHOST": el6_database["host"], "PGPORT": el6_database["port"]},
    )
    assert res.returncode == 0, res.stderr
    archive = res.stdout.strip().splitlines()[-1]
    info = modules.node_backup.verify(archive)
    (dump_name,) = [e for e in info["extras"] if e.startswith("pgbackup-")]
    with tarfile.open(archive) as tar:
        dump = gzip.decompress(tar.extractfile(f"{info['top']}/{dump_name}").read()).decode()
    assert dump.endswith(COMPLETE)

    # The runbook's restore: `zcat pgbackup-*.sql.gz | psql postgres`, database gone first.
    el6_database["run"](*el6_database["psql"], "-c", "DROP DATABASE chroma_el6")
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            *map(str, el6_database["psql"]),
            "-v",
            "ON_ERROR_STOP=0",
            "postgres",
        ],
        input=dump,
        text=True,
        capture_output=True,
        check=True,
    )
    assert rows() == before
    assert "oss1-b.lfs.example" in before
