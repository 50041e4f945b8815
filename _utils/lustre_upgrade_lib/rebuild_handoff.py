"""
Handing an evacuated node to its rebuild and taking it back: the old minion key dropped,
the pillar's hook run (``command``) or the admin asked (``manual``), the new key accepted
once, the minion waited for and verified.

A reinstalled node comes back with a new key pair under the same minion id. The master
must not keep trusting the old key (whoever holds the old disk could pose as the node),
nor accept just any key under that id: only a node the ledger marks ``awaiting-rebuild``
gets its pending key accepted, only a key whose fingerprint differs from the old one,
and only once per rebuild. Both the orchestration (polling) and the reactor (on the
master's ``salt/auth`` event) call ``accept_pending_key``; the ledger's guard makes the
first one win.
"""

import time

from salt.exceptions import CommandExecutionError

AWAITING, REBUILT = "awaiting-rebuild", "rebuilt"


class Waiting(Exception):
    """The run stops in a safe state until someone acts (a manual rebuild)."""


HOOKS = ("manual", "command")


def fingerprint_advice(minion):
    return (
        f"compare `salt-key -f {minion}` on the master with `salt-call --local key.finger` "
        "on the node, out of band"
    )


def accept_pending_key(run, minion):
    """Accept ``minion``'s pending key if the ledger of ``run`` awaits its rebuild and
    no key was accepted for it yet. Returns the accepted fingerprint, or None."""
    site = run.site
    outcome = {}

    def change(ledger):
        state = ledger["node_state"].get(minion) or {}
        if state.get("rebuild") != AWAITING or state.get("new_fingerprint"):
            return
        pending = site.fingerprint(minion, "pending")
        if not pending:
            return
        if pending == state.get("old_fingerprint"):
            state["refused_fingerprint"] = pending
            return
        site.accept_key(minion)
        state.update(new_fingerprint=pending, key_accepted=time.time())
        outcome["fingerprint"] = pending

    run.update(change)
    if outcome:
        phase = _phase_of(run, minion)
        run.event(minion, phase, "key-accepted", fingerprint=outcome["fingerprint"])
    return outcome.get("fingerprint")


def _phase_of(run, minion):
    if getattr(run, "rebuild_phase", None):
        return run.rebuild_phase
    return "rebuild-node1" if run.nodes[0]["minion"] == minion else "rebuild-node2"


def verify_returned(run, minion):
    """The rebuilt minion answers and runs EL7: mark it rebuilt; the check's result."""
    grains = run.site.grains(minion, ["os_family", "osmajorrelease", "kernelrelease"])
    if not isinstance(grains, dict):
        return {"result": False, "message": f"{minion} does not answer"}
    major = str(grains.get("osmajorrelease"))
    if grains.get("os_family") != "RedHat" or major != "7":
        result = {
            "result": False,
            "message": f"{minion} came back with {grains.get('os_family')} {major}, not EL7: "
            "reinstall it with EL7 (the run stays at its rebuild)",
        }
    else:
        result = {"result": True, "message": f"{minion} is back on EL7", "grains": grains}

    def change(ledger):
        state = ledger["node_state"][minion]
        if result["result"] and state.get("rebuild") == AWAITING and state.get("new_fingerprint"):
            state.update(rebuild=REBUILT, verified=time.time(), grains=grains)

    run.update(change)
    run.event(minion, _phase_of(run, minion), "verified", **result)
    return result


class Handoff:
    def __init__(self, run, node, phase):
        self.run = run
        self.site = run.site
        self.node = node
        self.minion = node["minion"]
        self.phase = phase

    def state(self):
        return self.run.node_state(self.minion)

    def perform(self):
        if self.state().get("rebuild") == REBUILT:
            return self.detail()
        if self.state().get("rebuild") != AWAITING:
            self.hand_off()
        if not self.state().get("new_fingerprint"):
            self.start_rebuild()
        self.wait_back()
        return self.detail()

    def detail(self):
        state = self.state()
        return {
            "minion": self.minion,
            "old_fingerprint": state.get("old_fingerprint"),
            "new_fingerprint": state.get("new_fingerprint"),
            "os": f"{(state.get('grains') or {}).get('os_family')} "
            f"{(state.get('grains') or {}).get('osmajorrelease')}",
            "key": f"the new key was accepted once; {fingerprint_advice(self.minion)}",
        }

    def hand_off(self):
        old = self.site.fingerprint(self.minion, "accepted")

        def change(ledger):
            ledger["node_state"][self.minion].update(
                rebuild=AWAITING, old_fingerprint=old, handed_off=time.time()
            )

        self.run.update(change)
        self.site.delete_key(self.minion)
        self.run.event(self.minion, self.phase, "awaiting-rebuild", old_fingerprint=old)

    def start_rebuild(self):
        hook = self.run.hook
        if hook == "command":
            if self.state().get("hook_done"):
                return
            argv = [str(arg).replace("{minion}", self.minion) for arg in self.run.command]
            self.run.update(
                lambda ledger: ledger["node_state"][self.minion].update(hook_started=time.time())
            )
            self.site.run_hook(argv, self.run.rebuild_timeout)
            self.run.update(
                lambda ledger: ledger["node_state"][self.minion].update(hook_done=time.time())
            )
            return
        if accept_pending_key(self.run, self.minion):
            return
        if hasattr(self.run, "waiting_text"):
            raise Waiting(self.run.waiting_text(self.minion))
        raise Waiting(
            f"{self.minion} serves nothing, its old cluster is stopped and disabled, its "
            f"backup is on the master and its old minion key was deleted: reinstall it with "
            f"EL7 and a salt-minion of the same id now. Its new key is accepted once, when it "
            f"first asks ({fingerprint_advice(self.minion)}). With the reactor and "
            "lustre_upgrade:rebuild:auto_resume the run then resumes by itself; otherwise "
            "run the orchestration again"
        )

    def wait_back(self):
        deadline = time.monotonic() + self.run.rebuild_timeout
        while time.monotonic() < deadline:
            accepted = accept_pending_key(self.run, self.minion) or self.state().get(
                "new_fingerprint"
            )
            if accepted and self.site.ping(self.minion):
                result = verify_returned(self.run, self.minion)
                if not result["result"]:
                    raise CommandExecutionError(result["message"])
                return
            refused = self.state().get("refused_fingerprint")
            if refused and not accepted:
                raise CommandExecutionError(
                    f"{self.minion} presents its old key again ({refused}): it was not "
                    "reinstalled. Rebuild it, delete that key (salt-key -d) and run again"
                )
            self.site.sleep(3)
        raise CommandExecutionError(
            f"{self.minion} did not come back within {self.run.rebuild_timeout:.0f} s of its "
            f"rebuild (no new key accepted or no answer): check the node's console; "
            f"{fingerprint_advice(self.minion)}; then run again"
        )
