"""`salt-run state.orch orch.upgrade_manager` on the lab's IML 2.4 manager `mgr` (EL6):

- bad input found before anything changes: PostgreSQL down, an upstream repository that
  does not answer, a repository name the runbook does not know (the bad backups, dumps
  and certificates are the unit and functional tests' own);
- the run killed between the database restore and `chroma-config setup` resumes there
  and completes (chroma-agent stopped first on the servers, Pacemaker left alone): the rows counted with psql before the backup are all there after the
  migration, the schema is IML 4.0's, the same servers are registered, /repo/ answers a
  server's client certificate and refuses a connection without one, the local mirrors
  serve the Lustre repositories and a second mirror downloads nothing new.
"""

import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.lab.support import wait_for
from tests.lab.upgrade_support import ORCH_TIMEOUT, phase_results, salt_run_process
from tests.support import REPO_ROOT

pytestmark = pytest.mark.lab

CHROMA = "/var/lib/chroma"
IML40_LAST = "0004_managedhost_install_method"
CLIENT = ["--cert", f"{CHROMA}/self.crt", "--key", f"{CHROMA}/private.pem"]


def _pillar_copy():
    dest = Path(tempfile.mkdtemp(prefix="lulab-pillar-manager-"))
    shutil.copytree(REPO_ROOT / "lab" / "pillar", dest, dirs_exist_ok=True)
    return dest


PILLAR = _pillar_copy()
INIT = PILLAR / "lustre_upgrade" / "init.sls"
ORIGINAL = INIT.read_text()
LAB_OVERRIDES = {"manager": {"life": "el6"}, "lab": {"pillar": str(PILLAR)}}


def _set_pillar(change):
    """The lab's pillar with the mirror, changed by ``change(config)``."""
    data = yaml.safe_load(ORIGINAL)
    config = data["lustre_upgrade"]
    # The runbook's local repositories: the servers take Lustre from the manager's mirror.
    config.setdefault("server", {})["lustre_repos"] = "manager"
    config["manager"]["repos"] = {"mode": "mirror"}
    config["manager"]["stop_agents"] = True
    change(config)
    INIT.write_text(yaml.safe_dump(data))


@pytest.fixture(scope="module", autouse=True)
def _pillar():
    _set_pillar(lambda config: None)
    yield
    shutil.rmtree(PILLAR, ignore_errors=True)


def _orchestrate(lab, timeout=ORCH_TIMEOUT):
    result = lab.salt_run("--out=json", "state.orch", "orch.upgrade_manager", timeout=timeout)
    try:
        data = json.loads(result.stdout)
    except ValueError:
        data = None
    return result, data


def _ledger(lab):
    path = lab.master.root / "cache" / "lustre_upgrade" / "manager" / "manager.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _status_of(ledger, name):
    return next(p["status"] for p in ledger["phases"] if p["name"] == name) if ledger else None


