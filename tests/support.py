"""Paths and helpers shared by the test layers (fixtures are in conftest.py)."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Real artifacts from EL6/EL7 clusters live beside the repository in CI and in
# development checkouts, never in a user's clone.
REAL_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures" / "real"
SUITE_FIXTURES = REPO_ROOT / "tests" / "fixtures"


def real_fixture_params(*relative_paths):
    """pytest.param per artifact, each skipped with a reason where ../shared is absent."""
    params = []
    for rel in relative_paths:
        marks = ()
        if not (REAL_FIXTURES / rel).exists():
            marks = pytest.mark.skip(reason=f"real artifact {rel} not present at {REAL_FIXTURES}")
        params.append(pytest.param(REAL_FIXTURES / rel, id=rel, marks=marks))
    return params
