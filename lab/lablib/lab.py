"""The lab as one object: bring it up, use it, tear it down.

`Lab.up()` creates a run (a run id in every name), records everything it makes in the
run's state file before making it, and tears the run down again if any step fails.
`Lab.attach(run_dir)` gives the same object for an existing run (labctl status/down,
tests). `teardown()` works from the state file alone, so it also cleans up after a crash,
and ends only what belongs to its own run.

Logs are kept apart from the runs: `<run base>/logs/<run id>/` (a run is only a directory
named by its run id, see lablib.state), and the copy of the run's state there is named
`run-state.json`.
"""

import concurrent.futures
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import cluster, hostpkgs, image, manager, netns, nodesalt, preflight, prober, repo
from .config import LAB_DIR, LabSpec, build_spec
from .labd import request as labd_request
from .master import Master
from .node import Node
from .proc import (
    CommandError,
    child_pids,
    kill_recorded,
    nsenter_argv,
    run,
    same_process,
    wait_gone,
)
from .state import (
    STATE_NAME,
    RunState,
    is_run_id,
    list_runs,
    new_run_id,
    process_start_time,
    run_state,
)

LOGS_DIR = "logs"
UNITCTL = "/usr/lib/lab/unitctl"  # the nodes' unit engine (systemctl on EL7, service on EL6)
RUN_HINT = (
    "pick one with --run RUN_ID, before or after the command (lab/labctl down --run {example}), "
    "or LAB_RUN=RUN_ID"
)


class LabError(Exception):
    pass


