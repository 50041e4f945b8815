"""
One HA pair's upgrade, phase by phase, as ``orch.upgrade_pair`` runs it on the master.

Each phase verifies before it acts and records what it verified in the pair's ledger
(``upgrade_ledger``), so a run killed at any point resumes at the first phase not done and
redoes only what the live pair shows undone. The phases reach the nodes through a site
adapter (the runner's): core functions and Pacemaker's own CLI for a node in its old life,
this extension's modules and the state tree once it is rebuilt.

Safety, in the order of the phases:
- no node is evacuated or stopped without a verified backup of it, taken in this run, on
  the master;
- a node is handed to the rebuild only once it serves nothing and its old cluster is
  stopped and disabled; its old minion key is dropped first and only a key of another
  fingerprint is accepted for it, once;
- the new cluster is built with every target disabled and maintenance-mode on; a target
  is enabled there only once the old cluster has it verified stopped and its mount point
  free on the old node.
"""

import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

from . import (
    cluster_health,
    cutover,
    old_side,
    pair_preflight,
    rebuild_handoff,
    state_returns,
    upgrade_ledger,
)
from .rebuild_handoff import Waiting

CUTOVER_MODES = ("per-target", "all-at-once")
LUSTRE_KERNEL_STATE = "lustre-server-running-lustre-kernel"
REBOOT_STATE = "lustre-server-reboot-into-lustre-kernel"
MIN_FREE_MIB = 256
# The phases that apply one state on node 1 (state_kwargs), predictable once it is rebuilt.
STATE_PHASES = ("new-cluster", "join-node2", "rebalance", "fencing")


