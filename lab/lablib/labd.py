"""labd: the lab's host side, running in the hub network namespace for the whole run.

- the nodes' power: it starts each node's PID 1 and is its parent; SIGKILL to that PID 1
  is "power off"; a node whose init exits with status 100 asked for a reboot; every power
  change is appended to RUN/power.jsonl ({"t", "node", "action", "by"});
- the power switch (PDU) that fence_lab talks to over TCP (hub address, pdu_port), with
  the login and password the nodes' 0_fence_* attributes carry. A node it powers on (a
  fence's `on`, or `reboot` = off, then on) starts its OS `fence_power_on_delay` seconds
  later (the machine's firmware, POST), so the fence result reaches the cluster before the
  node boots again;
- the lab yum repository over HTTP (hub address, repo_port);
- the availability prober (every 100 ms, the pair's nodes, from outside them);
- a control socket (RUN/labd.sock) for labctl: status, power, rebuild, stop.

Run as: ip netns exec <hub> python3 -m lablib.labd RUN_DIR  (cwd: lab/)
"""

import functools
import hmac
import http.server
import json
import logging
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import prober
from .config import LabSpec
from .master import Master
from .node import Node
from .proc import child_pids, kill_recorded, wait_gone
from .state import RunState, process_start_time

log = logging.getLogger("labd")
REBOOT_STATUS = 100


