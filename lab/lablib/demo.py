"""`labctl demo`: install what the lab needs, bring it up, upgrade its pair with the
product's orchestration (its progress, output and report), tear it down.

`--json`: the last thing on stdout is one JSON object, the product's report of the pair
(`lustre_upgrade.report`) with `violations` (double service seen by the prober + double
starts the Target agent refused, during the upgrade), `orchestration` (salt-run's exit
status and seconds) and `lab` (the lab's availability report over the upgrade). Exit
status 0 only when the orchestration succeeded, the report says completed and there was
no violation.

Standard library only until the venv exists: the demo may start on a bare Debian 12.
"""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from .config import LAB_DIR, REPO_ROOT, load_settings, resolve_venv
from .preflight import DEBIAN_PACKAGES, check_privileges, installed_packages

EXTRA_DEBIAN = ("python3-venv",)
# The upgrade the demo runs, and how often it asks for its progress (seconds).
UPGRADE_TIMEOUT = 3600
POLL_SECONDS = 5.0


def say(message):
    print(f"== {message}", flush=True)


def install(venv):
    wanted = DEBIAN_PACKAGES + EXTRA_DEBIAN
    missing = [name for name, ok in installed_packages(wanted).items() if not ok]
    if missing:
        say(f"installing Debian packages: {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            check=True,
            env=env,
        )
    else:
        say("Debian packages: all present")
    python = Path(venv) / "bin" / "python"
    if not python.exists():
        say(f"creating the venv {venv}")
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    requirements = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "tests" / "requirements_from_setup_cfg.py"),
            str(REPO_ROOT / "setup.cfg"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not (Path(venv) / "bin" / "salt-master").exists():
        say("installing Salt into the venv (a few minutes the first time)")
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-c",
                str(REPO_ROOT / "tests" / "constraints.txt"),
                *requirements,
            ],
            check=True,
        )
    else:
        say(f"venv {venv}: Salt present")
    return python


def main(no_install=False, json_report=False):
    problems = check_privileges()
    if problems:
        print("labctl demo: " + "\n".join(problems), file=sys.stderr)
        return 2
    _, settings = load_settings()
    venv = resolve_venv(settings.get("lab", {}).get("venv", ""))
    if not no_install:
        python = install(venv)
        try:
            import yaml  # noqa: F401
        except ImportError:
            # Go on in the venv's python (it has PyYAML and Salt).
            argv = [str(python), str(LAB_DIR / "labctl"), "demo", "--no-install"]
            os.execv(str(python), argv + (["--json"] if json_report else []))
    return run_demo(json_report)


def run_demo(json_report=False):
    from .config import ConfigError
    from .lab import Lab, LabError

    started = time.monotonic()
    try:
        lab = Lab.up()
    except (ConfigError, LabError) as exc:
        cannot = "the lab cannot start:\n" if isinstance(exc, ConfigError) else ""
        print(f"labctl demo: {cannot}{exc}", file=sys.stderr)
        if json_report:
            say("report")
            print(json.dumps({"completed": False, "error": f"{cannot}{exc}"}, indent=2))
        return 2 if isinstance(exc, ConfigError) else 1
    pair = lab.spec.pair
    document = {"pair": pair, "completed": False}
    code = 1
    try:
        status = lab.status()
        say(
            f"lab run {lab.run_id} up in {time.monotonic() - started:.1f} s, "
            f"{status['memory_mib']} MiB: pair {pair}, an EL6-style IML pair "
            f"({', '.join(n.old_name for n in lab.spec.nodes)}) with its targets served and "
            "watched by the prober"
        )
        show(lab)
        code = upgrade(lab, pair, document)
        say("after the upgrade")
        show(lab)
    except Exception as exc:  # noqa: BLE001 - the demo reports and still tears down
        print(f"labctl demo: {exc}", file=sys.stderr)
        document.setdefault("error", str(exc))
        code = 1
    finally:
        say("tearing the lab down")
        try:
            lab.teardown()
        except Exception as exc:  # noqa: BLE001 - reported, and the demo fails
            print(f"labctl demo: teardown: {exc}", file=sys.stderr)
            code = 1
    if json_report:
        # The last thing on stdout: one JSON object.
        say("report")
        print(json.dumps(document, indent=2, default=str), flush=True)
    return code


def show(lab):
    """The cluster as its first node sees it, and the nodes' OS and kernel."""
    first = lab.spec.nodes[0].minion
    try:
        print(lab.node_exec(first, ["pcs", "status"]).stdout, flush=True)
    except Exception as exc:  # noqa: BLE001 - a node may be off: show the rest
        print(f"({first}: pcs status: {exc})", flush=True)
    try:
        grains = lab.salt("*", "grains.item", "os", "osmajorrelease", "kernelrelease")
        print(grains.stdout, flush=True)
    except Exception as exc:  # noqa: BLE001 - what is shown never decides the outcome
        print(f"(grains: {exc})", flush=True)


