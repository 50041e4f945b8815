"""The lab's salt-master: in the hub network namespace and a PID namespace of its own.

Its CLIs (salt, salt-run, salt-key, salt-cp, and salt-call, local only) run "in the
master's context": the hub network namespace (the master listens on the hub address only)
and the master's config directory, from the repository root and with LAB_RUN/LAB_RUN_BASE
naming this run (as the master daemon has them): a hook the product runs from `salt-run`
(the lab pillar's rebuild hook, `lab/labctl rebuild {minion}`, relative to the repository
root) finds this run. Keys: the master never auto-accepts; `up` writes the
initial nodes' public keys into its accepted keys before they boot (a site's existing
minions are accepted already). A rebuilt node's new key is the product's to accept.
"""

import os
import subprocess
from pathlib import Path

from .config import LAB_DIR, REPO_ROOT
from .image import write

REACTOR_CONF = LAB_DIR / "master.d" / "reactor.conf"


class Master:
    def __init__(self, spec, run_dir, hub_netns):
        self.spec = spec
        # The run this master belongs to: <run base>/<run id>.
        self.run_id = Path(run_dir).name
        self.run_base = Path(run_dir).parent
        self.root = Path(run_dir) / "master"
        self.conf_dir = self.root / "etc"
        self.pki = self.root / "pki"
        self.hub_netns = hub_netns
        self.log = self.root / "log"

    def write_config(self):
        for path in (self.conf_dir, self.pki / "minions", self.log, self.root / "cache"):
            path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.pki, 0o700)
        config = f"""# The lab's salt-master (written by lab/labctl up; see lab/README.md).
root_dir: {self.root}
pki_dir: {self.pki}
cachedir: {self.root}/cache
sock_dir: {self.root}/sock
pidfile: {self.root}/master.pid
log_file: {self.log}/master
key_logfile: {self.log}/key
log_level_logfile: info
user: root
interface: {self.spec.hub}
worker_threads: 3
auto_accept: false
open_mode: false
timeout: 15
gather_job_timeout: 15
fileserver_backend: [roots]
# Node backups arrive with cp.push (the product's phase 1).
file_recv: true
file_roots:
  base:
    - {REPO_ROOT}/salt
    - {REPO_ROOT}
pillar_roots:
  base:
    - {self.spec.pillar_dir}
# The reactor list is the lab's file: lab/master.d/reactor.conf.
include:
  - {REACTOR_CONF}
"""
        write(self.conf_dir / "master", config)
        # `labctl salt-call ...`: a local salt-call over the same trees, its files here.
        call = self.root / "call"
        minion = f"""# salt-call in the lab master's context (labctl salt-call): local only.
id: lab-master-call
root_dir: {call}
pki_dir: {call}/pki
cachedir: {call}/cache
sock_dir: {call}/sock
log_file: {self.log}/call
file_client: local
file_roots:
  base:
    - {REPO_ROOT}/salt
    - {REPO_ROOT}
pillar_roots:
  base:
    - {self.spec.pillar_dir}
"""
        write(self.conf_dir / "minion", minion)

    def accept_key(self, minion_id, public_key):
        """Pre-seed a minion's key as accepted (the initial nodes, at `up`)."""
        for state in ("minions_pre", "minions_rejected", "minions_denied"):
            (self.pki / state / minion_id).unlink(missing_ok=True)
        write(self.pki / "minions" / minion_id, public_key)

    def start_argv(self):
        return [
            "ip",
            "netns",
            "exec",
            self.hub_netns,
            "unshare",
            "--pid",
            "--fork",
            "--mount",
            "--mount-proc",
            "--propagation",
            "private",
            f"{self.spec.venv}/bin/salt-master",
            "-c",
            str(self.conf_dir),
            "-l",
            "warning",
        ]

    def cli_argv(self, program, args):
        """argv of a master CLI (salt, salt-run, salt-key, salt-cp, salt-call) in the master's
        context; `args` are the CLI's own, passed as given."""
        return [
            "ip",
            "netns",
            "exec",
            self.hub_netns,
            f"{self.spec.venv}/bin/{program}",
            "-c",
            str(self.conf_dir),
            *args,
        ]

    def cli_env(self, base=None):
        """The environment of a master CLI: the caller's (or `base`), naming this run."""
        return dict(
            os.environ if base is None else base,
            LAB_RUN=self.run_id,
            LAB_RUN_BASE=str(self.run_base),
        )

    def run_cli(self, program, args, timeout=120, **kwargs):
        """Run a master CLI in the master's context, from the repository root (relative
        paths of the pillar, like its rebuild hook `lab/labctl`, are the repository's),
        with LAB_RUN and LAB_RUN_BASE naming this run (a hook's labctl finds it)."""
        kwargs["env"] = self.cli_env(kwargs.get("env"))
        kwargs.setdefault("cwd", str(REPO_ROOT))
        return subprocess.run(
            self.cli_argv(program, args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )
