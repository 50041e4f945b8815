"""Fixtures shared by every test layer."""

import os
import shutil
import tempfile

import pytest

from tests.support import REAL_FIXTURES, REPO_ROOT


def pytest_configure(config):
    # Salt buffers log records in a deferred stderr handler until a daemon configures
    # logging; in a test process that never happens and the buffer is flushed into a closed
    # stream at exit. Hand the records to pytest's log capture instead.
    import salt._logging.impl

    salt._logging.impl.shutdown_temp_handler()


def pytest_addoption(parser):
    parser.addoption(
        "--run-slow", action="store_true", default=False, help="also run soak/fault campaigns"
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow campaign: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def real_fixtures():
    """Directory of real cluster artifacts (../shared/fixtures/real)."""
    if not REAL_FIXTURES.is_dir():
        pytest.skip(
            f"real cluster artifacts not present at {REAL_FIXTURES} "
            "(they exist only beside a development checkout or in CI)"
        )
    return REAL_FIXTURES


@pytest.fixture(scope="session")
def salt_factories_config():
    """Every daemon root under one per-run directory, removed at the end.

    Short on purpose: Salt's AF_UNIX socket paths must stay under 107 characters.
    """
    root = tempfile.mkdtemp(prefix="lu-sf-", dir="/tmp")
    try:
        yield {"root_dir": root, "slow_stop": False}
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=[False, True], ids=["apply", "test"])
def testmode(request):
    """Every state test runs once for real and once with test=True."""
    return request.param


@pytest.fixture
def repo_root():
    return REPO_ROOT


def pytest_report_header(config):
    shared = "present" if REAL_FIXTURES.is_dir() else "absent (tests over it skip)"
    return [f"real cluster artifacts: {REAL_FIXTURES} {shared}", f"uid: {os.getuid()}"]
