"""Functional layer: this extension's modules in Salt's real loader, running real commands."""

import glob
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from saltfactories.utils.functional import Loaders

from tests.support import REPO_ROOT


@pytest.fixture(scope="package")
def minion_opts(salt_factories):
    factory = salt_factories.salt_minion_daemon(
        "functional",
        overrides={
            "file_client": "local",
            "module_dirs": [str(REPO_ROOT / "_modules")],
            "states_dirs": [str(REPO_ROOT / "_states")],
            # The library, as saltutil.sync_all would place it (extmods/utils).
            "utils_dirs": [str(REPO_ROOT / "_utils")],
            "file_roots": {"base": [str(REPO_ROOT / "salt"), str(REPO_ROOT)]},
        },
    )
    return factory.config.copy()


@pytest.fixture(scope="package")
def loaders(minion_opts):
    return Loaders(minion_opts)


@pytest.fixture(autouse=True)
def reset_loaders_state(loaders):
    try:
        yield
    finally:
        loaders.reset_state()


@pytest.fixture
def modules(loaders):
    return loaders.modules


@pytest.fixture
def states(loaders):
    return loaders.states


@pytest.fixture(scope="package")
def postgres():
    """A private PostgreSQL server (Debian's binaries), on a Unix socket in a tmp dir only.

    Stands for the IML manager's database: the backup and restore run the real
    pg_dumpall/psql against it. Stopped and removed at the end.
    """
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bindir:
        pytest.fail("PostgreSQL is not installed: tests/run.sh installs the postgresql package")
    bindir = Path(bindir[-1])
    base = Path(tempfile.mkdtemp(prefix="lu-pg-", dir="/tmp"))
    shutil.chown(base, user="postgres")
    data, sockets = base / "data", base / "run"

    def as_postgres(*argv):
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, argv)],
            check=True,
            capture_output=True,
            text=True,
        )

    as_postgres("mkdir", "-m", "0700", data, sockets)
    as_postgres(bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres")
    port = "55432"
    as_postgres(
        bindir / "pg_ctl",
        "-D",
        data,
        "-w",
        "-l",
        base / "log",
        "-o",
        f"-k {sockets} -p {port} -c listen_addresses=''",
        "start",
    )
    try:
        yield {"host": str(sockets), "port": port, "bindir": bindir, "run": as_postgres}
    finally:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                "fast",
                "stop",
            ],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)
