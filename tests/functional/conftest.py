"""Functional layer: this extension's modules in Salt's real loader, running real commands."""

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
