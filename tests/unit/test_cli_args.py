"""Arguments as the CLI, the pillar and the CIB give them."""

import pytest
from salt.loader.context import LoaderContext, NamedLoaderContext

from lustre_upgrade_lib import cli_args, pcs_dialects

PILLAR = {"lustre_upgrade": {"secrets": {"hacluster_password": "s3cret"}, "backup": {}}}


def as_salt_hands_it(pillar):
    """``__pillar__`` as Salt injects it into a module: a loader context, not a dict."""
    return NamedLoaderContext("__pillar__", LoaderContext(), default=pillar)


@pytest.mark.parametrize("wrap", [dict, as_salt_hands_it], ids=["dict", "loader-context"])
def test_a_nested_pillar_value_is_read_from_what_salt_hands_a_module(wrap):
    pillar = wrap(PILLAR)
    assert cli_args.nested_value(pillar, "lustre_upgrade:secrets:hacluster_password") == "s3cret"
    assert cli_args.nested_value(pillar, "lustre_upgrade:backup:keep_on_node", False) is False
    assert cli_args.nested_value(pillar, "lustre_upgrade:secrets:hacluster_password:x") is None
    assert pcs_dialects.hacluster_password(pillar=pillar) == "s3cret"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, []), ("a, b,,c", ["a", "b", "c"]), (["x ", " y"], ["x", "y"]), (7, ["7"])],
)
def test_lists_come_from_the_cli_comma_form_or_a_list(value, expected):
    assert cli_args.as_list(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("on", True), ("Y", True), ("1", True), ("false", False), (None, False), (0, False)],
)
def test_true_is_what_pacemaker_reads_as_true(value, expected):
    assert cli_args.is_true(value) is expected
