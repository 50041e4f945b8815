"""What the lab tests of `orch.upgrade_pair` run and check: the user's command in the
master's context, its per-phase results, the pair's ledger and report, the master's job
records, and the invariants of an upgraded pair read from the nodes themselves."""

import datetime
import json
import os
import signal
import subprocess
import time

from lxml import etree

from tests.support import REPO_ROOT

# The extension's execution modules: none may run on a node in its old (EL6) life.
EXTENSION_MODULES = {"pacemaker", "corosync", "dkms", "hostid", "iml", "node_backup"}
ORCH_TIMEOUT = 3000


def orchestrate(lab, pair="oss1", test=False, timeout=ORCH_TIMEOUT):
    """`salt-run state.orch orch.upgrade_pair pillar='{pair: oss1}'` (JSON out):
    (CompletedProcess, parsed output or None)."""
    args = ["--out=json", "state.orch", "orch.upgrade_pair", f"pillar={{pair: {pair}}}"]
    if test:
        args.append("test=True")
    result = lab.salt_run(*args, timeout=timeout)
    try:
        data = json.loads(result.stdout)
    except ValueError:
        data = None
    return result, data


def phase_results(data):
    """{phase id: state return} of an orchestration's output, in the order they ran."""
    found = {}

    def walk(node):
        if isinstance(node, dict):
            states = {k: v for k, v in node.items() if "_|-" in k and isinstance(v, dict)}
            if states:
                found.update(states)
                return
            for value in node.values():
                walk(value)

    walk(data)
    ordered = sorted(found.values(), key=lambda ret: ret.get("__run_num__", 0))
    return {ret["__id__"]: ret for ret in ordered}


def status(lab, pair="oss1"):
    got = lab.salt_run("--out=json", "lustre_upgrade.status", f"pair={pair}")
    assert got.returncode == 0, got.stdout + got.stderr
    return json.loads(got.stdout)


def cib_epochs(lab):
    """{minion: (admin_epoch, epoch)} of every node whose cluster answers: configuration
    changes raise them."""
    epochs = {}
    for node in lab.spec.nodes:
        got = lab.node_exec(node.minion, ["cibadmin", "--query", "--scope", "configuration"])
        if got.returncode != 0:
            continue
        full = lab.node_exec(node.minion, ["cibadmin", "--query"], check=True).stdout
        root = etree.fromstring(full.encode())
        epochs[node.minion] = (root.get("admin_epoch"), root.get("epoch"))
    return epochs


def _job_start(jid):
    return datetime.datetime.strptime(jid[:20], "%Y%m%d%H%M%S%f").timestamp()


def jobs_on(lab, minion):
    """The master's job records of jobs sent to `minion`: [{"jid", "fun", "start"}]."""
    got = lab.salt_run("--out=json", "jobs.list_jobs", timeout=300)
    assert got.returncode == 0, got.stdout + got.stderr
    jobs = []
    for jid, job in json.loads(got.stdout).items():
        target = job.get("Target")
        targets = target if isinstance(target, list) else [target]
        if minion in targets or (job.get("Target-type") == "glob" and target == "*"):
            jobs.append({"jid": jid, "fun": job.get("Function"), "start": _job_start(jid)})
    return sorted(jobs, key=lambda job: job["start"])