def _kill_when(lab, proc, condition, timeout=ORCH_TIMEOUT):
    """SIGKILL the orchestration ``proc`` (its session) as soon as ``condition(ledger)``
    holds for the manager's ledger; the ledger seen then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = _ledger(lab)
        if condition(seen):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return seen
        assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before the kill"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("the kill point was not reached in time")


def _report(lab):
    got = lab.salt_run("--out=json", "lustre_manager.report")
    assert got.returncode == 0, got.stdout + got.stderr
    return json.loads(got.stdout)


def _mgr(lab, argv, **kwargs):
    return lab.node_exec(lab.spec.manager_minion, argv, timeout=120, **kwargs)


def _psql(lab, sql):
    argv = ["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-d", "chroma", "-c", sql]
    got = _mgr(lab, argv)
    assert got.returncode == 0, got.stderr
    return got.stdout.strip()


def _rows(lab):
    tables = _psql(lab, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").split()
    counted = [t for t in tables if t not in ("south_migrationhistory", "django_migrations")]
    return {t: int(_psql(lab, f'SELECT count(*) FROM "{t}"')) for t in counted}


def _https(lab, path, *options):
    node = lab.spec.nodes[0].minion
    argv = ["curl", "-sS", "--max-time", "20", "--noproxy", "*", "-o", "/dev/null"]
    argv += ["-w", "%{http_code}", "--cacert", f"{CHROMA}/authority.crt", *options]
    got = lab.node_exec(node, [*argv, f"https://{lab.spec.manager_fqdn}{path}"], timeout=60)
    return int(got.stdout[-3:]) if got.stdout[-3:].isdigit() else 0


def _refused_before_any_change(lab, text):
    result, data = _orchestrate(lab, timeout=600)
    assert result.returncode != 0
    preflight = phase_results(data)["preflight"]
    assert preflight["result"] is False and text in preflight["comment"], preflight
    assert "nothing was changed" in preflight["comment"]
    assert _ledger(lab) is None
    return preflight["comment"]


def test_bad_input_stops_the_run_before_any_change(own_lab):
    lab = own_lab
    rows = _rows(lab)
    certs = _mgr(lab, ["sha256sum", f"{CHROMA}/authority.crt", f"{CHROMA}/manager.crt"]).stdout

    _mgr(lab, ["service", "postgresql", "stop"], check=True)
    try:
        _refused_before_any_change(lab, "PostgreSQL: reading the registered servers with psql")
    finally:
        _mgr(lab, ["service", "postgresql", "start"], check=True)
    assert wait_for(lambda: _mgr(lab, ["service", "postgresql", "status"]).returncode == 0)

    _set_pillar(lambda c: c["repos"].update({"lustre-client": "http://10.213.0.254:8080/gone"}))
    _refused_before_any_change(lab, "upstream repository lustre-client (http://10.213.0.254")

    _set_pillar(lambda c: c["manager"]["repos"].update(mirror=["lustre-server", "lustre-debug"]))
    comment = _refused_before_any_change(lab, "'lustre-debug', a repository the runbook does not")
    assert "lustre_upgrade:manager:repos:mirror" in comment

    _set_pillar(lambda config: None)
    assert _rows(lab) == rows
    assert (
        _mgr(lab, ["sha256sum", f"{CHROMA}/authority.crt", f"{CHROMA}/manager.crt"]).stdout == certs
    )
    mgr = lab.spec.manager_minion
    assert lab.salt_json(mgr, "test.ping")[mgr] is True


def test_the_run_killed_before_setup_resumes_and_upgrades_the_manager(own_lab, tmp_path):
    lab = own_lab
    rows_before = _rows(lab)
    servers = sorted(n.fqdn for n in lab.spec.nodes)
    proc = salt_run_process(lab, ["state.orch", "orch.upgrade_manager"], tmp_path / "orch.log")
    seen = _kill_when(lab, proc, lambda ledger: _status_of(ledger, "database") == "done")
    assert _status_of(seen, "setup") in ("pending", "running"), seen["phases"]
    # Killed between the database restore and setup: IML 4.0 holds IML 2.4's rows, unmigrated.
    assert _rows(lab) == rows_before

    result, data = _orchestrate(lab)
    assert result.returncode == 0, (tmp_path / "orch.log").read_text()[-3000:] + result.stdout[
        -3000:
    ]
    results = phase_results(data)
    assert "done at" in results["database"]["comment"]  # not restored a second time
    assert results["setup"]["changes"] and results["report"]["result"] is True

    report = _report(lab)
    assert report["completed"] is True
    assert report["rows_before"] == sum(rows_before.values()) == report["rows_after"]
    rows_after = _rows(lab)  # the migration may add (empty) tables
    assert {t: rows_after[t] for t in rows_before} == rows_before
    assert sum(rows_after.values()) == report["rows_after"]
    assert report["schema_version"] == IML40_LAST and report["release"] == "4.0.10.2"
    assert report["servers_before"] == report["servers_after"] == servers
    mgr = lab.spec.manager_minion
    grains = lab.salt_json(mgr, "grains.item", "osmajorrelease")[mgr]
    assert str(grains["osmajorrelease"]) == "7"

    # chroma-agent stopped on the registered servers, their Pacemaker left running.
    for node in lab.spec.nodes:
        assert lab.node_exec(node.minion, ["service", "chroma-agent", "status"]).returncode != 0
        assert lab.node_exec(node.minion, ["service", "pacemaker", "status"]).returncode == 0

    # The HTTPS check, from a server: its client certificate answered, none refused.
    assert _https(lab, "/repo/Manager-for-Lustre.repo", *CLIENT) == 200
    assert _https(lab, "/repo/Manager-for-Lustre.repo") in (0, 400, 401, 403)
    assert _https(lab, "/repo/lustre-server/repodata/repomd.xml", *CLIENT) == 200

    # A second mirror downloads nothing new.
    again = lab.salt_json(mgr, "iml.mirror_lustre", _upstream(lab), timeout=600)[mgr]
    assert set(again["downloaded"].values()) == {0}, again


def _upstream(lab):
    config = yaml.safe_load(INIT.read_text())["lustre_upgrade"]["repos"]
    return json.dumps({r: config[r] for r in ("lustre-server", "lustre-client", "e2fsprogs-wc")})
