"""Integration layer: a real salt-master and the two minions of pair oss1.

The master serves this repository the way a site does (file_roots or gitfs): the state
tree from ``salt/``, orchestrations and the ``_modules``/``_states``/``_runners`` from
the repository root; pillar from ``pillar.example/``. Nothing is pre-synced: a minion
gets this extension's modules only through ``saltutil.sync_all``.
"""

import shutil
import subprocess
import tempfile

import pytest

from tests.support import REPO_ROOT, SUITE_FIXTURES

PAIR_MINIONS = ("oss1-a", "oss1-b")


@pytest.fixture(scope="package")
def gpg_keydir():
    """The master's GPG keyring, holding the throwaway key pillar.example's secrets use."""
    keydir = tempfile.mkdtemp(prefix="lu-gpg-", dir="/tmp")
    try:
        subprocess.run(
            [
                "gpg",
                "--homedir",
                keydir,
                "--batch",
                "--import",
                str(SUITE_FIXTURES / "gpg" / "pillar-example-secret-key.asc"),
            ],
            check=True,
            capture_output=True,
        )
        yield keydir
    finally:
        subprocess.run(["gpgconf", "--homedir", keydir, "--kill", "all"], check=False)
        shutil.rmtree(keydir, ignore_errors=True)


@pytest.fixture(scope="package")
def master(salt_factories, gpg_keydir):
    factory = salt_factories.salt_master_daemon(
        "master",
        overrides={
            "fileserver_backend": ["roots"],
            "file_roots": {"base": [str(REPO_ROOT / "salt"), str(REPO_ROOT)]},
            "pillar_roots": {"base": [str(REPO_ROOT / "pillar.example")]},
            "gpg_keydir": gpg_keydir,
            "file_recv": True,
            "log_level_logfile": "info",
        },
    )
    with factory.started(start_timeout=60):
        yield factory


@pytest.fixture(scope="package")
def minions(master):
    factories = [
        master.salt_minion_daemon(minion_id, overrides={"log_level_logfile": "info"})
        for minion_id in PAIR_MINIONS
    ]
    started = []
    try:
        for factory in factories:
            factory.start(start_timeout=60)
            started.append(factory)
        yield {f.id: f for f in factories}
    finally:
        for factory in reversed(started):
            factory.terminate()


@pytest.fixture(scope="package")
def salt_cli(master):
    return master.salt_cli(timeout=120)


@pytest.fixture(scope="package")
def salt_run_cli(master):
    return master.salt_run_cli(timeout=300)


@pytest.fixture(scope="package")
def synced_minions(minions, salt_cli):
    """The pair's minions after ``saltutil.sync_all``, with what they had before it and
    what the sync reported it delivered."""
    before = salt_cli.run("sys.list_modules", minion_tgt="oss1-*")
    assert before.returncode == 0, before
    ret = salt_cli.run("saltutil.sync_all", minion_tgt="oss1-*")
    assert ret.returncode == 0, ret
    return {"minions": minions, "modules_before_sync": before.data, "synced": ret.data}


@pytest.fixture(scope="package")
def synced_master(master, salt_run_cli):
    """The master after ``salt-run saltutil.sync_all``: this extension's runners load,
    with the library synced beside them (``extmods/utils``)."""
    ret = salt_run_cli.run("saltutil.sync_all")
    assert ret.returncode == 0, ret
    master.synced = ret.data
    return master
