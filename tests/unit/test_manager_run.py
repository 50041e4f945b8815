"""The manager's run through a fake site: the phases in the runbook's order, what stops
it before a change, the rebuild hand-off, and the resume after a kill between the
database restore and chroma-config setup."""

import json

import pytest

from lustre_upgrade_lib import fileio, manager_upgrade, rebuild_handoff, upgrade_ledger
from tests.unit.test_manager_checks import _backup

SERVERS = ["oss1-a.lab.example", "oss1-b.lab.example"]
CONFIG = {
    "manager": {"minion": "mgr", "fqdn": "iml.lab.example", "stop_agents": True},
    "server": {"lustre_repos": "manager"},
    "rebuild": {"hook": "command", "command": ["rebuild", "{minion}"], "timeout": 5},
    "repos": {
        "lustre-server": "http://hub/lustre-server",
        "lustre-client": "http://hub/lustre-client",
        "e2fsprogs-wc": "http://hub/e2fsprogs-wc",
        "iml-manager": "http://hub/iml-manager",
    },
    "pairs": {
        "oss1": {
            "nodes": [
                {"minion": "oss1-a", "old_name": "oss1-a", "fqdn": SERVERS[0]},
                {"minion": "oss1-b", "old_name": "oss1-b", "fqdn": SERVERS[1]},
            ]
        }
    },
}
ROWS = "chroma_core_managedhost\t2\nchroma_core_managedtarget\t3\n"


