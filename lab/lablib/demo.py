"""`labctl demo`: install what the lab needs, bring it up, show it, tear it down.

Standard library only until the venv exists: the demo may start on a bare Debian 12.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .config import LAB_DIR, REPO_ROOT, load_settings, resolve_venv
from .preflight import DEBIAN_PACKAGES, check_privileges, installed_packages

EXTRA_DEBIAN = ("python3-venv",)
UPGRADE = "salt-run state.orch orch.upgrade_pair pillar='{pair: oss1}'"


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
    except ConfigError as exc:
        print(f"labctl demo: the lab cannot start:\n{exc}", file=sys.stderr)
        return 2
    except LabError as exc:
        print(f"labctl demo: {exc}", file=sys.stderr)
        return 1
    try:
        status = lab.status()
        say(
            f"lab run {lab.run_id} up in {time.monotonic() - started:.1f} s, "
            f"{status['memory_mib']} MiB"
        )
        first = lab.spec.nodes[0].minion
        print(lab.node_exec(first, ["pcs", "status"]).stdout)
        print(lab.salt("*", "grains.item", "os", "osmajorrelease", "kernelrelease").stdout)
        orch = REPO_ROOT / "orch" / "upgrade_pair.sls"
        say("next")
        print(
            f"The lab is an EL6-style IML pair ({', '.join(n.old_name for n in lab.spec.nodes)})"
            " with its targets served and watched by the prober.\n"
            f"To upgrade it, keep a lab up (`lab/labctl up`) and run, in the master's context:\n"
            f"    lab/labctl {UPGRADE}\n"
            + ("" if orch.exists() else f"({orch.relative_to(REPO_ROOT)} does not exist yet.)\n")
            + "then `lab/labctl status`, and `lab/labctl down` to remove the lab."
        )
        if json_report:
            say("report")
            print(json.dumps(lab.report(), indent=2), flush=True)
        return 0
    except Exception as exc:  # noqa: BLE001 - the demo reports and still tears down
        print(f"labctl demo: {exc}", file=sys.stderr)
        return 1
    finally:
        say("tearing the lab down")
        lab.teardown()