def log(message):
    print(f"[lab {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# A command killed with its node returns before labd has reaped the node's PID 1 and
# dropped it from the run's state: for that long the node still looks up.
KILLED_NODE_SETTLE = 30.0


def killed_by_signal(failure):
    return isinstance(failure, CommandError) and failure.result.returncode < 0


def power_changed(read_pids, before, settle=0.0, sleep=time.sleep, clock=time.monotonic):
    """The nodes' PIDs if they differ from `before` (a node went down or came back),
    within `settle` seconds; None if they stayed the same."""
    deadline = clock() + settle
    while True:
        now = read_pids()
        if now != before:
            return now
        if clock() >= deadline:
            return None
        sleep(0.2)


class Lab:
    def __init__(self, spec, run_dir):
        self.spec = spec
        self.run_dir = Path(run_dir)
        self.state = RunState(self.run_dir)
        self.run_id = self.run_dir.name
        self.hub_netns = netns.hub_ns(self.run_id)
        self.node_netns = {n.minion: netns.node_ns(self.run_id, n.minion) for n in spec.machines}
        self.master = Master(spec, self.run_dir, self.hub_netns)
        # The pair's nodes; the IML manager node beside them; every node.
        self.nodes = {
            n.minion: Node(spec, n, self.run_dir, self.node_netns[n.minion]) for n in spec.nodes
        }
        self.manager = Node(spec, spec.manager, self.run_dir, self.node_netns[spec.manager_minion])
        self.machines = {**self.nodes, spec.manager_minion: self.manager}
        self.image_dir = self.run_dir / "image"
        self.san = self.run_dir / "san"

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def up(
        cls,
        settings=None,
        pillar=None,
        keep_on_failure=False,
        extra_packages=(),
        venv=None,
        overrides=None,
        before_ready=None,
    ):
        """Bring a run up. before_ready(lab): called once the nodes are powered on, before
        `up` waits for the cluster and the minions (tests inject start-up faults there)."""
        started = time.monotonic()
        spec = build_spec(settings, pillar, venv=venv, overrides=overrides)
        preflight.check_all(spec, tuple(extra_packages) + tuple(spec.extra_packages))
        run_dir = Path(spec.run_base) / new_run_id()
        Path(spec.run_base).mkdir(parents=True, exist_ok=True, mode=0o700)
        lab = cls(spec, run_dir)
        lab.state.create(settings=spec.settings_file, pillar=spec.pillar_dir)
        lab.state.note_host(
            netns_mount_before=netns.netns_mount_present(),
            netns_dir_before=os.path.isdir("/run/netns"),
        )
        try:
            lab._build()
            if before_ready is not None:
                before_ready(lab)
            lab._wait_ready(started)
        except BaseException:
            if not keep_on_failure:
                log(f"run {lab.run_id}: failed; tearing down (logs kept in {lab.logs_dir()})")
                lab.collect_logs(lab.logs_dir())
                lab.teardown()
            raise
        elapsed = time.monotonic() - started
        lab.state.note(up_seconds=round(elapsed, 1))
        log(f"run {lab.run_id}: up in {elapsed:.1f} s")
        return lab

    @classmethod
    def attach(cls, run_dir):
        run_dir = Path(run_dir)
        if run_state(run_dir) is None:
            raise LabError(f"{run_dir} is not a lab run")
        try:
            with open(run_dir / "spec.json", encoding="utf-8") as handle:
                spec = LabSpec.from_json(json.load(handle)["spec"])
        except (OSError, ValueError, KeyError) as exc:
            raise LabError(
                f"run {run_dir.name} has no readable spec.json ({exc}): it is still starting "
                f"or its `up` failed early; `lab/labctl down --run {run_dir.name}` removes it"
            ) from None
        return cls(spec, run_dir)

    @staticmethod
    def find_run(run_base=None, run_id=None):
        base = Path(run_base or os.environ.get("LAB_RUN_BASE") or _default_run_base())
        run_id = run_id or os.environ.get("LAB_RUN")
        if run_id:
            if not is_run_id(run_id):
                raise LabError(
                    f"{run_id!r} is not a run id (6 hex digits, as `lab/labctl status` or "
                    f"`ls {base}` shows)"
                )
            path = base / run_id
            if run_state(path) is None:
                raise LabError(f"no lab run {run_id} under {base}")
            return path
        runs = list_runs(base)
        if not runs:
            raise LabError(f"no lab run under {base} (start one with `lab/labctl up`)")
        if len(runs) > 1:
            names = ", ".join(r.name for r in runs)
            hint = RUN_HINT.format(example=runs[0].name)
            raise LabError(f"several lab runs under {base} ({names}): {hint}")
        return runs[0]

    def _build(self):
        spec = self.spec
        t0 = time.monotonic()
        fence = {
            "ipaddr": spec.hub,
            "ipport": str(spec.pdu_port),
            "login": "lab-admin",
            "password": secrets.token_urlsafe(12),
        }
        node_salt = nodesalt.ensure(spec.cache_dir, log)
        repo_dir = repo.ensure_repository(spec, self.run_dir, log, node_salt)
        info = {
            "spec": spec.to_json(),
            "run_id": self.run_id,
            "hub_netns": self.hub_netns,
            "node_netns": self.node_netns,
            "image": str(self.image_dir),
            "repo_dir": str(repo_dir) if repo_dir else None,
            "node_salt": str(node_salt["root"]),
            "fence": fence,
        }
        spec_file = self.run_dir / "spec.json"
        with open(os.open(spec_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            json.dump(info, handle, indent=2)
        log(f"run {self.run_id}: repository ready ({time.monotonic() - t0:.1f} s)")
        binds = [b["target"] for b in next(iter(self.nodes.values())).bind_mounts()]
        image.build(self.image_dir, spec, binds, hostpkgs.hidden_paths())
        repo.install_base_os(spec, self.image_dir, repo_dir)
        self._shared_storage()
        netns.build(spec, self.run_id, self.state)
        # The manager's CA (it signs the nodes' IML certificates; the manager node holds it).
        manager_dir = cluster.manager_pki(self.run_dir, spec.manager_fqdn)
        # The master and labd start while the disks are written (the master needs ~5 s).
        self.master.write_config()
        self._start_master()
        self._start_labd()
        # The admin's step of the README's install: the master's runners (minions are the
        # product's job: the lab never syncs them).
        self._master_sync = self._spawn(
            "master:sync",
            self.master.cli_argv("salt-run", ["--out=json", "saltutil.sync_all"]),
            self.master.log / "sync_all",
        )
        cib_text = cluster.cib_xml(spec, fence)
        cib_file = self.run_dir / "old-cib.xml"
        cib_file.write_text(cib_text)
        cluster.verify_cib(cib_file)

        def install(node):
            node.format_disk()
            packages = repo.node_set(repo_dir, spec.life) if repo_dir else None
            public_key = node.kickstart(spec.hub, life=spec.life, packages=packages)
            # A site's existing minions are accepted already.
            self.master.accept_key(node.minion, public_key)
            cluster.provision_old_node(node, spec, cib_text, manager_dir)
            node.write_boot_config(self.image_dir, node_salt["root"])

        def install_manager(node):
            node.format_disk()
            life = spec.manager_life
            packages = repo.node_set(repo_dir, f"manager-{life}") if repo_dir else None
            public_key = node.kickstart(spec.hub, life=life, packages=packages)
            self.master.accept_key(node.minion, public_key)
            manager.provision(node, spec, manager_dir, repo_dir, life, log)
            node.write_boot_config(self.image_dir, node_salt["root"])

        with concurrent.futures.ThreadPoolExecutor(len(self.machines)) as pool:
            futures = [pool.submit(install, node) for node in self.nodes.values()]
            futures.append(pool.submit(install_manager, self.manager))
            for future in futures:
                future.result()
        log(f"run {self.run_id}: network, image, disks ready ({time.monotonic() - t0:.1f} s)")
        for minion in self.machines:
            labd_request(self.run_dir, {"op": "power", "node": minion, "action": "on"})
        log(f"run {self.run_id}: nodes powered on ({time.monotonic() - t0:.1f} s)")

    def _shared_storage(self):
        (self.san / ".lab").mkdir(parents=True)
        (self.san / ".lab" / "agent.conf").write_text(
            f"START_DELAY={self.spec.start_delay}\nSTOP_DELAY={self.spec.stop_delay}\n"
            f"MMP_DELAY={self.spec.mmp_delay}\n"
        )
        for target in self.spec.targets:
            disk = self.san / target.disk
            (disk / "fs").mkdir(parents=True)
            (disk / "mmp.lock").touch()
            (disk / "fs" / "CONFIGS").mkdir()
            (disk / "label").write_text(f"{target.name}\n")

    def _spawn(self, role, argv, log_file, env=None):
        with open(log_file, "ab") as out:
            popen = subprocess.Popen(  # noqa: S603 - fixed argv
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=str(LAB_DIR),
                env=env,
            )
        self.state.add_process(role, popen.pid)
        return popen

    def _start_master(self):
        # Hooks the master runs (the rebuild hook: `lab/labctl rebuild NODE`) find this run.
        env = dict(os.environ, LAB_RUN=self.run_id, LAB_RUN_BASE=str(self.run_dir.parent))
        popen = self._spawn(
            "master:unshare", self.master.start_argv(), self.master.log / "console", env=env
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            kids = child_pids(popen.pid)
            if kids:
                self.state.add_process("master", kids[0])
                return
            if popen.poll() is not None:
                raise LabError(f"salt-master did not start: see {self.master.log}/console")
            time.sleep(0.02)
        raise LabError("salt-master: no process after 10 s")

    def _start_labd(self):
        env = dict(os.environ, PYTHONPATH=str(LAB_DIR), PYTHONDONTWRITEBYTECODE="1")
        argv = [
            "ip",
            "netns",
            "exec",
            self.hub_netns,
            sys.executable,
            "-m",
            "lablib.labd",
            str(self.run_dir),
        ]
        popen = self._spawn("labd", argv, self.run_dir / "labd.console", env=env)
        ready = self.run_dir / "labd.ready"
        deadline = time.monotonic() + 15
        while not ready.exists():
            if popen.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"labd did not start: see {self.run_dir}/labd.console")
            time.sleep(0.02)

    def _wait_ready(self, started):
        deadline = started + self.spec.up_timeout
        status = self.wait_cluster_settled(deadline=deadline, recover=True)
        if self.placement(status) != self.preferred_placement():
            # A node recovered from a start-up fence: its targets started on the peer.
            log(f"run {self.run_id}: moving the targets to their preferred nodes")
            self.restore_baseline(timeout=max(30.0, deadline - time.monotonic()))
        log(f"run {self.run_id}: cluster settled ({time.monotonic() - started:.1f} s)")
        self.wait_minions(deadline=deadline, minions=list(self.machines))
        log(f"run {self.run_id}: minions answer ({time.monotonic() - started:.1f} s)")
        self.wait_manager(deadline=deadline)
        log(f"run {self.run_id}: manager answers ({time.monotonic() - started:.1f} s)")
        self._wait_master_synced(deadline)
        log(f"run {self.run_id}: master synced ({time.monotonic() - started:.1f} s)")

    def _wait_master_synced(self, deadline):
        popen = self._master_sync
        try:
            status = popen.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
            raise LabError("the master's saltutil.sync_all did not finish in time") from None
        finally:
            self.state.drop_process("master:sync")
        if status != 0:
            raise LabError(
                f"the master's saltutil.sync_all failed ({status}): see {self.master.log}/sync_all"
            )

    # ------------------------------------------------------------------ using the lab
    def node_pid(self, minion):
        proc = self.state.read()["processes"].get(f"node:{self.spec.machine(minion).minion}")
        if proc and same_process(proc["pid"], proc["start"]):
            return proc["pid"]
        return None

    def node_exec(self, minion, argv, check=False, timeout=120, input=None, env=None):
        """Run argv on a node (its namespaces, a clean root environment)."""
        pid = self.node_pid(minion)
        if pid is None:
            raise LabError(f"node {minion} is powered off")
        return run(nsenter_argv(pid, argv, env), check=check, timeout=timeout, input=input)

    def salt(self, *args, timeout=120):
        return self.master.run_cli("salt", list(args), timeout=timeout)

    def salt_run(self, *args, timeout=600):
        return self.master.run_cli("salt-run", list(args), timeout=timeout)

    def salt_key(self, *args, timeout=60):
        return self.master.run_cli("salt-key", list(args), timeout=timeout)

    def salt_json(self, *args, timeout=120):
        result = self.salt("--out=json", "--static", *args, timeout=timeout)
        try:
            return json.loads(result.stdout or "{}")
        except ValueError:
            raise LabError(f"salt {' '.join(args)}: {result.stdout}{result.stderr}") from None

    def labd(self, op, **payload):
        return labd_request(self.run_dir, {"op": op, **payload})

    def power(self, minion, action):
        return self.labd("power", node=self.spec.machine(minion).minion, action=action)["result"]

    def rebuild(self, minion):
        return self.labd("rebuild", node=self.spec.machine(minion).minion)["result"]

    def manager_health(self, timeout=20):
        """The manager's /api/health as the manager node itself fetches it: (HTTP status,
        JSON or None)."""
        fqdn = self.spec.manager_fqdn
        result = self.node_exec(
            self.spec.manager_minion,
            [
                "curl",
                "-sS",
                "--max-time",
                str(timeout),
                "--noproxy",
                "*",
                "--cacert",
                "/var/lib/chroma/authority.crt",
                # The lab's own check: the manager's address, whatever its /etc/hosts says.
                "--resolve",
                f"{fqdn}:443:{self.spec.manager_address}",
                "-w",
                "\n%{http_code}",
                f"https://{fqdn}/api/health",
            ],
            timeout=timeout + 10,
        )
        body, _, code = result.stdout.rpartition("\n")
        try:
            return int(code), json.loads(body)
        except ValueError:
            return (int(code) if code.isdigit() else None), None

    def wait_manager(self, deadline=None, timeout=60):
        """The manager node's service answers /api/health from its database."""
        deadline = deadline or time.monotonic() + timeout
        answer = None
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                answer = self.manager_health()
                if answer[0] == 200:
                    return answer[1]
            time.sleep(0.5)
        raise LabError(
            f"the manager node does not answer https://{self.spec.manager_fqdn}"
            f"/api/health: {answer}"
        )

    def crm_status(self, minion=None):
        for name in [minion] if minion else list(self.nodes):
            if self.node_pid(name) is None:
                continue
            result = self.node_exec(name, ["crm_mon", "--output-as=xml", "-1"])
            if result.returncode == 0:
                return cluster.parse_crm_mon(result.stdout)
        return None

    def wait_cluster_settled(self, deadline=None, timeout=150, names=None, recover=False):
        """Both nodes online, every target started once. recover: also bring back a node
        that a start-up fence left down (see recover_start_up)."""
        deadline = deadline or time.monotonic() + timeout
        names = names or [n.old_name for n in self.spec.nodes]
        status = None
        next_recovery = time.monotonic() + 2
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                status = self.crm_status()
                if status and cluster.settled(status, self.spec, names):
                    return status
            if recover and time.monotonic() >= next_recovery:
                with contextlib.suppress(Exception):
                    self.recover_start_up()
                next_recovery = time.monotonic() + 2
            time.sleep(0.5)
        raise LabError(f"cluster not settled in time; last crm_mon: {json.dumps(status)}")

    def recover_start_up(self):
        """What an admin does for a node that a fence left down while the cluster came up:
        power it on if it stayed off; start its cluster stack again if it stopped (a node
        that learns it was fenced -- "We were allegedly just fenced" -- stops Pacemaker and
        stays down). Only nodes whose boot is over and whose Pacemaker is enabled."""
        power = self.labd("status")["nodes"]
        for minion in self.nodes:
            if not power[minion]["on"]:
                if not power[minion]["pending_on"]:
                    log(f"run {self.run_id}: {minion} is off (fenced at start-up): powering it on")
                    self.power(minion, "on")
                    self._note_recovery(minion, "powered on")
                continue
            if self.node_exec(minion, ["test", "-e", "/run/lab/boot-done"]).returncode != 0:
                continue
            if self.node_exec(minion, [UNITCTL, "is-active", "pacemaker"]).returncode == 0:
                continue
            if self.node_exec(minion, [UNITCTL, "is-enabled", "pacemaker"]).returncode != 0:
                continue
            log(f"run {self.run_id}: {minion}: Pacemaker stopped during start-up; starting it")
            self.node_exec(minion, [UNITCTL, "start", "corosync", "pacemaker"], timeout=120)
            self._note_recovery(minion, "cluster started")

    def _note_recovery(self, minion, what):
        def change(data):
            data["notes"].setdefault("up_recoveries", []).append(
                {"t": round(time.time(), 3), "node": minion, "action": what}
            )

        self.state.update(change)

    def wait_minions(self, deadline=None, timeout=120, minions=None):
        deadline = deadline or time.monotonic() + timeout
        minions = minions or list(self.nodes)
        answer = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                answer = self.salt_json("-L", ",".join(minions), "test.ping", "-t", "5", timeout=30)
                if all(answer.get(m) is True for m in minions):
                    return answer
            time.sleep(1)
        raise LabError(f"minions {minions} do not answer test.ping: {answer}")

    def placement(self, status=None):
        """{target name: [old node names serving it]} from crm_mon."""
        status = status or self.crm_status() or {"resources": {}}
        return {
            t.name: status["resources"].get(t.resource, {}).get("nodes", [])
            for t in self.spec.targets
        }

    def preferred_placement(self):
        return {t.name: [self.spec.node(str(t.primary)).old_name] for t in self.spec.targets}

    def restore_baseline(self, timeout=240):
        """Both nodes on and online, no standby, no failures, every target on its
        preferred node, the manager node on: the state a test starts from."""
        deadline = time.monotonic() + timeout
        while True:
            booted = {minion: self.node_pid(minion) for minion in self.nodes}
            try:
                return self._restore_baseline(deadline)
            except (CommandError, LabError) as failure:
                # A node that rejoined after a test's fence may fence its peer at start-up
                # (dc-deadtime, see `up`); the victim's commands die with it. Only that is
                # retried: the same nodes still up means a real failure.
                now = power_changed(
                    lambda: {minion: self.node_pid(minion) for minion in self.nodes},
                    booted,
                    settle=KILLED_NODE_SETTLE if killed_by_signal(failure) else 0,
                )
                if now is None or time.monotonic() >= deadline:
                    raise
                log(f"run {self.run_id}: a node was fenced during the baseline restore: {now}")
                self.wait_cluster_settled(deadline=deadline, recover=True)

    def _restore_baseline(self, deadline):
        for minion in self.nodes:
            if self.node_pid(minion) is None:
                self.power(minion, "on")
        manager_was_off = self.node_pid(self.spec.manager_minion) is None
        if manager_was_off:
            self.power(self.spec.manager_minion, "on")
        self.wait_cluster_settled(deadline=deadline, recover=True)
        first = next(iter(self.nodes))
        self.node_exec(first, ["pcs", "node", "unstandby", "--all"], check=True)
        self.node_exec(first, ["crm_resource", "--cleanup", "--quiet"])
        while time.monotonic() < deadline:
            # Let the re-probes of the clean-up (and a node that just joined) finish first:
            # pcs plans a relocation from the resources' current state.
            self.node_exec(first, ["crm_resource", "--wait", "--timeout", "120s"], timeout=150)
            status = self.wait_cluster_settled(deadline=deadline)
            if self.placement(status) == self.preferred_placement():
                self.node_exec(first, ["pcs", "resource", "relocate", "clear"])
                self.wait_minions(deadline=deadline)
                if manager_was_off:
                    self.wait_manager(deadline=deadline)
                return status
            self.node_exec(first, ["pcs", "resource", "relocate", "run"], timeout=120)
        raise LabError(f"cluster not back to its baseline placement: {self.placement()}")

    def prober_records(self, since=None, until=None):
        return prober.read_records(self.run_dir / "prober.jsonl", since, until)

    def prober_caught_up(self, timeout=5.0):
        """Wait until the prober has written a sample taken after this call (a report
        "as of now" covers what happened just before it)."""
        now = time.time()
        deadline = time.monotonic() + timeout
        path = self.run_dir / "prober.jsonl"
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(path, "rb") as handle:
                    handle.seek(max(0, path.stat().st_size - 4096))
                    lines = [line for line in handle.read().splitlines() if line.endswith(b"}")]
                if lines and json.loads(lines[-1])["t"] >= now:
                    return True
            time.sleep(0.05)
        return False

    def availability(self, since=None, until=None):
        if until is None:
            self.prober_caught_up()
        return prober.analyse(self.prober_records(since, until))

    def violations(self, since=None):
        """The double starts the Target agent refused (each target's violations.jsonl)."""
        return self._target_log("violations.jsonl", since)

    def agent_events(self, since=None):
        """What the Target agent did on the shared storage: mounted, unmounted, mmp-wait."""
        return self._target_log("events.jsonl", since)

    def _target_log(self, name, since=None, until=None):
        out = []
        for target in self.spec.targets:
            path = self.san / target.disk / name
            with contextlib.suppress(FileNotFoundError), open(path, encoding="utf-8") as handle:
                for line in handle:
                    with contextlib.suppress(ValueError):
                        record = json.loads(line)
                        when = record.get("time", 0)
                        if (since is None or when >= since) and (until is None or when <= until):
                            out.append(record)
        return sorted(out, key=lambda r: r.get("time", 0))

    def power_events(self, since=None):
        """labd's power log: {"t", "node", "action": on|off, "by": lab|pdu|rebuild|node}."""
        out = []
        with contextlib.suppress(FileNotFoundError):
            with open(self.run_dir / "power.jsonl", encoding="utf-8") as handle:
                for line in handle:
                    with contextlib.suppress(ValueError):
                        record = json.loads(line)
                        if since is None or record["t"] >= since:
                            out.append(record)
        return out

    def _minion_of(self, name):
        try:
            return self.spec.node(str(name)).minion
        except KeyError:
            return name

    def report(self, since=None, until=None):
        """The lab's availability report, per target, from both of its sources:
        - the prober (samples of every node's mount table, every 100 ms, from outside):
          outages, double service, who serves it now;
        - the Target agent's logs on the shared storage: double starts it refused
          (violations.jsonl) -- attempts the prober never sees, as nothing got mounted --
          and its MMP waits and mounts (events.jsonl).
        What neither sees is in lab/README.md ("What the prober sees")."""
        availability = self.availability(since, until)
        refused = self._target_log("violations.jsonl", since, until)
        events = self._target_log("events.jsonl", since, until)
        targets = {}
        for target in self.spec.targets:
            avail = availability.get(target.name)
            seen = avail.as_dict() if avail else prober.TargetAvailability(target.name).as_dict()
            mine = [e for e in events if e.get("target") == target.name]
            targets[target.name] = {
                **seen,
                "refused_double_starts": sum(1 for v in refused if v.get("target") == target.name),
                "refused": [v for v in refused if v.get("target") == target.name],
                "mmp_waits": [self._minion_of(e["node"]) for e in mine if e["event"] == "mmp-wait"],
                "mounts": [self._minion_of(e["node"]) for e in mine if e["event"] == "mounted"],
            }
        return {
            "since": since,
            "until": until,
            "targets": targets,
            "outages": sum(len(t["outages"]) for t in targets.values()),
            "double_service": sum(len(t["double_service"]) for t in targets.values()),
            "refused_double_starts": sum(t["refused_double_starts"] for t in targets.values()),
            "sources": {
                "prober": f"{self.run_dir / 'prober.jsonl'} (mount tables, every {prober.INTERVAL} s)",
                "agent": "<shared storage>/<target>/violations.jsonl, events.jsonl",
            },
        }

    def status(self):
        data = self.state.read()
        out = {"run_id": self.run_id, "run_dir": str(self.run_dir), "nodes": {}}
        for minion in self.machines:
            out["nodes"][minion] = {"pid1": self.node_pid(minion), "netns": self.node_netns[minion]}
        out["processes"] = data["processes"]
        out["netns"] = data["netns"]
        out["up_seconds"] = data["notes"].get("up_seconds")
        out["memory_mib"] = self.memory_mib()
        return out

    def memory_mib(self):
        """Proportional set size (MiB) of every process of the lab: the nodes' and the
        master's PID namespaces, labd."""
        namespaces = set()
        roots = []
        for role, proc in self.state.read()["processes"].items():
            if not same_process(proc["pid"], proc["start"]):
                continue
            if role.startswith("node:") and not role.endswith(":unshare") or role == "master":
                with contextlib.suppress(OSError):
                    namespaces.add(os.readlink(f"/proc/{proc['pid']}/ns/pid"))
            elif role == "labd":
                roots.append(proc["pid"])
        total_kb = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if (
                    int(entry) not in roots
                    and os.readlink(f"/proc/{entry}/ns/pid") not in namespaces
                ):
                    continue
                with open(f"/proc/{entry}/smaps_rollup", encoding="ascii") as handle:
                    for line in handle:
                        if line.startswith("Pss:"):
                            total_kb += int(line.split()[1])
            except OSError:
                continue
        return round(total_kb / 1024)

    # ------------------------------------------------------------------ logs
    def logs_dir(self):
        return logs_dir(self.spec.run_base, self.run_id)

    def collect_logs(self, dest):
        """Copy the node and lab logs (node disks' /var/log, consoles, master, prober)."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        for minion, node in self.machines.items():
            target = dest / minion
            target.mkdir(exist_ok=True)
            for src in (node.console, node.boot_file):
                if src.exists():
                    shutil.copy2(src, target / src.name)
            var_log = node.upper("/var/log")
            if var_log.exists():
                shutil.copytree(var_log, target / "var-log", dirs_exist_ok=True, symlinks=True)
        # The state is copied under another name: a logs folder is never taken for a run.
        copies = {
            name: name
            for name in (
                "labd.log",
                "labd.console",
                "prober.jsonl",
                "power.jsonl",
            )
        }
        copies.update({"old-cib.xml": "old-cib.xml", STATE_NAME: f"run-{STATE_NAME}"})
        for name, copy_name in copies.items():
            src = self.run_dir / name
            if src.exists():
                shutil.copy2(src, dest / copy_name)
        if self.master.log.exists():
            shutil.copytree(self.master.log, dest / "master", dirs_exist_ok=True)
        for target in self.spec.targets:
            for name in ("violations", "events"):
                src = self.san / target.disk / f"{name}.jsonl"
                if src.exists():
                    shutil.copy2(src, dest / f"{name}-{target.name}.jsonl")
        return dest

    # ------------------------------------------------------------------ teardown
    def teardown(self, keep_run_dir=False):
        teardown_run(self.run_dir, keep_run_dir=keep_run_dir)


def logs_dir(run_base, run_id):
    """Where the logs of run `run_id` are kept: beside the runs, never taken for one."""
    return Path(run_base) / LOGS_DIR / run_id


def teardown_run(run_dir, keep_run_dir=False):
    """Remove everything the state file lists: processes, namespaces, run dir.

    Only a run (lablib.state.run_state) is torn down, and only what is its own: a process
    recorded in its state is ended only while it still lives in one of the run's network
    namespaces or runs from the run's directory.
    """
    run_dir = Path(run_dir)
    data = run_state(run_dir)
    if data is None:
        raise LabError(
            f"{run_dir} is not a lab run (a run is <run base>/<6 hex digits>/ with its own "
            f"{STATE_NAME}): nothing was removed"
        )
    run_id = run_dir.name
    with contextlib.suppress(Exception):
        labd_request(run_dir, {"op": "stop"}, timeout=20)
    procs = {
        role: proc
        for role, proc in data["processes"].items()
        if _owned_by_run(proc, run_dir, data["netns"], role)
    }
    # Node and master PID 1s first: SIGKILL empties their PID namespaces at once.
    order = sorted(procs, key=lambda r: (0 if r.startswith(("node:", "master")) else 1, r))
    for role in order:
        proc = procs[role]
        sig = signal.SIGTERM if role == "labd" else signal.SIGKILL
        kill_recorded(proc["pid"], proc["start"], sig)
    for role in order:
        proc = procs[role]
        if not wait_gone(proc["pid"], proc["start"], timeout=15):
            kill_recorded(proc["pid"], proc["start"], signal.SIGKILL)
            wait_gone(proc["pid"], proc["start"], timeout=5)
    for name in data.get("netns", []):
        # Anything still living in the run's namespaces is the run's (e.g. started in the
        # instant before its PID was recorded): end it, by PID, before the namespace goes.
        for pid in netns.processes_in(name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        netns.delete(name, run_id)
    host = data.get("host", {})
    _restore_netns_dir(host)
    if not keep_run_dir:
        shutil.rmtree(run_dir, ignore_errors=True)


def _owned_by_run(proc, run_dir, namespaces, role):
    """Is the recorded process (still) one of this run's: alive with its recorded start
    time, in one of the run's network namespaces or started from the run's directory?"""
    try:
        pid, start = int(proc["pid"]), proc["start"]
    except (KeyError, TypeError, ValueError):
        return False
    if start is None or process_start_time(pid) != start:
        return False  # gone, or a recycled PID: nothing to end
    try:
        net = os.readlink(f"/proc/{pid}/ns/net")
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().decode(errors="replace").split("\0")
    except OSError:
        return False
    for name in namespaces:
        with contextlib.suppress(OSError):
            if net == f"net:[{os.stat(f'/run/netns/{name}').st_ino}]":
                return True
    base = str(run_dir)
    if any(a == base or a.startswith(base + "/") or a in namespaces for a in argv):
        return True
    log(f"run {run_dir.name}: {role} (PID {pid}) is not this run's process: left running")
    return False


def _restore_netns_dir(host):
    """Leave /run/netns as it was before the run (ip creates it on first use)."""
    if host.get("netns_mount_before", True):
        return
    try:
        remaining = os.listdir("/run/netns")
    except FileNotFoundError:
        return
    if remaining:
        return  # someone else's namespaces now live there
    if netns.netns_mount_present():
        run(["umount", "/run/netns"], check=False)
    if not host.get("netns_dir_before", True):
        with contextlib.suppress(OSError):
            os.rmdir("/run/netns")


def _default_run_base():
    from .config import load_settings

    _, settings = load_settings()
    return settings.get("lab", {}).get("run_base", "/tmp/lulab")
