"""The lab's commands, exactly as lab/README.md shows them, on a fresh `lab/labctl up`: each
one succeeds without a traceback. `up` leaves the master ready for them (its runners
synced, as the README's install step has an admin do); the minions are not synced by the
lab (that is the product's job)."""

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

pytestmark = pytest.mark.lab

LAB_README = REPO_ROOT / "lab" / "README.md"
# Each command line of the README's first code block, and what the test runs for it
# (alternatives `a|b` run one after the other; a placeholder is left out).
COMMANDS = {
    "lab/labctl demo [--json]": [["demo", "--no-install", "--json"]],
    "lab/labctl demo manager [--json]": [["demo", "manager", "--no-install", "--json"]],
    "lab/labctl up": [["up"]],
    "lab/labctl status": [["status"]],
    "lab/labctl exec oss1-a -- pcs status": [["exec", "oss1-a", "--", "pcs", "status"]],
    "lab/labctl salt '*' test.ping": [["salt", "*", "test.ping"]],
    "lab/labctl salt-key -L": [["salt-key", "-L"]],
    "lab/labctl salt-run state.orch orch.upgrade_manager": [
        ["salt-run", "state.orch", "orch.upgrade_manager"]
    ],
    "lab/labctl salt-run state.orch orch.upgrade_pair pillar='{pair: oss1}'": [
        ["salt-run", "state.orch", "orch.upgrade_pair", "pillar={pair: oss1}"]
    ],
    "lab/labctl power oss1-b off|on|shutdown|reboot|status": [
        ["power", "oss1-b", action] for action in ("off", "on", "shutdown", "reboot", "status")
    ],
    "lab/labctl rebuild oss1-a": [["rebuild", "oss1-a"]],
    "lab/labctl report [--json]": [["report"], ["report", "--json"]],
    "lab/labctl logs [DIR]": [["logs"]],
    "lab/labctl down": [["down"]],
}


def readme_commands():
    text = LAB_README.read_text()
    block = re.search(r"```\n(.*?)```", text, re.S).group(1)
    lines = []
    for line in block.splitlines():
        command = line.split("#", 1)[0].strip()
        if command.startswith("lab/labctl"):
            lines.append(" ".join(shlex.split(command, posix=False)))
    return lines


def labctl(run_base, *args, timeout=600):
    env = dict(
        os.environ,
        LAB_RUN_BASE=str(run_base),
        LUSTRE_UPGRADE_VENV=os.environ.get("LUSTRE_UPGRADE_VENV", sys.prefix),
    )
    env.pop("LAB_RUN", None)
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "lab" / "labctl"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
        cwd=REPO_ROOT,
    )


def test_the_readme_lists_the_commands_this_test_runs():
    assert readme_commands() == list(COMMANDS)


def test_every_command_of_the_readme_works_on_a_fresh_lab(lab_session):
    lab_session.discard()  # one lab at a time: this test brings up its own
    base = Path(tempfile.mkdtemp(prefix="lurd", dir="/tmp"))
    ran = []
    try:
        for line in readme_commands():
            for argv in COMMANDS[line]:
                result = labctl(base, *argv)
                ran.append(argv)
                output = result.stdout + result.stderr
                assert result.returncode == 0, f"{line}: {argv}\n{output}"
                assert "Traceback" not in output, f"{line}: {argv}\n{output}"
                if argv[0] == "demo":
                    text = result.stdout.split("\n== report\n", 1)[1]
                    report, _ = json.JSONDecoder().raw_decode(text)
                    assert report["completed"] is True, report
                    if argv[1] == "manager":
                        assert report["rows_after"] == report["rows_before"] > 0, report
                        assert report["schema_version"].startswith("0004_"), report
                        assert report["https_with_client_cert"] is True, report
                        assert report["https_without_cert_refused"] is True, report
                    else:
                        assert set(report["targets"]) and report["violations"] == 0, report
                if argv[0] == "salt-key":
                    assert "oss1-a" in result.stdout and "oss1-b" in result.stdout
                if argv[0] == "salt-run":
                    assert "Succeeded:" in result.stdout
                    assert re.search(r"^Failed:\s+0$", result.stdout, re.M), result.stdout
    finally:
        from lablib.lab import teardown_run
        from lablib.state import list_runs

        for run_dir in list_runs(base):
            teardown_run(run_dir)
        subprocess.run(["rm", "-rf", str(base)], check=False)
    assert ran[-1] == ["down"]
