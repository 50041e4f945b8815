"""`pip install .` (not editable) ships the modules, states, runners and the library they
import; Salt finds them with nothing synced."""

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

SALT_CALL = "import sys; from salt.scripts import salt_call; sys.argv[0] = 'salt-call'; salt_call()"
SALT_RUN = "import sys; from salt.scripts import salt_run; sys.argv[0] = 'salt-run'; salt_run()"


@pytest.fixture(scope="module")
def installed_venv(tmp_path_factory):
    """A fresh virtualenv with this project installed from a copy of the tracked tree.

    Its dependencies (salt, lxml, PyYAML) come from the test environment through a .pth
    file, so the test needs no network; the project itself is in no other environment.
    """
    root = tmp_path_factory.mktemp("pip-install")
    source = root / "source"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if (REPO_ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, source / name)

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-q",
            str(source),
        ],
        check=True,
        cwd=root,
    )
    return {"python": python, "site": Path(site), "root": root}


def _run_salt_script(venv, script, confdir, *args, exit_codes=(0,)):
    res = subprocess.run(
        [str(venv["python"]), "-c", script, "-c", str(confdir), "--out=json", *args],
        capture_output=True,
        text=True,
        cwd=venv["root"],
        check=False,
    )
    assert res.returncode in exit_codes, res.stderr
    return json.loads(res.stdout)


def _salt_run(venv, *args, exit_codes=(0,)):
    """salt-run in the venv against a master config with no master daemon: runners that
    only read the pillar and compute run in the salt-run process itself."""
    confdir = venv["root"] / "master-conf"
    root_dir = venv["root"] / "master-root"
    (root_dir / "var" / "cache" / "salt" / "master" / "proc").mkdir(parents=True, exist_ok=True)
    confdir.mkdir(exist_ok=True)
    (confdir / "master").write_text(f"root_dir: {root_dir}\nfile_roots: {{}}\n")
    return _run_salt_script(
        venv, SALT_RUN, confdir, "--log-level=quiet", *args, exit_codes=exit_codes
    )


def _salt_call_local(venv, *args):
    confdir = venv["root"] / "conf"
    confdir.mkdir(exist_ok=True)
    (confdir / "minion").write_text(
        f"id: pip-minion\nroot_dir: {venv['root'] / 'salt-root'}\nfile_client: local\n"
    )
    return _run_salt_script(venv, SALT_CALL, confdir, "--local", "--log-level=quiet", *args)[
        "local"
    ]


def test_the_wheel_ships_modules_states_runners_and_the_library(installed_venv):
    site = installed_venv["site"]
    package = site / "saltext_lustre_upgrade"
    for target, source in (
        (package / "modules", REPO_ROOT / "_modules"),
        (package / "states", REPO_ROOT / "_states"),
        (package / "runners", REPO_ROOT / "_runners"),
        (site / "lustre_upgrade_lib", REPO_ROOT / "_utils" / "lustre_upgrade_lib"),
    ):
        shipped = {p.name for p in target.glob("*.py")}
        expected = {p.name for p in source.glob("*.py")}
        assert expected and expected <= shipped, target


def test_salt_call_local_loads_the_modules_without_any_sync(installed_venv):
    expected = subprocess.run(["hostid"], capture_output=True, text=True, check=True)
    assert _salt_call_local(installed_venv, "hostid.current") == expected.stdout.strip()
    # pacemaker's pure work is the library's: the module answers only if it imported it.
    assert _salt_call_local(installed_venv, "pacemaker.dialect_of_version", "0.9.170") == "0.9"


def test_the_runner_loads_the_library_without_any_sync(installed_venv):
    # A preflight with inhibitors fails the run (exit 1) and still prints its report.
    report = _salt_run(installed_venv, "lustre_upgrade.preflight", "pair=oss1", exit_codes=(1,))
    assert report["ok"] is False
    assert report["inhibitors"] == [
        "pillar key lustre_upgrade is missing: see pillar.example/lustre_upgrade/init.sls"
    ]


def test_salt_call_local_loads_the_states_without_any_sync(installed_venv, tmp_path):
    states = _salt_call_local(installed_venv, "sys.list_state_modules")
    assert {"hostid", "pacemaker", "node_backup", "iml", "dkms"} <= set(states)
    target = tmp_path / "hostid"
    ret = _salt_call_local(
        installed_venv, "state.single", "hostid.persistent", f"name={target}", "test=True"
    )
    (state,) = ret.values()
    assert state["result"] is None
    assert not target.exists()
