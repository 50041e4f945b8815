"""
The IML manager's upgrade, phase by phase, as ``orch.upgrade_manager`` runs it on the
master (runbook "Upgrade Intel Manager for Lustre" and "Create Local Repositories for
the Lustre Packages").

As for a pair (``pair_upgrade``), each phase verifies before it acts and records what it
verified in the run's ledger (``upgrade_ledger``, the manager's phases), so a run killed
at any point resumes at the first phase not done. The phases reach the manager and the
registered servers through a site adapter (the runner's): core functions while the
manager still runs EL6, this extension's modules and states once it is rebuilt.

Safety: the manager is handed to its rebuild only with a backup on the master that
verifies (checksums, every certificate of /var/lib/chroma, a complete ``pg_dumpall
--clean``); the database is restored only from that dump, checked again on the manager
before ``psql`` reads it; chroma-agent on the servers is stopped only when asked and
Pacemaker is never touched.
"""

import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

from . import (
    manager_checks,
    manager_pillar,
    manager_repos,
    pair_preflight,
    rebuild_handoff,
    upgrade_ledger,
    upgrade_report,
)
from .rebuild_handoff import Waiting

RUN = "manager"
# The runbook's table of contents for the manager: (name, title, runbook section).
PHASES = (
    ("preflight", "0 preflight", "Upgrade Intel Manager for Lustre"),
    ("stop-agents", "1 stop chroma-agent (optional)", "Install the OS Update, step 1"),
    ("backup", "2 back up the manager", "Backup the Existing IML Configuration"),
    ("rebuild", "3 rebuild the manager", "Install the OS Update for the Manager Node"),
    ("restore", "4 restore its OS configuration", "Install the OS Update, steps 3-7"),
    ("install", "5 install the manager release", "Install the IML Upgrade"),
    ("chroma-stop", "6 chroma-config stop, certificates", "Restore the IML Configuration 1-2"),
    ("database", "7 restore the database", "Restore the IML Configuration 3"),
    ("setup", "8 chroma-config setup", "Restore the IML Configuration 4"),
    ("verify", "9 verify over HTTPS", "Restore the IML Configuration 5"),
    ("repos", "10 local repositories", "Create Local Repositories for the Lustre Packages"),
    ("report", "11 report", ""),
)
PHASE_NAMES = tuple(name for name, _title, _section in PHASES)
TITLES = {name: title for name, title, _section in PHASES}
BACKUP_DIR = "/var/lib/lustre-upgrade/backups"
ORCHESTRATION = "salt-run state.orch orch.upgrade_manager"


def findings_text(findings):
    lines = ["the IML manager cannot be upgraded; fix these first, nothing was changed:"]
    return "\n".join(lines + [f"- {finding}" for finding in findings])


