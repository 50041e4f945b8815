"""Integration layer: a real salt-master and the two minions of pair oss1.

The master serves this repository the way a site does (file_roots or gitfs): the state
tree from ``salt/``, orchestrations and the ``_modules``/``_states``/``_runners`` from
the repository root; pillar from ``pillar.example/``. Nothing is pre-synced: a minion
gets this extension's modules only through ``saltutil.sync_all``.
"""

import pytest

from tests.support import REPO_ROOT

PAIR_MINIONS = ("oss1-a", "oss1-b")


@pytest.fixture(scope="package")
def master(salt_factories):
    factory = salt_factories.salt_master_daemon(
        "master",
        overrides={
            "fileserver_backend": ["roots"],
            "file_roots": {"base": [str(REPO_ROOT / "salt"), str(REPO_ROOT)]},
            "pillar_roots": {"base": [str(REPO_ROOT / "pillar.example")]},
            "runner_dirs": [],
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
    ret = salt_cli.run("saltutil.sync_all", minion_tgt="oss1-*")
    assert ret.returncode == 0, ret
    return minions