def upgrade(lab, pair, document):
    """Run the product's orchestration on `pair` in the master's context, showing its
    progress; then its output and report. Fills `document` (the product's JSON report,
    `violations`, `orchestration`, `lab`) and returns the demo's exit code."""
    since = time.time()
    say(f"upgrading pair {pair}: lab/labctl {upgrade_command(pair)}")
    outcome = {}

    def orchestrate():
        try:
            outcome["result"] = lab.salt_run(
                "state.orch",
                "orch.upgrade_pair",
                f"pillar={{pair: {pair}}}",
                timeout=UPGRADE_TIMEOUT,
            )
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            outcome["error"] = exc

    began = time.monotonic()
    thread = threading.Thread(target=orchestrate, name="orch.upgrade_pair", daemon=True)
    thread.start()
    last = None
    while True:
        thread.join(POLL_SECONDS)
        line = progress_line(upgrade_status(lab, pair))
        if line is not None and line != last:
            say(f"[{time.monotonic() - began:5.1f} s] {line}")
            last = line
        if not thread.is_alive():
            break
    seconds = round(time.monotonic() - began, 1)

    result = outcome.get("result")
    retcode = result.returncode if result is not None else None
    if result is None:
        say(f"orchestration: salt-run did not finish: {outcome.get('error')}")
    else:
        say(f"orchestration: salt-run exit {retcode} after {seconds} s")
        print(result.stdout, end="" if result.stdout.endswith("\n") else "\n", flush=True)
        if result.stderr:
            print(result.stderr, end="", file=sys.stderr, flush=True)

    say(f"upgrade report, pair {pair}")
    try:
        text = lab.salt_run("lustre_upgrade.report", f"pair={pair}")
        print(text.stdout + text.stderr, flush=True)
    except Exception as exc:  # noqa: BLE001 - the JSON report below says what it can
        print(f"(lustre_upgrade.report: {exc})", flush=True)
    document.update(upgrade_report(lab, pair))
    document["orchestration"] = {"retcode": retcode, "seconds": seconds}

    availability = lab.availability(since)
    double_service = sum(len(a.double_service) for a in availability.values())
    refused = len(lab.violations(since))
    document["violations"] = double_service + refused
    document["lab"] = lab.report(since)
    say(
        f"violations: {document['violations']} (double service {double_service}, refused "
        f"double starts {refused}); outages {document['lab']['outages']}"
    )
    ok = retcode == 0 and document.get("completed") is True and document["violations"] == 0
    say(f"upgrade of pair {pair}: {'completed' if ok else 'FAILED'}")
    return 0 if ok else 1


def upgrade_command(pair):
    return f"salt-run state.orch orch.upgrade_pair pillar='{{pair: {pair}}}'"


def upgrade_status(lab, pair):
    """lustre_upgrade.status of the pair (a dict), or None when it does not answer JSON."""
    try:
        result = lab.salt_run("--out=json", "lustre_upgrade.status", f"pair={pair}", timeout=60)
        status = json.loads(result.stdout)
    except Exception:  # noqa: BLE001 - a tick without a status is skipped
        return None
    return status if isinstance(status, dict) else None


def progress_line(status):
    """One line for a status of lustre_upgrade.status: the current phase (title, node,
    status), else how the run stands; None when there is nothing to say yet."""
    if not status or not status.get("started"):
        return None
    phases = [p for p in status.get("phases") or [] if isinstance(p, dict)]
    current = status.get("current")
    if isinstance(current, dict):
        title = current.get("title") or current.get("name") or "?"
        node = f" ({current['node']})" if current.get("node") else ""
        line = f"{title}{node}: {current.get('status') or '?'}"
        detail = next(
            (p.get("detail") for p in phases if p.get("name") == current.get("name")), None
        )
        if current.get("status") in ("failed", "waiting") and isinstance(detail, str) and detail:
            line += f" -- {detail if len(detail) <= 120 else detail[:117] + '...'}"
        return line
    if status.get("completed"):
        return "completed"
    touched = [p for p in phases if p.get("status") not in (None, "pending")]
    if touched:
        phase = touched[-1]
        return f"{phase.get('title') or phase.get('name') or '?'}: {phase.get('status')}"
    return "started"


def upgrade_report(lab, pair):
    """The product's JSON report of the pair (a dict), or a stand-in naming what failed."""
    try:
        result = lab.salt_run("--out=json", "lustre_upgrade.report", f"pair={pair}")
    except Exception as exc:  # noqa: BLE001 - named in the stand-in
        error = str(exc)
    else:
        try:
            report = json.loads(result.stdout)
        except ValueError:
            report = None
        if isinstance(report, dict):
            return report
        error = f"exit {result.returncode}: {(result.stdout + result.stderr).strip()}"
    return {
        "pair": pair,
        "completed": False,
        "phases": [],
        "targets": {},
        "error": f"lustre_upgrade.report: {error}",
    }
