"""The manual rebuild path: with `rebuild: {hook: manual, auto_resume: true}` the run stops
at each node's rebuild, saying what to do, with the node's old key deleted; the admin
reinstalls the node (here the lab's rebuild, run by hand); the master's reactor accepts
the new key once, verifies the node when its minion starts and resumes the run, which
ends with the pair upgraded."""

import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.lab.support import key_lists, wait_for
from tests.lab.upgrade_support import assert_upgraded, ledger, orchestrate, phase_results, status
from tests.support import REPO_ROOT

pytestmark = pytest.mark.lab


def _manual_pillar():
    dest = Path(tempfile.mkdtemp(prefix="lulab-pillar-manual-"))
    shutil.copytree(REPO_ROOT / "lab" / "pillar", dest, dirs_exist_ok=True)
    init = dest / "lustre_upgrade" / "init.sls"
    data = yaml.safe_load(init.read_text())
    data["lustre_upgrade"]["rebuild"] = {"hook": "manual", "timeout": 600, "auto_resume": True}
    init.write_text(yaml.safe_dump(data))
    return dest


PILLAR = _manual_pillar()
LAB_OVERRIDES = {"lab": {"pillar": str(PILLAR)}}


@pytest.fixture(scope="module", autouse=True)
def _remove_pillar_copy():
    yield
    shutil.rmtree(PILLAR, ignore_errors=True)


def waiting_at(lab, phase, minion):
    got = status(lab)
    current = got["current"]
    assert current and current["name"] == phase and current["status"] == "waiting", got
    assert got["nodes"][minion]["rebuild"] == "awaiting-rebuild"
    assert minion not in key_lists(lab)["minions"]  # the old key was deleted
    return current["detail"]


def test_the_run_stops_at_each_manual_rebuild_and_the_reactor_resumes_it(own_lab, since):
    lab = own_lab
    a, b = lab.spec.nodes
    result, data = orchestrate(lab)
    assert result.returncode != 0
    results = phase_results(data)
    assert results["rebuild-node1"]["result"] is False
    assert "reinstall it with EL7" in results["rebuild-node1"]["comment"]
    assert "salt-key -f oss1-a" in waiting_at(lab, "rebuild-node1", a.minion)

    lab.rebuild(a.minion)  # the admin's reinstall
    # The reactor accepts the key, verifies the node and resumes the run, which stops at
    # node 2's rebuild in turn.
    assert wait_for(
        lambda: (
            (status(lab)["current"] or {}).get("name") == "rebuild-node2"
            and status(lab)["current"]["status"] == "waiting"
            and status(lab)["running"] is None
        ),
        timeout=900,
        interval=3,
    ), status(lab)
    record = ledger(lab)["node_state"][a.minion]
    assert record["rebuild"] == "rebuilt" and record["new_fingerprint"] != record["old_fingerprint"]
    waiting_at(lab, "rebuild-node2", b.minion)

    lab.rebuild(b.minion)
    assert wait_for(lambda: status(lab)["completed"], timeout=900, interval=3), status(lab)
    assert wait_for(lambda: status(lab)["running"] is None, timeout=60)
    assert_upgraded(lab, since=since)