class ManagerRun:
    """The manager's upgrade (``config``: the ``lustre_upgrade`` pillar) through ``site``."""

    rebuild_phase = "rebuild"

    def __init__(self, config, site, ledger_path, lock_path, run_id):
        self.config = config
        self.site = site
        self.ledger_path = ledger_path
        self.lock_path = lock_path
        self.run_id = run_id
        self.settings = manager_pillar.settings(config)
        self.minion = self.settings["minion"]
        self.fqdn = self.settings["fqdn"]
        self.nodes = [{"minion": self.minion, "fqdn": self.fqdn}]
        self.pair = RUN
        rebuild = config.get("rebuild") or {}
        self.hook = rebuild.get("hook", "manual")
        self.command = rebuild.get("command")
        self.rebuild_timeout = float(rebuild.get("timeout", 3600))
        self.ledger = upgrade_ledger.load(ledger_path, PHASE_NAMES)

    # ------------------------------------------------------------------ ledger
    def update(self, change):
        with upgrade_ledger.guarded(self.ledger_path):
            ledger = upgrade_ledger.load(self.ledger_path, PHASE_NAMES)
            if ledger is None:
                raise CommandExecutionError("the manager's upgrade ledger is gone")
            change(ledger)
            upgrade_ledger.save(self.ledger_path, ledger)
        self.ledger = ledger
        return ledger

    def node_state(self, minion):
        return (self.ledger or {}).get("node_state", {}).get(minion, {})

    def state(self):
        return self.node_state(self.minion)

    def record(self, **values):
        self.update(lambda ledger: ledger["node_state"][self.minion].update(values))

    def event(self, node, phase, what, **data):
        self.site.fire(f"lustre/upgrade/{RUN}/{node}/{phase}/{what}", data)

    def waiting_text(self, minion):
        return (
            f"the manager {minion} is backed up on the master and its old minion key was "
            "deleted: reinstall it with EL7 and a salt-minion of the same id now. Its new key "
            f"is accepted once, when it first asks ({rebuild_handoff.fingerprint_advice(minion)})."
            " With the reactor and lustre_upgrade:rebuild:auto_resume the run then resumes by "
            f"itself; otherwise run {ORCHESTRATION} again"
        )

    # ------------------------------------------------------------------ one phase
    def attempt(self, name):
        """``run``, with a refusal (no run yet, an earlier phase not done, the preflight's
        findings) as a failed result."""
        try:
            return self.run(name)
        except (CommandExecutionError, SaltInvocationError) as exc:
            return {"result": False, "changes": {}, "comment": str(exc)}

    def run(self, name):
        """Run phase ``name`` unless it is done; ``{"result", "changes", "comment"}``."""
        if name not in PHASE_NAMES:
            raise SaltInvocationError(
                f"unknown phase {name!r}: phases are {', '.join(PHASE_NAMES)}"
            )
        if self.ledger is None and name != "preflight":
            raise CommandExecutionError(
                f"the manager has no upgrade run yet: start with the preflight ({ORCHESTRATION})"
            )
        if self.ledger is not None:
            record = upgrade_ledger.phase(self.ledger, name)
            if record["status"] == upgrade_ledger.DONE:
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record["end"] or 0))
                return {"result": True, "changes": {}, "comment": f"{name}: done at {when}"}
        upgrade_ledger.acquire(self.lock_path, self.run_id)
        if self.ledger is None:
            return self._first_preflight()
        self.update(lambda ledger: upgrade_ledger.start(ledger, name))
        self.event(self.minion, name, "start")
        try:
            detail = getattr(self, "phase_" + name.replace("-", "_"))()
        except Waiting as exc:
            self._finish(name, upgrade_ledger.WAITING, str(exc))
            self.event(self.minion, name, "waiting", message=str(exc))
            return {"result": False, "changes": {}, "comment": str(exc)}
        except (CommandExecutionError, SaltInvocationError) as exc:
            self._finish(name, upgrade_ledger.FAILED, str(exc))
            self.event(self.minion, name, "failed", message=str(exc))
            return {"result": False, "changes": {}, "comment": f"{name} failed: {exc}"}
        self._finish(name, upgrade_ledger.DONE, detail)
        self.event(self.minion, name, "done")
        if self.ledger["completed"]:
            upgrade_ledger.release(self.lock_path, self.run_id)
        return {"result": True, "changes": {name: detail}, "comment": f"{name}: done"}

    def _finish(self, name, status, detail):
        self.update(lambda ledger: upgrade_ledger.finish(ledger, name, status, detail))

    def _first_preflight(self):
        findings = self.preflight_findings()
        if findings:
            raise CommandExecutionError(findings_text(findings))
        ledger = upgrade_ledger.new(RUN, self.nodes, phases=PHASE_NAMES)
        ledger["node_state"] = {self.minion: {}}
        ledger["cwd"] = self.site.cwd()
        upgrade_ledger.start(ledger, "preflight")
        upgrade_ledger.finish(ledger, "preflight", upgrade_ledger.DONE, {"findings": []})
        with upgrade_ledger.guarded(self.ledger_path):
            if upgrade_ledger.load(self.ledger_path, PHASE_NAMES) is not None:
                raise CommandExecutionError("the manager: another run started meanwhile")
            upgrade_ledger.save(self.ledger_path, ledger)
        self.ledger = ledger
        self.event(self.minion, "preflight", "done")
        return {"result": True, "changes": {"preflight": "passed"}, "comment": "preflight: passed"}

    # ------------------------------------------------------------------ 0 preflight
    def preflight_findings(self):
        """Every inhibitor, as text, each with what to do; empty when the run may start."""
        found = self.site.pillar_findings()
        if found:
            return found
        if not isinstance(self.site.grains(self.minion, ["os_family", "osmajorrelease"]), dict):
            return [
                f"the manager's minion {self.minion} did not answer: start its salt-minion and "
                "check `salt-key -L` on the master (lustre_upgrade:manager:minion)"
            ]
        try:
            servers = self.servers()
        except CommandExecutionError as exc:
            return [f"PostgreSQL: {exc}"]
        try:
            self.health_before()
        except CommandExecutionError as exc:
            found.append(
                f"the manager does not answer {manager_checks.health_url(self.fqdn)} on "
                f"{self.minion}: {exc}; start it (chroma-config start) before the upgrade"
            )
        found += self.space_findings()
        if self.settings["stop_agents"]:
            unknown = sorted(set(servers) - set(self.server_minions(servers)))
            found += [
                f"registered server {fqdn} is in no lustre_upgrade:pairs:*:nodes (by fqdn): "
                "its chroma-agent cannot be stopped; add it or set "
                "lustre_upgrade:manager:stop_agents false"
                for fqdn in unknown
            ]
        if not self.server_minions(servers):
            found.append(
                f"none of the manager's registered servers ({', '.join(servers) or 'none'}) is a "
                "node of lustre_upgrade:pairs: the HTTPS check of /repo/ needs one's client "
                "certificate"
            )
        return found + self.unreachable_repos()

    def space_findings(self):
        need = int(self.settings["min_free_mib"]) << 20
        found = []
        master = pair_preflight.disk_space_finding(
            self.site.free_bytes(), need, self.site.backup_root()
        )
        if master:
            found.append(pair_preflight.finding_text(master))
        ret = self.site.run_argv(self.minion, ["df", "-Pk", "/var/lib"], timeout=30)
        free = _df_free_bytes(ret.get("stdout"))
        if ret.get("retcode") != 0 or free is None:
            found.append(f"df -Pk /var/lib failed on {self.minion}: {ret.get('stderr')}")
        elif free < need:
            found.append(
                f"{self.minion} has {free >> 20} MiB free in /var/lib, the backup and the "
                f"database dump need {need >> 20} MiB (lustre_upgrade:manager:min_free_mib)"
            )
        return found

    def unreachable_repos(self):
        urls = manager_repos.upstream_urls(self.settings, self.config.get("repos") or {})
        found = []
        for name, url in urls.items():
            ret = self.site.run_argv(self.minion, manager_repos.probe_argv(url), timeout=30)
            finding = manager_repos.unreachable_finding(name, url, self.minion, ret)
            if finding:
                found.append(finding)
        return found

    # ------------------------------------------------------------------ reading the manager
    def psql(self, sql, what):
        argv = manager_checks.psql_argv(self.settings["database"], sql)
        ret = self.site.run_as(self.minion, "postgres", argv, timeout=120)
        if ret.get("retcode") != 0:
            raise manager_checks.psql_error(ret, what, self.minion)
        return ret.get("stdout") or ""

    def servers(self):
        return manager_checks.parse_lines(
            self.psql(manager_checks.SERVERS_SQL, "the registered servers")
        )

    def rows(self):
        tables = manager_checks.parse_lines(self.psql(manager_checks.TABLES_SQL, "the tables"))
        sql = manager_checks.counts_sql(tables)
        return manager_checks.parse_counts(self.psql(sql, "the row counts")) if sql else {}

    def health_before(self):
        ret = self.site.run_argv(self.minion, manager_checks.health_argv(self.fqdn), timeout=30)
        if ret.get("retcode") != 0:
            raise CommandExecutionError((ret.get("stderr") or "no answer").strip())
        return manager_checks.parse_health(ret.get("stdout"), self.minion)

    def server_minions(self, servers):
        """``{fqdn: minion}`` of the registered servers that are nodes of the pillar."""
        known = {}
        for pair in (self.config.get("pairs") or {}).values():
            for node in (pair or {}).get("nodes") or []:
                if isinstance(node, dict) and node.get("fqdn") in servers:
                    known[node["fqdn"]] = node["minion"]
        return known

    # ------------------------------------------------------------------ 1 stop agents
    def phase_stop_agents(self):
        if not self.settings["stop_agents"]:
            return {"skipped": "lustre_upgrade:manager:stop_agents is false"}
        stopped = []
        for fqdn, minion in sorted(self.server_minions(self.servers()).items()):
            ret = self.site.run_argv(minion, ["service", "chroma-agent", "stop"], timeout=120)
            if ret.get("retcode") != 0:
                status = self.site.run_argv(minion, ["service", "chroma-agent", "status"])
                if status.get("retcode") == 0:
                    raise CommandExecutionError(
                        f"`service chroma-agent stop` failed on {minion} ({fqdn}): "
                        f"{(ret.get('stderr') or ret.get('stdout') or '').strip()}; stop it by "
                        "hand or set lustre_upgrade:manager:stop_agents false"
                    )
            stopped.append(minion)
        return {"chroma_agent_stopped": stopped}

    # ------------------------------------------------------------------ 2 backup
    def phase_backup(self):
        before = {"servers": self.servers(), "rows": self.rows()}
        health = self.health_before()
        before.update(release=health.get("release"), schema_version=health.get("schema_version"))
        got = self.site.backup_manager(self.minion)
        checked = manager_checks.check_backup(got["path"], self.minion, self.settings["database"])
        backup = {
            "path": got["path"],
            "sha256": got["sha256"],
            "top": checked["top"],
            "dump": checked["dump"],
            "taken": time.time(),
        }
        self.record(backup=backup, before=before)
        return {
            "backup": got["path"],
            "rows_before": sum(before["rows"].values()),
            "servers_before": before["servers"],
        }

    def require_backup(self, before):
        record, created = self.state().get("backup"), self.ledger["created"]
        who = f"the manager {self.minion}"
        return upgrade_ledger.require_backup(
            record, created, self.site.backup_verified, who, before
        )

    # ------------------------------------------------------------------ 3 rebuild
    def phase_rebuild(self):
        self.require_backup(f"handing {self.minion} over to its rebuild")
        return rebuild_handoff.Handoff(self, self.nodes[0], "rebuild").perform()

    # ------------------------------------------------------------------ 4 restore
    def phase_restore(self):
        record = self.require_backup(f"restoring {self.minion}")
        run = {"manager": self.minion}
        applied = {"extension": self.apply("iml.manager.extension", run)}
        self.site.call(self.minion, "saltutil.sync_all", salt_timeout=600)
        delivered = self.site.deliver_backup(self.minion, record["path"])
        keys = ("path", "sha256", "archive_sha256")
        self.record(delivered={key: delivered[key] for key in keys})
        restore_run = dict(run, backup=delivered["path"], sha256=delivered["sha256"])
        restore_run["archive_sha256"] = delivered["archive_sha256"]
        applied["restore"] = self.apply("iml.manager.restore", restore_run)
        return {"applied": applied, "staged_dump": self.staged_dump()}

    def staged_dump(self):
        record = self.state()["backup"]
        return f"/root/{record['top']}/{record['dump']}"

    def apply(self, mods, run):
        results = self.site.apply(self.minion, mods, run, 1800)
        if not isinstance(results, dict):
            raise CommandExecutionError(f"state.apply {mods} on {self.minion} failed: {results}")
        failed = [
            f"{ret.get('name') or key}: {ret.get('comment')}"
            for key, ret in results.items()
            if isinstance(ret, dict) and ret.get("result") is False
        ]
        if failed:
            raise CommandExecutionError(
                f"state.apply {mods} on {self.minion} failed: {'; '.join(failed)}"
            )
        return sorted(
            key.split("_|-")[1] if "_|-" in key else key
            for key, ret in results.items()
            if isinstance(ret, dict) and ret.get("changes")
        )

    # ------------------------------------------------------------------ 5-8 the release
    def phase_install(self):
        applied = self.apply("iml.manager.install", {"manager": self.minion})
        release = self.release()
        self.site.call(self.minion, "iml.chroma_config", "setup", salt_timeout=1800)
        self.record(release=release)
        return {"applied": applied, "release": release, "setup": "done (fresh database)"}

    def release(self):
        version = self.site.call(self.minion, "pkg.version", self.settings["package"])
        if not version:
            raise CommandExecutionError(
                f"{self.settings['package']} is not installed on {self.minion}: run phase "
                "install again"
            )
        return str(version).split("-", 1)[0]

    def phase_chroma_stop(self):
        self.site.call(self.minion, "iml.chroma_config", "stop", salt_timeout=600)
        delivered = self.state()["delivered"]
        restored = self.site.call(
            self.minion,
            "node_backup.restore",
            delivered["path"],
            sha256=delivered["sha256"],
            archive_sha256=delivered["archive_sha256"],
            salt_timeout=600,
        )
        certs = [p for p in restored.get("changed", []) if p.startswith("/var/lib/chroma/")]
        return {"stopped": True, "certificates_restored": certs}

    def phase_database(self):
        done = self.site.call(
            self.minion,
            "iml.restore_database",
            self.staged_dump(),
            database=self.settings["database"],
            salt_timeout=3600,
        )
        return {"dump": done.get("dump"), "restored": done.get("databases")}

    def phase_setup(self):
        done = self.site.call(self.minion, "iml.chroma_config", "setup", salt_timeout=1800)
        return {"setup": "done", "output": (done or {}).get("stdout", "")[-500:]}

    # ------------------------------------------------------------------ 9 verify
    def phase_verify(self):
        before = self.state()["before"]
        health = self.site.call(self.minion, "iml.health", self.fqdn, salt_timeout=120)
        release = self.release()
        problems = manager_checks.health_problems(health, release, before["servers"])
        if problems:
            raise CommandExecutionError(
                f"the upgraded manager {self.fqdn} is not as expected: {'; '.join(problems)}"
            )
        rows = self.rows()
        https = self.https_check()
        after = {
            "rows": rows,
            "servers": sorted(health.get("servers") or []),
            "release": str(health.get("release")),
            "schema_version": health.get("schema_version"),
            **https,
        }
        self.record(after=after)
        return {"release": release, "rows_after": sum(rows.values()), **https}

    def probe_minion(self):
        servers = self.state().get("before", {}).get("servers") or []
        for _fqdn, minion in sorted(self.server_minions(servers).items()):
            if self.site.ping(minion):
                return minion
        raise CommandExecutionError(
            "no registered server of the manager answers (lustre_upgrade:pairs nodes): the "
            "HTTPS check needs one's client certificate; start a server's salt-minion and run again"
        )

    def https_check(self):
        minion = self.probe_minion()
        url = manager_checks.agent_probe_url(self.fqdn)
        with_cert = self.site.run_argv(minion, manager_checks.status_argv(url, True))
        without = self.site.run_argv(minion, manager_checks.status_argv(url, False))
        code_with = manager_checks.http_status(with_cert)
        code_without = manager_checks.http_status(without)
        if code_with != 200:
            raise CommandExecutionError(
                f"{url} does not answer {minion}'s client certificate (HTTP {code_with}: "
                f"{(with_cert.get('stderr') or '').strip()}): the restored CA must be the one "
                "that signed the servers' certificates (/var/lib/chroma/authority.crt)"
            )
        if code_without in range(200, 400):
            raise CommandExecutionError(
                f"{url} answers {minion} without a client certificate (HTTP {code_without}): "
                "the manager must refuse it"
            )
        return {
            "https_from": minion,
            "https_with_client_cert": True,
            "https_without_cert_refused": True,
        }

    # ------------------------------------------------------------------ 10 repos, 11 report
    def phase_repos(self):
        found = self.unreachable_repos()
        if found:
            raise CommandExecutionError("; ".join(found))
        urls = manager_repos.upstream_urls(self.settings, self.config.get("repos") or {})
        repos = self.settings["repos"]
        detail = {"mode": repos["mode"]}
        if repos["mode"] == "mirror":
            detail["tools"] = self.apply("iml.manager.mirror_tools", {"manager": self.minion})
            detail["mirror"] = self.site.call(
                self.minion,
                "iml.mirror_lustre",
                urls,
                debuginfo=repos.get("debuginfo", False),
                salt_timeout=4 * 3600,
            )
        text = manager_repos.manager_repo_text(self.fqdn, self.settings, urls)
        written = self.site.call(self.minion, "iml.write_manager_repo_text", text)
        detail["repo_file"] = {"path": written["path"], "changed": written["changed"]}
        minion = self.probe_minion()
        url = f"https://{self.fqdn}/repo/Manager-for-Lustre.repo"
        code = manager_checks.http_status(
            self.site.run_argv(minion, manager_checks.status_argv(url, True))
        )
        if code != 200:
            raise CommandExecutionError(f"{url} does not answer {minion} (HTTP {code})")
        detail["served_to"] = minion
        return detail

    def phase_report(self):
        return report_data(self.ledger, final=True)