class NodePower:
    """One node's power state; labd is the parent of its PID 1."""

    def __init__(self, labd, node):
        self.labd = labd
        self.node = node
        self.lock = threading.RLock()
        self.popen = None
        self.pid1 = None
        self.pid1_start = None
        self.boots = 0
        self.off_requested = False
        self.pending_on = None  # a delayed power on (after a fence), its timer

    @property
    def is_on(self):
        return self.pid1 is not None and process_start_time(self.pid1) == self.pid1_start

    def power_on(self, by="lab"):
        with self.lock:
            if self.is_on:
                return "already on"
            self.off_requested = False
            self.pending_on = None
            console = open(self.node.console, "a", encoding="utf-8")  # noqa: SIM115
            console.write(f"\n==== power on {time.strftime('%F %T')} ====\n")
            console.flush()
            self.popen = subprocess.Popen(  # noqa: S603 - fixed argv
                self.node.boot_argv(),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            console.close()
            pid1 = None
            deadline = time.monotonic() + 10
            while pid1 is None and time.monotonic() < deadline:
                kids = child_pids(self.popen.pid)
                # ip netns exec execs unshare; unshare forks the node's PID 1.
                pid1 = kids[0] if kids else None
                if pid1 is None:
                    if self.popen.poll() is not None:
                        raise RuntimeError(
                            f"{self.node.minion}: boot failed, see {self.node.console}"
                        )
                    time.sleep(0.01)
            if pid1 is None:
                raise RuntimeError(f"{self.node.minion}: no PID 1 after 10 s")
            self.pid1, self.pid1_start = pid1, process_start_time(pid1)
            self.boots += 1
            self.labd.state.add_process(
                f"node:{self.node.minion}",
                pid1,
                netns=self.node.netns,
                console=str(self.node.console),
            )
            self.labd.state.add_process(f"node:{self.node.minion}:unshare", self.popen.pid)
            threading.Thread(target=self._watch, args=(self.popen, self.boots), daemon=True).start()
            log.info("%s: powered on (PID 1 = %s)", self.node.minion, pid1)
            self.labd.power_event(self.node.minion, "on", by)
            return "on"

    def power_on_later(self, delay, by):
        """Power on after `delay` seconds (unless powered on or off meanwhile)."""
        with self.lock:
            if self.pending_on is not None:
                self.pending_on.cancel()
            timer = threading.Timer(delay, self._delayed_on, args=(by,))
            timer.daemon = True
            self.pending_on = timer
            timer.start()

    def _delayed_on(self, by):
        with self.lock:
            if self.pending_on is None:
                return
            self.pending_on = None
        try:
            self.power_on(by=by)
        except Exception:  # noqa: BLE001 - a timer thread logs, never raises
            log.exception("%s: delayed power on failed", self.node.minion)

    def _watch(self, popen, boot):
        status = popen.wait()
        with self.lock:
            if boot != self.boots or self.off_requested:
                return
            log.info("%s: node exited with status %s", self.node.minion, status)
            self.pid1 = self.pid1_start = None
            self.labd.state.drop_process(f"node:{self.node.minion}")
            self.labd.state.drop_process(f"node:{self.node.minion}:unshare")
            reboot = status == REBOOT_STATUS and not self.off_requested
        if reboot:
            log.info("%s: rebooting", self.node.minion)
            self.power_on(by="node")

    def power_off(self, graceful_timeout=0, by="lab"):
        """SIGKILL to PID 1; with graceful_timeout, first a clean shutdown (SIGTERM: the
        node stops its services, e.g. Pacemaker leaves the cluster) for that long."""
        with self.lock:
            self.off_requested = True
            if self.pending_on is not None:
                self.pending_on.cancel()
                self.pending_on = None
            if not self.is_on:
                self.labd.power_event(self.node.minion, "off", by)
                return "already off"
            pid1, start, popen = self.pid1, self.pid1_start, self.popen
            if graceful_timeout:
                kill_recorded(pid1, start, signal.SIGTERM)
                if wait_gone(pid1, start, timeout=graceful_timeout):
                    log.info("%s: shut down cleanly", self.node.minion)
            kill_recorded(pid1, start, signal.SIGKILL)
            wait_gone(pid1, start, timeout=30)
            if popen is not None:
                try:
                    popen.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    log.warning("%s: unshare still running after power off", self.node.minion)
            self.pid1 = self.pid1_start = None
            self.labd.state.drop_process(f"node:{self.node.minion}")
            self.labd.state.drop_process(f"node:{self.node.minion}:unshare")
            log.info("%s: powered off", self.node.minion)
            self.labd.power_event(self.node.minion, "off", by)
            return "off"


class Labd:
    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.state = RunState(self.run_dir)
        with open(self.run_dir / "spec.json", encoding="utf-8") as handle:
            info = json.load(handle)
        self.info = info
        self.spec = LabSpec.from_json(info["spec"])
        self.image = info["image"]
        self.fence = info["fence"]
        self.master = Master(self.spec, self.run_dir, info["hub_netns"])
        self.nodes = {}  # every node: the pair's and the manager
        for node_spec in self.spec.machines:
            node = Node(self.spec, node_spec, self.run_dir, info["node_netns"][node_spec.minion])
            self.nodes[node_spec.minion] = NodePower(self, node)
        self.stop_event = threading.Event()
        self.disks = {t.disk: t.name for t in self.spec.targets}
        self.power_log = self.run_dir / "power.jsonl"
        self.power_log_lock = threading.Lock()

    def power_event(self, minion, action, by):
        record = {"t": round(time.time(), 3), "node": minion, "action": action, "by": by}
        with self.power_log_lock, open(self.power_log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    # -- operations ----------------------------------------------------------------------
    def status(self):
        return {
            minion: {
                "on": power.is_on,
                "pid1": power.pid1,
                "boots": power.boots,
                "pending_on": power.pending_on is not None,
            }
            for minion, power in self.nodes.items()
        }

    def power(self, minion, action):
        power = self.nodes[minion]
        if action == "on":
            return power.power_on()
        if action == "off":
            return power.power_off()
        if action == "shutdown":
            return power.power_off(graceful_timeout=120)
        if action in ("reboot", "cycle"):
            power.power_off()
            return power.power_on()
        if action == "status":
            return "on" if power.is_on else "off"
        raise ValueError(f"unknown power action {action!r}")

    def rebuild(self, minion):
        """A PXE reinstall: power off hard (whatever the node still runs or serves), wipe
        the disk, kickstart a fresh EL7 install (same minion id, a new key the master knows
        nothing of: it waits there, not accepted), power on."""
        power = self.nodes[minion]
        with power.lock:
            power.power_off(by="rebuild")
            node = power.node
            node.format_disk()
            node.kickstart(self.spec.hub)
            node.write_boot_config(self.image, self.info.get("node_salt"))
            log.info("%s: rebuilt (fresh EL7 install, new minion key)", minion)
            return power.power_on(by="rebuild")

    def node_pids(self):
        """PID 1 of each node of the pair (the nodes that serve targets)."""
        pair = {n.minion for n in self.spec.nodes}
        return {m: (p.pid1 if p.is_on else None) for m, p in self.nodes.items() if m in pair}

    # -- servers -------------------------------------------------------------------------
    def handle_control(self, request):
        op = request.get("op")
        if op == "ping":
            return {"ok": True, "pid": os.getpid()}
        if op == "status":
            return {"ok": True, "nodes": self.status()}
        if op == "power":
            return {"ok": True, "result": self.power(request["node"], request["action"])}
        if op == "rebuild":
            return {"ok": True, "result": self.rebuild(request["node"])}
        if op == "stop":
            for power in self.nodes.values():
                power.power_off()
            self.stop_event.set()
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op!r}"}

    def handle_pdu(self, request):
        """The power switch: fence_lab's requests, authenticated like a real PDU."""
        login_ok = hmac.compare_digest(str(request.get("login", "")), self.fence["login"])
        password_ok = hmac.compare_digest(str(request.get("password", "")), self.fence["password"])
        if not (login_ok and password_ok):
            log.warning("pdu: authentication failed for %r", request.get("login"))
            return {"ok": False, "error": "authentication failed"}
        action = request.get("action")
        if action in ("monitor",):
            return {"ok": True}
        if action == "list":
            return {"ok": True, "plugs": sorted(self.nodes)}
        plug = request.get("plug")
        if plug not in self.nodes:
            return {"ok": False, "error": f"no such plug {plug!r}"}
        log.info("pdu: %s %s", action, plug)
        if action == "status":
            power = self.nodes[plug]
            on = power.is_on or power.pending_on is not None
            return {"ok": True, "status": "on" if on else "off"}
        power = self.nodes[plug]
        if action == "on":
            # The switch turns the power on; the node's OS starts once its firmware is up.
            if power.is_on:
                return {"ok": True, "result": "already on"}
            power.power_on_later(self.spec.fence_power_on_delay, by="pdu")
            return {"ok": True, "result": "on"}
        if action == "off":
            return {"ok": True, "result": power.power_off(by="pdu")}
        if action == "reboot":
            # Off now; on once the machine's firmware has come up again.
            result = power.power_off(by="pdu")
            power.power_on_later(self.spec.fence_power_on_delay, by="pdu")
            return {"ok": True, "result": result}
        return {"ok": False, "error": f"unsupported action {action!r}"}

    def serve(self):
        threads = [
            threading.Thread(target=self._serve_control, daemon=True),
            threading.Thread(target=self._serve_pdu, daemon=True),
            threading.Thread(target=self._serve_repo, daemon=True),
            threading.Thread(
                target=prober.run_forever,
                args=(self.node_pids, self.disks, self.run_dir / "prober.jsonl", self.stop_event),
                daemon=True,
            ),
        ]
        for thread in threads:
            thread.start()
        signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        (self.run_dir / "labd.ready").write_text(f"{os.getpid()}\n")
        self.stop_event.wait()
        log.info("labd stopping")

    def _serve_control(self):
        path = self.run_dir / "labd.sock"
        path.unlink(missing_ok=True)
        labd = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                _json_exchange(self, labd.handle_control)

        server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        os.chmod(path, 0o600)
        server.daemon_threads = True
        server.serve_forever()

    def _serve_pdu(self):
        labd = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                _json_exchange(self, labd.handle_pdu)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer((self.spec.hub, self.spec.pdu_port), Handler)
        server.daemon_threads = True
        server.serve_forever()

    def _serve_repo(self):
        repo = self.info.get("repo_dir")
        if not repo:
            return

        class QuietHandler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, fmt, *args):
                log.debug("repo: " + fmt, *args)

        handler = functools.partial(QuietHandler, directory=repo)
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        server = http.server.ThreadingHTTPServer((self.spec.hub, self.spec.repo_port), handler)
        server.daemon_threads = True
        server.serve_forever()


def _json_exchange(handler, respond):
    line = handler.rfile.readline()
    try:
        request = json.loads(line or b"{}")
        reply = respond(request)
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller
        log.exception("request failed")
        reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    handler.wfile.write((json.dumps(reply) + "\n").encode())


def request(run_dir, payload, timeout=300):
    """labctl side: one request to labd's control socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(Path(run_dir) / "labd.sock"))
        sock.sendall((json.dumps(payload) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    reply = json.loads(data.decode() or "{}")
    if not reply.get("ok"):
        raise RuntimeError(f"labd: {reply.get('error', 'no answer')}")
    return reply


def main(run_dir):
    logging.basicConfig(
        filename=str(Path(run_dir) / "labd.log"),
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    Labd(run_dir).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
