"""`labctl demo`: install what the lab needs, bring it up, upgrade its pair with the
product's orchestration (its progress, output and report), tear it down.

`--json`: the last thing on stdout is one JSON object, the product's report of the pair
(`lustre_upgrade.report`) with `violations` (double service seen by the prober + double
starts the Target agent refused, during the upgrade), `orchestration` (salt-run's exit
status and seconds) and `lab` (the lab's availability report over the upgrade). Exit
status 0 only when the orchestration succeeded, the report says completed and there was
no violation.

`demo manager`: bring the lab up with the manager node in its EL6 life (IML 2.4), count
the rows of its IML-shaped tables with psql, upgrade it with the product's
orch.upgrade_manager, count them again, read the schema version, check the manager's HTTPS
from a pair node with and without its client certificate, tear down. `--json`: the last
thing on stdout is one JSON object {completed, rows_before, rows_after, schema_version,
https_with_client_cert, https_without_cert_refused, orchestration, manager_report}.

The pair's demo starts with the manager upgraded (manager life "el7"): the pair's upgrade
needs an upgraded manager (orch.upgrade_pair's preflight checks it).

Standard library only until the venv exists: the demo may start on a bare Debian 12.
"""

import contextlib
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


def main(no_install=False, json_report=False, what=None):
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
            argv += [what] if what else []
            os.execv(str(python), argv + (["--json"] if json_report else []))
    if what == "manager":
        return run_manager_demo(json_report)
    return run_demo(json_report)


def run_demo(json_report=False):
    from .config import ConfigError
    from .lab import Lab, LabError

    started = time.monotonic()
    try:
        lab = Lab.up(overrides={"manager": {"life": "el7"}})
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


# ---------------------------------------------------------------- demo manager

CHROMA = "/var/lib/chroma"
MANAGER_REPO_FILE = "/repo/Manager-for-Lustre.repo"


def manager_command():
    return "salt-run state.orch orch.upgrade_manager"


def manager_rows(lab):
    """The total of rows over the manager's IML-shaped tables, counted with psql on the
    manager node (None when it cannot be read)."""
    from .manager import iml_lib

    tables = iml_lib().DATA_TABLES
    query = "SELECT " + " + ".join(f"(SELECT count(*) FROM {t})" for t in tables) + ";"
    result = lab.node_exec(
        lab.spec.manager_minion,
        ["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-d", "chroma", "-c", query],
        timeout=60,
    )
    if result.returncode != 0:
        say(f"rows: psql on {lab.spec.manager_minion}: {result.stderr.strip()}")
        return None
    return int(result.stdout.strip())


def manager_schema_version(lab):
    """The last applied chroma_core migration (Django's table, else South's), with psql."""
    query = (
        "SELECT CASE WHEN to_regclass('public.django_migrations') IS NOT NULL THEN "
        "(SELECT name FROM django_migrations WHERE app = 'chroma_core' ORDER BY id DESC "
        "LIMIT 1) ELSE (SELECT migration FROM south_migrationhistory WHERE app_name = "
        "'chroma_core' ORDER BY id DESC LIMIT 1) END;"
    )
    result = lab.node_exec(
        lab.spec.manager_minion,
        ["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-d", "chroma", "-c", query],
        timeout=60,
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


def manager_https(lab, with_certificate):
    """HTTP status of Manager-for-Lustre.repo fetched from the pair's first node (its IML
    client certificate, or the CA only); 0 when no HTTP answer came (TLS refused)."""
    node = lab.spec.nodes[0].minion
    options = ["--cacert", f"{CHROMA}/authority.crt"]
    if with_certificate:
        options += ["--cert", f"{CHROMA}/self.crt", "--key", f"{CHROMA}/private.pem"]
    result = lab.node_exec(
        node,
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "20",
            "--noproxy",
            "*",
            *options,
            f"https://{lab.spec.manager_fqdn}{MANAGER_REPO_FILE}",
        ],
        timeout=60,
    )
    code = result.stdout.strip()
    return int(code) if code.isdigit() else 0