def report_data(ledger, final=False):
    """The manager's upgrade report from its ledger (``--out=json`` of the runner)."""
    state = next(iter(ledger.get("node_state", {}).values()), {})
    before, after = state.get("before") or {}, state.get("after") or {}
    phases = upgrade_report.timeline(ledger, TITLES)
    return {
        "completed": bool(ledger["completed"]) or final,
        "phases": phases if not final else [p["name"] for p in phases],
        "rows_before": sum((before.get("rows") or {}).values()) if before else None,
        "rows_after": sum((after.get("rows") or {}).values()) if after else None,
        "tables_before": before.get("rows"),
        "tables_after": after.get("rows"),
        "schema_version": after.get("schema_version"),
        "schema_version_before": before.get("schema_version"),
        "release": after.get("release") or state.get("release"),
        "release_before": before.get("release"),
        "servers_before": before.get("servers"),
        "servers_after": after.get("servers"),
        "https_with_client_cert": after.get("https_with_client_cert", False),
        "https_without_cert_refused": after.get("https_without_cert_refused", False),
        "backup": (state.get("backup") or {}).get("path"),
    }


def render_report(report):
    state = "completed" if report["completed"] else "not completed"
    lines = [f"Upgrade of the IML manager: {state}", "", "Phases:"]
    lines += upgrade_report.timeline_lines(report["phases"])
    lines += [
        "",
        f"Release: {report['release_before']} -> {report['release']}",
        f"Schema: {report['schema_version_before']} -> {report['schema_version']}",
        f"Rows: {report['rows_before']} before the backup, {report['rows_after']} after setup",
        f"Servers: {report['servers_before']} -> {report['servers_after']}",
        f"HTTPS /repo/: client certificate answered: {report['https_with_client_cert']}, "
        f"no certificate refused: {report['https_without_cert_refused']}",
    ]
    return "\n".join(lines) + "\n"


