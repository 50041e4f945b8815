"""
Phase 6: the targets leave node 2's old cluster for the new cluster on node 1.

By default target by target: one target stopped in the old cluster, verified stopped
there and its mount point free on node 2, then enabled in the new cluster and verified
started on node 1; each target is out only for its own stop and start. ``all-at-once``
is the runbook's way (every target stopped, the old cluster stopped, every target
enabled). Either way the old cluster on node 2 ends stopped, disabled and verified.

The new cluster never holds a startable target whose old copy is not verified stopped:
the restore left every target disabled with maintenance-mode on, maintenance-mode goes
off only once every target not yet cut over is verified disabled there, and a target is
enabled only after its old copy is verified stopped. The ledger records each target's
progress, so a killed run resumes with the target it was moving.
"""

import time

from salt.exceptions import CommandExecutionError

from . import old_side, upgrade_ledger

MOVE_POLL_INTERVAL = 0.25


class Cutover:
    def __init__(self, run, first, second):
        self.run = run
        self.site = run.site
        self.new = first
        self.old = second
        self._dialect = None

    def progress(self, target):
        return self.run.ledger.setdefault("cutover", {}).get(target, {})

    def note(self, target, **fields):
        def change(ledger):
            ledger.setdefault("cutover", {}).setdefault(target, {}).update(fields)

        self.run.update(change)

    def perform(self):
        old_minion = self.old["minion"]
        cluster = old_side.read_cluster(self.site, old_minion)
        ids = sorted(old_side.targets(cluster))
        store = old_side.target_store(self.site, old_minion)
        mountpoints = old_side.mountpoints_of(cluster, store)
        missing = sorted(set(ids) - set(mountpoints))
        if missing:
            raise CommandExecutionError(
                f"no mount point for {', '.join(missing)} in IML's target store on "
                f"{old_minion} (/var/lib/chroma/targets): restore it before the cutover"
            )
        self.require_new_cluster_safe(ids)
        self.dialect()
        if self.run.cutover_mode == "all-at-once":
            self.all_at_once(ids, mountpoints)
        else:
            for target in ids:
                if not self.progress(target).get("started"):
                    self.one_target(target, mountpoints[target])
        old_side.stop_cluster(self.site, old_minion)
        self.run._require_old_cluster_stopped(self.old, list(mountpoints.values()))
        return {
            "mode": self.run.cutover_mode,
            "targets": {t: self.new["fqdn"] for t in ids},
            "old_cluster_stopped": old_minion,
        }

    # ------------------------------------------------------------------ the new cluster
    def new_cib(self):
        return self.site.call(self.new["minion"], "pacemaker.read_cib")

    def require_new_cluster_safe(self, ids):
        """Every target not cut over yet is disabled in the new cluster; then (and only
        then) maintenance-mode may go off."""
        data = self.new_cib()
        known = {rsc["id"]: rsc for rsc in data["resources"]}
        absent = sorted(set(ids) - set(known))
        if absent:
            raise CommandExecutionError(
                f"the new cluster on {self.new['minion']} lacks {', '.join(absent)}: run "
                "phase new-cluster again (move the ledger's new-cluster entry back) or restore them"
            )
        enabled = sorted(
            t
            for t in ids
            if not self.progress(t).get("old_stopped")
            and (known[t].get("meta") or {}).get("target-role") != "Stopped"
        )
        if enabled:
            raise CommandExecutionError(
                f"{', '.join(enabled)} may start in the new cluster while the old cluster on "
                f"{self.old['minion']} still runs them: disable them there "
                f"(pcs resource disable {' '.join(enabled)}) and run again"
            )
        if (data.get("properties") or {}).get("maintenance-mode") == "true":
            self.site.call(self.new["minion"], "pacemaker.set_maintenance_mode", False)

    def dialect(self):
        # Detected once: each job would otherwise spend two pcs runs on it while the
        # target is out of service.
        if self._dialect is None:
            self._dialect = self.site.call(self.new["minion"], "pacemaker.detect_dialect")
        return self._dialect

    def start_new(self, targets):
        minion, fqdn = self.new["minion"], self.new["fqdn"]
        self.site.call(minion, "pacemaker.enable_resources", list(targets), dialect=self.dialect())
        self.site.call(
            minion,
            "pacemaker.wait_for_placement",
            {t: fqdn for t in targets},
            timeout=self.run.move_timeout,
            interval=0.25,
            salt_timeout=self.run.move_timeout + 60,
        )

    # ------------------------------------------------------------------ the old cluster
    def stop_old(self, targets, mountpoints):
        old_minion = self.old["minion"]
        for target in targets:
            old_side.set_target_role(self.site, old_minion, target, "Stopped")

        def stopped():
            if any(old_side.placement_now(self.site, old_minion, targets).values()):
                return False
            return not old_side.mounted(self.site, old_minion, mountpoints)

        # Each poll is one cibadmin query; the target is out of service until it is seen.
        self.run._wait(
            stopped,
            self.run.move_timeout,
            f"{', '.join(targets)} stopped on {old_minion}",
            interval=MOVE_POLL_INTERVAL,
        )

    def one_target(self, target, mountpoint):
        issued = self.progress(target).get("stop_issued") or time.time()
        self.note(target, stop_issued=issued)
        self.stop_old([target], [mountpoint])
        self.note(target, old_stopped=time.time())
        self.start_new([target])
        started = time.time()
        self.note(target, started=started)
        self.run.update(
            lambda ledger: upgrade_ledger.note_outage(
                ledger, target, self.new["fqdn"], issued, started, phase="cutover"
            )
        )

    def all_at_once(self, ids, mountpoints):
        pending = [t for t in ids if not self.progress(t).get("started")]
        if not pending:
            return
        issued = min(self.progress(t).get("stop_issued") or time.time() for t in pending)
        for target in pending:
            self.note(target, stop_issued=issued)
        self.stop_old(pending, [mountpoints[t] for t in pending])
        for target in pending:
            self.note(target, old_stopped=time.time())
        # The runbook stops the old cluster before the new one starts anything.
        old_side.stop_cluster(self.site, self.old["minion"])
        self.run._require_old_cluster_stopped(self.old, list(mountpoints.values()))
        self.start_new(pending)
        started = time.time()
        for target in pending:
            self.note(target, started=started)
            self.run.update(
                lambda ledger, t=target: upgrade_ledger.note_outage(
                    ledger, t, self.new["fqdn"], issued, started, phase="cutover"
                )
            )