def manager_report(lab):
    """`salt-run --out=json lustre_manager.report` (a dict), or None when it does not answer."""
    try:
        result = lab.salt_run("--out=json", "lustre_manager.report", timeout=120)
        report = json.loads(result.stdout)
    except Exception:  # noqa: BLE001 - the demo's own checks still stand
        return None
    return report if isinstance(report, dict) else None


def run_manager_demo(json_report=False):
    from .config import ConfigError
    from .lab import Lab, LabError

    started = time.monotonic()
    document = {
        "completed": False,
        "rows_before": None,
        "rows_after": None,
        "schema_version": None,
        "https_with_client_cert": False,
        "https_without_cert_refused": False,
    }
    try:
        lab = Lab.up(overrides={"manager": {"life": "el6"}})
    except (ConfigError, LabError) as exc:
        cannot = "the lab cannot start:\n" if isinstance(exc, ConfigError) else ""
        print(f"labctl demo manager: {cannot}{exc}", file=sys.stderr)
        if json_report:
            say("report")
            print(json.dumps({**document, "error": f"{cannot}{exc}"}, indent=2))
        return 2 if isinstance(exc, ConfigError) else 1
    code = 1
    try:
        status = lab.status()
        say(
            f"lab run {lab.run_id} up in {time.monotonic() - started:.1f} s, "
            f"{status['memory_mib']} MiB: the IML 2.4 manager {lab.spec.manager_fqdn} "
            f"(minion {lab.spec.manager_minion}, EL6) and pair {lab.spec.pair}"
        )
        document["rows_before"] = manager_rows(lab)
        say(f"manager health before: {json.dumps(lab.manager_health()[1])}")
        say(f"rows before: {document['rows_before']}")
        say(f"upgrading the manager: lab/labctl {manager_command()}")
        began = time.monotonic()
        try:
            result = lab.salt_run("state.orch", "orch.upgrade_manager", timeout=UPGRADE_TIMEOUT)
            retcode = result.returncode
            print(result.stdout, end="" if result.stdout.endswith("\n") else "\n", flush=True)
            if result.stderr:
                print(result.stderr, end="", file=sys.stderr, flush=True)
        except Exception as exc:  # noqa: BLE001 - reported in the document
            retcode = None
            document["error"] = f"orch.upgrade_manager: {exc}"
        seconds = round(time.monotonic() - began, 1)
        document["orchestration"] = {"retcode": retcode, "seconds": seconds}
        say(f"orchestration: salt-run exit {retcode} after {seconds} s")
        with contextlib.suppress(Exception):
            lab.wait_manager(timeout=60)
        document["rows_after"] = manager_rows(lab)
        document["schema_version"] = manager_schema_version(lab)
        with_cert = manager_https(lab, with_certificate=True)
        without = manager_https(lab, with_certificate=False)
        document["https_with_client_cert"] = with_cert == 200
        document["https_without_cert_refused"] = without in (0, 403)
        document["https_status"] = {"with_client_cert": with_cert, "without_cert": without}
        report = manager_report(lab)
        if report is not None:
            document["manager_report"] = report
        document["completed"] = bool(
            retcode == 0 and (report is None or report.get("completed") is True)
        )
        say(
            f"rows after: {document['rows_after']}, schema {document['schema_version']}, "
            f"https with client certificate {with_cert}, without {without or 'refused'}"
        )
        ok = (
            document["completed"]
            and document["rows_before"] is not None
            and document["rows_after"] == document["rows_before"]
            and document["https_with_client_cert"]
            and document["https_without_cert_refused"]
        )
        say(f"upgrade of the manager: {'completed' if ok else 'FAILED'}")
        code = 0 if ok else 1
    except Exception as exc:  # noqa: BLE001 - the demo reports and still tears down
        print(f"labctl demo manager: {exc}", file=sys.stderr)
        document.setdefault("error", str(exc))
        code = 1
    finally:
        say("tearing the lab down")
        try:
            lab.teardown()
        except Exception as exc:  # noqa: BLE001 - reported, and the demo fails
            print(f"labctl demo manager: teardown: {exc}", file=sys.stderr)
            code = 1
    if json_report:
        say("report")
        print(json.dumps(document, indent=2, default=str), flush=True)
    return code