def assert_upgraded(lab, since):
    """The runbook's end state, read from the nodes: one new cluster of both FQDNs, every
    target once on its -primary node, original constraint ids, maintenance-mode off, no
    cli-* constraint, fencing attributes on both nodes; and no double service seen."""
    first = lab.spec.nodes[0]
    fqdns = sorted(n.fqdn for n in lab.spec.nodes)
    mon = lab.node_exec(first.minion, ["crm_mon", "-1", "--output-as=xml"], check=True).stdout
    mon_root = etree.fromstring(mon.encode())
    online = sorted(n.get("name") for n in mon_root.iter("node") if n.get("online") == "true")
    assert sorted(set(online)) == fqdns, online
    cib = lab.node_exec(first.minion, ["cibadmin", "--query"], check=True).stdout
    root = etree.fromstring(cib.encode())
    for target in lab.spec.targets:
        primary = lab.spec.node(str(target.primary)).fqdn
        (loc,) = root.xpath(f"//rsc_location[@id='{target.resource}-primary']")
        assert loc.get("node") == primary
        (rsc,) = [r for r in mon_root.iter("resource") if r.get("id") == target.resource]
        assert [n.get("name") for n in rsc.iter("node")] == [primary], etree.tostring(rsc)
    assert not root.xpath("//rsc_location[starts-with(@id, 'cli-')]")
    maintenance = root.xpath("//cluster_property_set/nvpair[@name='maintenance-mode']/@value")
    assert maintenance in ([], ["false"]), maintenance
    for fqdn in fqdns:
        attrs = root.xpath(f"//nodes/node[@uname='{fqdn}']//nvpair/@name")
        assert any(name.endswith("_fence_agent") for name in attrs), (fqdn, attrs)
    assert all(avail.double_service == [] for avail in lab.availability(since).values())
    assert lab.violations(since) == []


def ledger(lab, pair="oss1"):
    """The pair's ledger as the master keeps it (read directly: polled every 50 ms), or None."""
    path = lab.master.root / "cache" / "lustre_upgrade" / "runs" / f"{pair}.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def phase_status(data, name):
    if not data:
        return None
    return next(p["status"] for p in data["phases"] if p["name"] == name)


def salt_run_process(lab, args, log_path, stderr=subprocess.STDOUT):
    """`salt-run ARGS` in the master's context as a process of its own session (the test
    ends it by PID), its output into `log_path`."""
    with open(log_path, "ab") as out:
        return subprocess.Popen(  # noqa: S603 - fixed argv
            lab.master.cli_argv("salt-run", list(args)),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=stderr,
            env=lab.master.cli_env(),
            cwd=str(REPO_ROOT),
            start_new_session=True,
        )


def start_orchestration(lab, log_path, pair="oss1"):
    """The user's command, to be killed by the test."""
    args = ["state.orch", "orch.upgrade_pair", f"pillar={{pair: {pair}}}"]
    return salt_run_process(lab, args, log_path)


def kill_when(lab, proc, condition, timeout=900):
    """SIGKILL the orchestration `proc` (its whole session) as soon as `condition(ledger)`
    holds; returns the ledger seen then. Fails if the run ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = ledger(lab)
        if condition(seen):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return seen
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before the kill point")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    raise AssertionError("the kill point was not reached in time")


class EventWatch:
    """`salt-run state.event 'lustre/upgrade/*'` on the master while a test runs: the tags
    and data the run fires."""

    def __init__(self, lab, path):
        self.path = path
        args = ["state.event", "lustre/upgrade/*", "pretty=False"]
        self.proc = salt_run_process(lab, args, path, stderr=subprocess.DEVNULL)
        time.sleep(3)  # subscribed before the first event

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        events = []
        for line in self.path.read_text().splitlines():
            tag, _, data = line.partition("\t")
            if tag.startswith("lustre/upgrade/"):
                events.append((tag, json.loads(data) if data else {}))
        return events


def fence_password(lab):
    """The fence password the new cluster's node attributes hold (read on the node)."""
    cib = lab.node_exec(lab.spec.nodes[0].minion, ["cibadmin", "--query"], check=True).stdout
    values = etree.fromstring(cib.encode()).xpath(
        "//nvpair[contains(@name, '_fence_password')]/@value"
    )
    assert values, "no fence password in the new cluster's CIB"
    return values[0]


def master_files_holding(lab, secret):
    """The master's job cache and log files holding `secret` in clear."""
    found = []
    for top in (lab.master.root / "cache" / "jobs", lab.master.log):
        for path in top.rglob("*"):
            if path.is_file() and secret.encode() in path.read_bytes():
                found.append(str(path))
    return found