def status(ledger, holder=None):
    """Where the manager's run stands: ``{"started", "completed", "current", "phases",
    "rebuild", "running"}``."""
    if ledger is None:
        return {
            "started": False,
            "completed": False,
            "current": None,
            "phases": [],
            "running": None,
        }
    upcoming = upgrade_ledger.next_phase(ledger)
    current = None
    if upcoming:
        record = upgrade_ledger.phase(ledger, upcoming)
        current = {
            "name": upcoming,
            "title": TITLES[upcoming],
            "status": record["status"],
            "detail": record["detail"],
        }
    state = next(iter(ledger.get("node_state", {}).values()), {})
    return {
        "started": True,
        "completed": bool(ledger["completed"]),
        "current": current,
        "phases": [dict(record, title=TITLES[record["name"]]) for record in ledger["phases"]],
        "rebuild": state.get("rebuild"),
        "running": holder,
    }


def render_status(data):
    if not data["started"]:
        return "IML manager: no upgrade run yet (the first phase is the preflight)\n"
    state = "completed" if data["completed"] else "in progress"
    lines = [f"IML manager: upgrade {state}"]
    if data["current"]:
        current = data["current"]
        lines.append(f"  now: {current['title']}: {current['status']}")
        if current["status"] in (upgrade_ledger.FAILED, upgrade_ledger.WAITING):
            lines.append(f"    {current['detail']}")
    phases = [
        {"title": r["title"], "result": r["status"], "start": r["start"], "end": r["end"]}
        for r in data["phases"]
    ]
    return "\n".join([*lines, "", *upgrade_report.timeline_lines(phases)]) + "\n"