class Site:
    """The master and minions as the phases see them; ``calls`` records what ran."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.calls = []
        self.psql_up = True
        self.unreachable = set()
        self.health = {
            "release": "2.4.2.7",
            "schema_version": "0001",
            "schema_current": True,
            "servers": SERVERS,
        }
        self.migrated = False
        self.without_cert = "000"
        self.keys = {"accepted": {"mgr": "aa:old"}, "pending": {}}
        self.os = ("RedHat", "6")
        self.backup_kwargs = {"minion": "mgr"}

    # core functions on minions
    def run_argv(self, minion, argv, timeout=60):
        self.calls.append((minion, " ".join(argv)))
        if argv[0] == "df":
            return {
                "retcode": 0,
                "stdout": "Filesystem 1K-blocks Used Available\n/dev/x 1 1 9999999 1% /\n",
            }
        if argv[0] == "curl" and argv[-1].endswith("/api/health"):
            return {"retcode": 0, "stdout": json.dumps(self.health)}
        if argv[0] == "curl" and "repomd.xml" in argv[-1] and "-w" not in argv:
            down = any(argv[-1].startswith(f"http://hub/{r}") for r in self.unreachable)
            return {"retcode": 7 if down else 0, "stderr": "curl: (7) refused" if down else ""}
        if argv[0] == "curl":
            return {"retcode": 0, "stdout": "200" if "--cert" in argv else self.without_cert}
        return {"retcode": 0, "stdout": ""}

    def run_as(self, minion, user, argv, timeout=60):
        assert user == "postgres"
        self.calls.append((minion, "psql " + argv[-1][:30]))
        if not self.psql_up:
            return {"retcode": 2, "stderr": "psql: could not connect to server: No such file"}
        sql = argv[-1]
        if "FROM chroma_core_managedhost ORDER" in sql:
            return {"retcode": 0, "stdout": "\n".join(SERVERS)}
        if "pg_tables" in sql:
            return {
                "retcode": 0,
                "stdout": "chroma_core_managedhost\nchroma_core_managedtarget\nsouth_migrationhistory\n",
            }
        return {"retcode": 0, "stdout": ROWS}

    def call(self, minion, fun, *args, salt_timeout=300, **kwargs):
        self.calls.append((minion, fun + (" " + " ".join(map(str, args)) if args else "")))
        if fun == "pkg.version":
            return "4.0.10.2-1.el7"
        if fun == "iml.health":
            return dict(
                self.health, release="4.0.10.2", schema_current=self.migrated, schema_version="0042"
            )
        if fun == "iml.chroma_config" and args[0] == "setup":
            self.migrated = True
        if fun == "node_backup.restore":
            return {"changed": ["/var/lib/chroma/authority.crt"]}
        if fun == "iml.restore_database":
            return {"dump": args[0], "databases": ["chroma"]}
        if fun == "iml.write_manager_repo_text":
            return {"path": "/var/lib/chroma/repo/Manager-for-Lustre.repo", "changed": True}
        if fun == "iml.mirror_lustre":
            return {"downloaded": {}}
        return {}

    def apply(self, minion, mods, run, timeout):
        self.calls.append((minion, f"state.apply {mods}"))
        return {"pkg_|-x_|-x_|-installed": {"result": True, "changes": {"x": 1}}}

    def grains(self, minion, names):
        return {"os_family": self.os[0], "osmajorrelease": self.os[1]}

    def ping(self, minion):
        return True

    # the master
    def pillar_findings(self):
        return []

    def free_bytes(self):
        return 1 << 40

    def backup_root(self):
        return str(self.tmp_path)

    def backup_manager(self, minion):
        self.calls.append((minion, "backup_node kind=manager"))
        path = _backup(self.tmp_path / "b", **self.backup_kwargs)
        return {"path": path, "sha256": fileio.sha256_file(path)}

    def backup_verified(self, path, sha256):
        return fileio.sha256_file(path) == sha256

    def deliver_backup(self, minion, path):
        return {
            "path": "/var/lib/lustre-upgrade/restore/x.sealed",
            "sha256": "1" * 64,
            "archive_sha256": "2" * 64,
        }

    def fingerprint(self, minion, status):
        return self.keys[status].get(minion)

    def delete_key(self, minion):
        self.keys["accepted"].pop(minion, None)

    def accept_key(self, minion):
        self.keys["accepted"][minion] = self.keys["pending"].pop(minion)

    def run_hook(self, argv, timeout):
        self.calls.append(("master", " ".join(argv)))
        self.keys["pending"]["mgr"] = "bb:new"
        self.os = ("RedHat", "7")

    def fire(self, tag, data):
        pass

    def cwd(self):
        return "/"

    def sleep(self, seconds):
        pass


@pytest.fixture
def site(tmp_path):
    (tmp_path / "b").mkdir()
    return Site(tmp_path)


def _run(tmp_path, site):
    return manager_upgrade.ManagerRun(
        CONFIG, site, str(tmp_path / "manager.json"), str(tmp_path / "manager.lock"), "t"
    )


def _through(tmp_path, site, last):
    for name in manager_upgrade.PHASE_NAMES[: manager_upgrade.PHASE_NAMES.index(last) + 1]:
        ret = _run(tmp_path, site).attempt(name)
        assert ret["result"], (name, ret)


@pytest.mark.parametrize(
    ("breakage", "finding"),
    [
        pytest.param(
            "psql_up", "PostgreSQL: reading the registered servers with psql", id="postgresql-down"
        ),
        pytest.param(
            "unreachable",
            "upstream repository lustre-client (http://hub/lustre-client) is not reachable",
            id="upstream-unreachable",
        ),
    ],
)
def test_the_preflight_stops_the_run_before_any_change(tmp_path, site, breakage, finding):
    if breakage == "psql_up":
        site.psql_up = False
    else:
        site.unreachable = {"lustre-client"}
    ret = _run(tmp_path, site).attempt("preflight")
    assert ret["result"] is False and finding in ret["comment"]
    assert "nothing was changed" in ret["comment"]
    assert not (tmp_path / "manager.json").exists()
    assert not [c for c in site.calls if "backup" in c[1] or "stop" in c[1]]


def test_the_phases_run_in_the_runbook_order_and_report(tmp_path, site):
    _through(tmp_path, site, "report")
    ran = [call for _minion, call in site.calls]
    order = [
        "service chroma-agent stop",
        "backup_node kind=manager",
        "rebuild mgr",
        "state.apply iml.manager.extension",
        "saltutil.sync_all",
        "state.apply iml.manager.restore",
        "state.apply iml.manager.install",
        "iml.chroma_config setup",
        "iml.chroma_config stop",
        "node_backup.restore /var/lib/lustre-upgrade/restore/x.sealed",
        "iml.restore_database /root/bck-iml-1/pgbackup-2026-01-01-12:00:00.sql.gz",
        "iml.chroma_config setup",
        "iml.health iml.lab.example",
        "iml.mirror_lustre",
        "iml.write_manager_repo_text",
    ]
    positions = [
        next(i for i, c in enumerate(ran) if c.startswith(step) and i >= (0 if not k else 0))
        for k, step in enumerate(order)
    ]
    found = []
    start = 0
    for step in order:
        index = next(i for i in range(start, len(ran)) if ran[i].startswith(step))
        found.append(index)
        start = index + 1
    assert found == sorted(found) and positions
    assert not any("pcs" in c or "pacemaker" in c or "crm_" in c for c in ran)
    ledger = upgrade_ledger.load(str(tmp_path / "manager.json"), manager_upgrade.PHASE_NAMES)
    report = manager_upgrade.report_data(ledger)
    assert report["completed"] is True
    assert report["rows_before"] == report["rows_after"] == 5
    assert report["servers_before"] == report["servers_after"] == SERVERS
    assert report["release"] == "4.0.10.2" and report["schema_version"] == "0042"
    assert report["https_with_client_cert"] and report["https_without_cert_refused"]
    assert [p["name"] for p in report["phases"]] == list(manager_upgrade.PHASE_NAMES)
    text = manager_upgrade.render_report(report)
    assert (
        "Upgrade of the IML manager: completed" in text and "Release: 2.4.2.7 -> 4.0.10.2" in text
    )
    assert "Rows: 5 before the backup, 5 after setup" in text
    assert site.keys["accepted"]["mgr"] == "bb:new"
    state = ledger["node_state"]["mgr"]
    assert state["rebuild"] == rebuild_handoff.REBUILT and state["old_fingerprint"] == "aa:old"


def test_a_second_run_changes_nothing(tmp_path, site):
    _through(tmp_path, site, "report")
    before = len(site.calls)
    for name in manager_upgrade.PHASE_NAMES:
        ret = _run(tmp_path, site).attempt(name)
        assert ret["result"] and ret["changes"] == {} and "done at" in ret["comment"]
    assert len(site.calls) == before


def test_a_run_killed_after_the_database_resumes_at_setup(tmp_path, site):
    _through(tmp_path, site, "database")
    restores = [c for c in site.calls if "iml.restore_database" in c[1]]
    # A new process (the orchestration run again) resumes: the database is not restored twice.
    for name in manager_upgrade.PHASE_NAMES:
        assert _run(tmp_path, site).attempt(name)["result"]
    assert [c for c in site.calls if "iml.restore_database" in c[1]] == restores
    setups = [i for i, c in enumerate(site.calls) if c[1] == "iml.chroma_config setup"]
    assert len(setups) == 2  # install's, then the migration after the restore


def test_a_phase_found_running_after_a_kill_runs_again(tmp_path, site):
    _through(tmp_path, site, "database")
    run = _run(tmp_path, site)
    run.update(lambda ledger: upgrade_ledger.start(ledger, "setup"))  # killed in setup
    assert _run(tmp_path, site).attempt("setup")["result"]
    assert site.migrated


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"files": {}}, "lacks the manager certificate(s)"),
        (
            {"dump": "--\n-- PostgreSQL database cluster dump\n--\nDROP DATABASE chroma;\n"},
            "truncated",
        ),
        ({"minion": "oss1-a"}, "was taken on oss1-a"),
    ],
)
def test_a_bad_backup_stops_the_run_before_the_rebuild(tmp_path, site, kwargs, message):
    site.backup_kwargs = {"minion": "mgr", **kwargs}
    _through(tmp_path, site, "stop-agents")
    ret = _run(tmp_path, site).attempt("backup")
    assert ret["result"] is False and message in ret["comment"]
    ret = _run(tmp_path, site).attempt("rebuild")
    assert ret["result"] is False and "backup is not done" not in ret["comment"]
    assert site.keys["accepted"] == {"mgr": "aa:old"}  # the manager was not handed over
    assert not [c for c in site.calls if c[1].startswith("rebuild")]


def test_a_manager_serving_repo_without_a_certificate_fails_the_verification(tmp_path, site):
    site.without_cert = "200"
    _through(tmp_path, site, "setup")
    ret = _run(tmp_path, site).attempt("verify")
    assert ret["result"] is False
    assert "answers oss1-a without a client certificate (HTTP 200)" in ret["comment"]


def test_a_manager_not_migrated_fails_the_verification(tmp_path, site):
    _through(tmp_path, site, "database")
    ret = _run(tmp_path, site).attempt("verify")  # setup skipped: refused, not run
    assert ret["result"] is False and "phase setup" in ret["comment"]


def test_stop_agents_off_touches_no_server(tmp_path, site):
    config = json.loads(json.dumps(CONFIG))
    config["manager"]["stop_agents"] = False
    run = manager_upgrade.ManagerRun(
        config, site, str(tmp_path / "m.json"), str(tmp_path / "m.lock"), "t"
    )
    assert run.run("preflight")["result"]
    ret = manager_upgrade.ManagerRun(
        config, site, str(tmp_path / "m.json"), str(tmp_path / "m.lock"), "t"
    ).attempt("stop-agents")
    assert ret["changes"]["stop-agents"] == {
        "skipped": "lustre_upgrade:manager:stop_agents is false"
    }
    assert not [c for c in site.calls if "chroma-agent" in c[1]]


def test_the_plan_and_status_read_the_ledger_only(tmp_path, site):
    settings = _run(tmp_path, site).settings
    plan = manager_upgrade.plan(None, "database", settings)
    assert plan["result"] is None and "psql postgres" in plan["comment"]
    _through(tmp_path, site, "backup")
    ledger = upgrade_ledger.load(str(tmp_path / "manager.json"), manager_upgrade.PHASE_NAMES)
    assert manager_upgrade.plan(ledger, "backup", settings)["result"] is True
    data = manager_upgrade.status(ledger)
    assert data["current"]["name"] == "rebuild" and data["completed"] is False
    assert "3 rebuild the manager" in manager_upgrade.render_status(data)