class PairRun:
    """The upgrade of ``pair`` (its ``lustre_upgrade`` pillar ``config``) through ``site``."""

    def __init__(self, pair, config, site, ledger_path, lock_path, run_id):
        self.pair = pair
        self.config = config
        self.site = site
        self.ledger_path = ledger_path
        self.lock_path = lock_path
        self.run_id = run_id
        pair_config = config["pairs"][pair]
        self.nodes = [dict(node) for node in pair_config["nodes"]]
        rebuild = config.get("rebuild") or {}
        self.hook = rebuild.get("hook", "manual")
        self.command = rebuild.get("command")
        self.rebuild_timeout = float(rebuild.get("timeout", 3600))
        self.cutover_mode = pair_config.get("cutover", config.get("cutover", "per-target"))
        self.cluster_name = config.get("cluster_name", "lustre-ha-cluster")
        timeouts = config.get("timeouts") or {}
        self.move_timeout = float(timeouts.get("move", 600))
        self.reboot_timeout = float(timeouts.get("reboot", 1800))
        self.ledger = upgrade_ledger.load(ledger_path)

    # ------------------------------------------------------------------ ledger
    def update(self, change):
        """Apply ``change(ledger)`` to the ledger on disk (re-read under the guard: the
        reactor records a node's key and return beside a running orchestration)."""
        with upgrade_ledger.guarded(self.ledger_path):
            ledger = upgrade_ledger.load(self.ledger_path)
            if ledger is None:
                raise CommandExecutionError(f"the ledger of pair {self.pair} is gone")
            change(ledger)
            upgrade_ledger.save(self.ledger_path, ledger)
        self.ledger = ledger
        return ledger

    def node_state(self, minion):
        return (self.ledger or {}).get("node_state", {}).get(minion, {})

    def event(self, node, phase, what, **data):
        self.site.fire(f"lustre/upgrade/{self.pair}/{node}/{phase}/{what}", data)

    # ------------------------------------------------------------------ one phase
    def run(self, name):
        """Run phase ``name`` unless it is done; ``{"result", "changes", "comment"}``."""
        upgrade_ledger.phase_title(name)  # unknown names fail here
        if self.ledger is None and name != "preflight":
            raise CommandExecutionError(
                f"pair {self.pair} has no upgrade run yet: start with the preflight "
                f"(salt-run state.orch orch.upgrade_pair pillar='{{pair: {self.pair}}}')"
            )
        if self.ledger is not None:
            record = upgrade_ledger.phase(self.ledger, name)
            if record["status"] == upgrade_ledger.DONE:
                return {"result": True, "changes": {}, "comment": _done_comment(record, name)}
        upgrade_ledger.acquire(self.lock_path, self.run_id)
        node = self.phase_node(name)
        if self.ledger is None:
            return self._first_preflight(node)
        self.update(lambda ledger: upgrade_ledger.start(ledger, name))
        self.event(node, name, "start")
        try:
            detail = getattr(self, "phase_" + name.replace("-", "_"))()
        except Waiting as exc:
            self._finish(name, upgrade_ledger.WAITING, str(exc))
            self.event(node, name, "waiting", message=str(exc))
            return {"result": False, "changes": {}, "comment": str(exc)}
        except (CommandExecutionError, SaltInvocationError) as exc:
            self._finish(name, upgrade_ledger.FAILED, str(exc))
            self.event(node, name, "failed", message=str(exc))
            return {"result": False, "changes": {}, "comment": f"{name} failed: {exc}"}
        self._finish(name, upgrade_ledger.DONE, detail)
        self.event(node, name, "done")
        if self.ledger["completed"]:
            upgrade_ledger.release(self.lock_path, self.run_id)
        return {"result": True, "changes": {name: detail}, "comment": f"{name}: done"}

    def _finish(self, name, status, detail):
        self.update(lambda ledger: upgrade_ledger.finish(ledger, name, status, detail))

    def _first_preflight(self, node):
        findings = self.preflight_findings()
        if findings:
            raise CommandExecutionError(findings_text(self.pair, findings))
        ledger = upgrade_ledger.new(self.pair, self.nodes)
        ledger["node_state"] = {n["minion"]: {} for n in self.nodes}
        ledger["cutover"] = {}
        ledger["cwd"] = self.site.cwd()
        upgrade_ledger.start(ledger, "preflight")
        upgrade_ledger.finish(ledger, "preflight", upgrade_ledger.DONE, {"findings": []})
        with upgrade_ledger.guarded(self.ledger_path):
            if upgrade_ledger.load(self.ledger_path) is not None:
                raise CommandExecutionError(f"pair {self.pair}: another run started meanwhile")
            upgrade_ledger.save(self.ledger_path, ledger)
        self.ledger = ledger
        self.event(node, "preflight", "done")
        return {"result": True, "changes": {"preflight": "passed"}, "comment": "preflight: passed"}

    def phase_node(self, name):
        """The minion a phase is about (node 1 or 2), else the pair."""
        if name.endswith("node1") or name in ("new-cluster",):
            return self.nodes[0]["minion"]
        if name.endswith("node2") or name == "cutover":
            return self.nodes[1]["minion"]
        return self.pair

    # ------------------------------------------------------------------ 0 preflight
    def preflight_findings(self):
        """Every inhibitor, as text, each with what to do; empty when the run may start."""
        found = self.site.preflight_base(self.pair)
        if found:
            return found
        first, second = self.nodes
        names = [first["old_name"], second["old_name"]]
        try:
            cluster_findings = pair_preflight.cluster_findings(
                old_side.health(self.site, first["minion"], names),
                old_side.cib_xml(self.site, first["minion"]),
                names,
                source=f"old cluster (read on {first['minion']})",
            )
        except CommandExecutionError as exc:
            return [
                f"the old cluster cannot be read on {first['minion']}: {exc}: check that "
                "Pacemaker runs there (service pacemaker status; crm_mon -1)"
            ]
        space = pair_preflight.disk_space_finding(
            self.site.free_bytes(), self.min_free_mib() << 20, self.site.backup_root()
        )
        inhibiting = pair_preflight.inhibitors(cluster_findings + ([space] if space else []))
        found = [pair_preflight.finding_text(finding) for finding in inhibiting]
        found += [pair_preflight.finding_text(f) for f in self.manager_findings()]
        return found + self.site.unreachable_repos([n["minion"] for n in self.nodes])

    def manager_findings(self):
        """The manager is the upgraded one and answers both nodes' client certificates."""
        fqdn = (self.config.get("manager") or {}).get("fqdn")
        if not fqdn or not isinstance(fqdn, str):
            return [
                cluster_health.finding(
                    "manager-pillar",
                    "pillar lustre_upgrade:manager:fqdn is missing",
                    "give the name the servers reach the IML manager by "
                    "(https://<fqdn>/repo/Manager-for-Lustre.repo)",
                )
            ]
        repo_url, health_url = pair_preflight.manager_urls(fqdn)
        found = []
        for node in self.nodes:
            minion = node["minion"]
            repo = self.site.run_argv(minion, pair_preflight.manager_probe_argv(repo_url, True))
            health = self.site.run_argv(
                minion, pair_preflight.manager_probe_argv(health_url, False)
            )
            found += pair_preflight.manager_findings(fqdn, minion, repo, health)
        return found

    def min_free_mib(self):
        return int((self.config.get("backup") or {}).get("min_free_mib", MIN_FREE_MIB))

    # ------------------------------------------------------------------ 1 backups
    def phase_backup(self):
        taken = {}
        for node in self.nodes:
            minion = node["minion"]
            record = self.node_state(minion).get("backup")
            if record and self.site.backup_verified(record["path"], record["sha256"]):
                taken[minion] = record["path"]
                continue
            got = self.site.backup_node(minion)
            record = {
                "path": got["path"],
                "sha256": got["sha256"],
                "top": got["top"],
                "cib": got.get("cib"),
                "taken": time.time(),
            }
            self.update(lambda ledger, m=minion, r=record: ledger["node_state"][m].update(backup=r))
            taken[minion] = record["path"]
        return {"verified_backups": taken}

    def require_backup(self, node, before):
        """The master holds a verified backup of ``node`` taken in this run, or refuse."""
        record = self.node_state(node["minion"]).get("backup")
        created, verified = self.ledger["created"], self.site.backup_verified
        return upgrade_ledger.require_backup(record, created, verified, node["minion"], before)

    # ------------------------------------------------------------------ 2 evacuate node 1
    def phase_evacuate_node1(self):
        first, second = self.nodes
        self.require_backup(first, "evacuating " + first["minion"])
        peer = second["minion"]
        cluster = old_side.read_cluster(self.site, peer)
        ids = sorted(old_side.targets(cluster))
        before = old_side.placement(cluster, ids)
        moving = [t for t in ids if first["old_name"] in before[t]]
        stopped = time.time()
        old_side.set_standby(self.site, peer, first["old_name"])
        arrived = {}

        def evacuated():
            now = old_side.placement_now(self.site, peer, ids)
            for target in moving:
                if now[target] == [second["old_name"]] and target not in arrived:
                    arrived[target] = time.time()
            return all(nodes == [second["old_name"]] for nodes in now.values())

        self._wait(
            evacuated,
            self.move_timeout,
            f"every target on {second['old_name']}",
            interval=cutover.MOVE_POLL_INTERVAL,
        )
        store = old_side.target_store(self.site, first["minion"])
        mountpoints = list(old_side.mountpoints_of(cluster, store).values())
        self._wait(
            lambda: not old_side.mounted(self.site, first["minion"], mountpoints),
            self.move_timeout,
            f"no target mounted on {first['minion']}",
        )
        for target in moving:
            self.update(
                lambda ledger, t=target: upgrade_ledger.note_outage(
                    ledger,
                    t,
                    second["old_name"],
                    stopped,
                    arrived.get(t, time.time()),
                    phase="evacuate-node1",
                )
            )
        old_side.stop_cluster(self.site, first["minion"])
        self._require_old_cluster_stopped(first, mountpoints)
        return {"moved": moving, "to": second["old_name"], "old_cluster_stopped": first["minion"]}

    def _require_old_cluster_stopped(self, node, mountpoints):
        daemons = old_side.cluster_daemons(self.site, node["minion"])
        mounted = old_side.mounted(self.site, node["minion"], mountpoints)
        if daemons or mounted:
            raise CommandExecutionError(
                f"the old cluster on {node['minion']} is not stopped (running: "
                f"{', '.join(daemons) or 'none'}; mounted: {', '.join(mounted) or 'none'}): "
                "stop it (service pacemaker stop; service corosync stop) and run again"
            )

    # ------------------------------------------------------------------ 3/7a rebuild
    def phase_rebuild_node1(self):
        return self.rebuild(self.nodes[0], "rebuild-node1")

    def phase_rebuild_node2(self):
        return self.rebuild(self.nodes[1], "rebuild-node2")

    def rebuild(self, node, phase):
        self.require_backup(node, f"handing {node['minion']} over to its rebuild")
        return rebuild_handoff.Handoff(self, node, phase).perform()

    # ------------------------------------------------------------------ 4/7b restore, install
    def phase_install_node1(self):
        return self.install(self.nodes[0])

    def phase_install_node2(self):
        return self.install(self.nodes[1])

    def install(self, node):
        minion = node["minion"]
        record = self.require_backup(node, "restoring " + minion)
        run = {"evacuated_node": minion}
        applied = {"extension": self.apply(minion, "lustre.extension", run)}
        self.site.call(minion, "saltutil.sync_all", salt_timeout=600)
        delivered = self.site.deliver_backup(minion, record["path"])
        restore_run = dict(run, backup=delivered["path"], sha256=delivered["sha256"])
        restore_run["archive_sha256"] = delivered["archive_sha256"]
        applied["restore"] = self.apply(minion, "lustre.restore", restore_run)
        for _attempt in range(3):
            booted = self.running_kernel(minion)
            results = self.site.apply(minion, None, run, self.reboot_timeout)
            if not state_returns.failed(results):
                break
            if not state_returns.changed(results, REBOOT_STATE):
                raise CommandExecutionError(
                    f"highstate of {minion} failed: {state_returns.failure_text(results)}. Fix "
                    "the cause and run the orchestration again (the node serves nothing)"
                )
            self._wait(
                lambda b=booted: self.running_kernel(minion) not in (None, b),
                self.reboot_timeout,
                f"{minion} to reboot into its new kernel (it runs {booted})",
            )
            self._wait(lambda: self.site.ping(minion), self.reboot_timeout, f"{minion} to answer")
        else:
            raise CommandExecutionError(f"{minion} did not boot into the Lustre kernel")
        applied["highstate"] = state_returns.summary(results)
        return {"applied": applied, "kernel": self.running_kernel(minion), "backup": record["path"]}

    def apply(self, minion, mods, run):
        results = self.site.apply(minion, mods, run, self.reboot_timeout)
        if state_returns.failed(results):
            raise CommandExecutionError(
                f"state.apply {mods} on {minion} failed: {state_returns.failure_text(results)}"
            )
        return state_returns.summary(results)

    def running_kernel(self, minion):
        """``uname -r`` on ``minion``, or None while it does not answer."""
        try:
            ret = self.site.probe_argv(minion, ["uname", "-r"])
        except CommandExecutionError:
            return None
        return (ret.get("stdout") or "").strip() or None if ret.get("retcode") == 0 else None

    # ------------------------------------------------------------------ 5 new cluster
    def node_map(self):
        return {node["old_name"]: node["fqdn"] for node in self.nodes}

    def staged(self, node, name):
        record = self.node_state(node["minion"])["backup"]
        return f"/root/{record['top']}/{name}"

    def rings(self, nodes):
        rings = {n["fqdn"]: list(n["rings"]) for n in nodes if n.get("rings")}
        return rings if len(rings) == len(nodes) else None

    def cib_backup(self):
        """Where node 1's restore staged the old cluster's CIB (``cluster-cfg-<host>.xml``)."""
        first = self.nodes[0]
        return self.staged(first, self.node_state(first["minion"])["backup"]["cib"])

    def state_kwargs(self, name):
        """The state phase ``name`` applies on node 1 and its arguments (its prediction
        runs the same), or ``(None, None)``."""
        first = self.nodes[0]
        members = self.nodes if name == "join-node2" else [first]
        if name in ("new-cluster", "join-node2"):
            return "pacemaker.cluster_present", {
                "name": self.cluster_name,
                "nodes": [n["fqdn"] for n in members],
                "corosync_conf": self.staged(first, "etc/corosync/corosync.conf"),
                "rings": self.rings(members),
            }
        if name == "rebalance":
            return "pacemaker.rebalanced", {"name": "targets"}
        if name == "fencing":
            fencing = {"name": self.cib_backup(), "node_map": self.node_map()}
            return "pacemaker.fencing_attributes_restored", fencing
        return None, None

    def apply_state(self, name):
        fun, kwargs = self.state_kwargs(name)
        return self.site.state(self.nodes[0]["minion"], fun, **kwargs)

    def phase_new_cluster(self):
        present = self.apply_state("new-cluster")
        restored = self.site.state(
            self.nodes[0]["minion"],
            "pacemaker.cib_restored",
            name=self.cib_backup(),
            node_map=self.node_map(),
        )
        return {"cluster": present["changes"], "cib": restored["changes"]}

    # ------------------------------------------------------------------ 6 cutover
    def phase_cutover(self):
        first, second = self.nodes
        self.require_backup(second, "stopping the old cluster on " + second["minion"])
        if self.cutover_mode not in CUTOVER_MODES:
            raise SaltInvocationError(
                f"pillar lustre_upgrade:pairs:{self.pair}:cutover is {self.cutover_mode!r}: "
                f"use one of {', '.join(CUTOVER_MODES)}"
            )
        return cutover.Cutover(self, first, second).perform()

    # ------------------------------------------------------------------ 7c join node 2
    def phase_join_node2(self):
        return {"cluster": self.apply_state("join-node2")["changes"]}

    # ------------------------------------------------------------------ 8, 9, 10
    def phase_rebalance(self):
        first = self.nodes[0]
        before = self.site.call(first["minion"], "pacemaker.status")["placement"]
        started = time.time()
        done = self.apply_state("rebalance")
        ended = time.time()
        after = self.site.call(first["minion"], "pacemaker.status")["placement"]
        for target, nodes in after.items():
            if before.get(target) != nodes:
                self.update(
                    lambda ledger, t=target, n=nodes: upgrade_ledger.note_outage(
                        ledger, t, n[0] if n else None, started, ended, phase="rebalance"
                    )
                )
        return {"moved": done["changes"]}

    def phase_fencing(self):
        done = self.apply_state("fencing")
        return {"fencing": sorted(done["changes"]) if done["changes"] else []}

    def phase_verify(self):
        first = self.nodes[0]
        minion = first["minion"]
        data = self.site.call(minion, "pacemaker.read_cib")
        members = self.site.call(minion, "pacemaker.membership")
        pending = self.site.call(
            minion, "pacemaker.pending_fencing_attributes", self.cib_backup(), self.node_map()
        )
        problems = state_returns.new_cluster_problems(
            data, members, [n["fqdn"] for n in self.nodes], pending
        )
        if problems:
            raise CommandExecutionError(
                "the new cluster is not as planned: " + "; ".join(problems) + ". Fix it and "
                "run the orchestration again: only the verification runs again"
            )
        return {
            "members": sorted(members["online"]),
            "placement": {t: nodes for t, nodes in sorted(data["placement"].items())},
        }

    # ------------------------------------------------------------------ test=True
    def predict(self, name):
        """What phase ``name`` would change on the live pair, where that can be read
        without a change: the targets that would move, or the prediction (``test=True``)
        of the state it applies on a rebuilt node. None where nothing can be read yet."""
        first, second = self.nodes
        rebuilt = {
            n["minion"]: self.node_state(n["minion"]).get("rebuild") == rebuild_handoff.REBUILT
            for n in self.nodes
        }
        if name in ("evacuate-node1", "cutover") and not rebuilt[second["minion"]]:
            cluster = old_side.read_cluster(self.site, second["minion"])
            placement = old_side.placement(cluster, sorted(old_side.targets(cluster)))
            if name == "evacuate-node1":
                return {
                    "would_move_to_" + second["old_name"]: sorted(
                        t for t, nodes in placement.items() if first["old_name"] in nodes
                    )
                }
            return {"would_cut_over_to_" + first["fqdn"]: sorted(placement)}
        if name not in STATE_PHASES or not rebuilt[first["minion"]]:
            return None
        if name != "new-cluster" and not rebuilt[second["minion"]]:
            return None
        fun, kwargs = self.state_kwargs(name)
        ret = self.site.state_test(first["minion"], fun, **kwargs)
        return {"state": fun, "would_change": ret.get("changes"), "comment": ret.get("comment")}

    # ------------------------------------------------------------------ waiting
    def _wait(self, predicate, timeout, what, interval=2.0):
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return
            if time.monotonic() > deadline:
                raise CommandExecutionError(
                    f"waited {timeout:.0f} s for {what}: check `crm_mon -1` and run again"
                )
            self.site.sleep(interval)


def _done_comment(record, name):
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record["end"] or 0))
    return f"{name}: done at {when}"


def findings_text(pair, findings):
    lines = [f"pair {pair} cannot be upgraded; fix these first, nothing was changed:"]
    return "\n".join(lines + [f"- {finding}" for finding in findings])