def plan(ledger, name, settings):
    """What phase ``name`` would do (``test=True``), read from the ledger alone."""
    if name not in PHASE_NAMES:
        raise SaltInvocationError(f"unknown phase {name!r}: phases are {', '.join(PHASE_NAMES)}")
    if ledger is not None and upgrade_ledger.phase(ledger, name)["status"] == upgrade_ledger.DONE:
        return {"result": True, "changes": {}, "comment": f"{name}: done"}
    mgr = settings["minion"]
    steps = {
        "preflight": [f"master: pillar; {mgr}: psql, health, df, upstream repositories"],
        "stop-agents": [
            "registered servers: service chroma-agent stop"
            if settings["stop_agents"]
            else "nothing (lustre_upgrade:manager:stop_agents is false)"
        ],
        "backup": [f"master: lustre_upgrade.backup_node {mgr} kind=manager, verified"],
        "rebuild": [f"master: salt-key -d {mgr}; the rebuild hook; accept its new key once"],
        "restore": [f"{mgr}: state.apply iml.manager.extension, iml.manager.restore"],
        "install": [f"{mgr}: state.apply iml.manager.install; chroma-config setup"],
        "chroma-stop": [f"{mgr}: chroma-config stop; certificates from the backup"],
        "database": [f"{mgr}: psql postgres < the verified pg_dumpall, as postgres"],
        "setup": [f"{mgr}: chroma-config setup"],
        "verify": [f"{mgr}: GET /api/health; a server: /repo/ with and without certificate"],
        "repos": [f"{mgr}: {settings['repos']['mode']} {', '.join(settings['repos']['mirror'])}"],
        "report": ["master: the report"],
    }[name]
    return {
        "result": None,
        "changes": {name: steps},
        "comment": f"{TITLES[name]} would run:\n" + "\n".join(f"  - {s}" for s in steps),
    }


def _df_free_bytes(stdout):
    lines = [line.split() for line in (stdout or "").splitlines() if line.strip()]
    try:
        return int(lines[-1][3]) * 1024
    except (IndexError, ValueError):
        return None
