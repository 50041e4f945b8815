"""pillar.example gives its secrets only to the minions that use them: the hacluster
password to the nodes of the pairs its pillar lists, never to another minion."""

import pytest

KEY = "lustre_upgrade:secrets:hacluster_password"
# A minion of the same master that is no node of any pair in pillar.example.
OTHER = "login1"


@pytest.fixture(scope="module")
def other_minion(master):
    factory = master.salt_minion_daemon(OTHER, overrides={"log_level_logfile": "info"})
    with factory.started(start_timeout=60):
        yield factory


def test_only_pair_nodes_get_the_hacluster_secret(minions, other_minion, salt_cli):
    pair_node = salt_cli.run("pillar.items", minion_tgt="oss1-a")
    assert pair_node.returncode == 0, pair_node
    assert "hacluster_password" in pair_node.data["lustre_upgrade"]["secrets"]

    other = salt_cli.run("pillar.items", minion_tgt=OTHER)
    assert other.returncode == 0, other
    # The common view still reaches every minion; the secrets do not.
    assert "oss1" in other.data["lustre_upgrade"]["pairs"]
    assert "secrets" not in other.data["lustre_upgrade"]
    unmasked = salt_cli.run("pillar.get", KEY, "unmask=True", minion_tgt=OTHER)
    assert unmasked.data == ""
