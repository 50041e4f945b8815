"""`pip install .` (not editable) ships the modules; Salt finds them with nothing synced."""

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

SALT_CALL = "import sys; from salt.scripts import salt_call; sys.argv[0] = 'salt-call'; salt_call()"


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


def _salt_call_local(venv, *args):
    confdir = venv["root"] / "conf"
    confdir.mkdir(exist_ok=True)
    (confdir / "minion").write_text(
        f"id: pip-minion\nroot_dir: {venv['root'] / 'salt-root'}\nfile_client: local\n"
    )
    res = subprocess.run(
        [
            str(venv["python"]),
            "-c",
            SALT_CALL,
            "--local",
            "-c",
            str(confdir),
            "--out=json",
            "--log-level=quiet",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=venv["root"],
        check=False,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["local"]


def test_the_wheel_ships_modules_states_and_runners(installed_venv):
    package = installed_venv["site"] / "saltext_lustre_upgrade"
    for kind, source in (("modules", "_modules"), ("states", "_states"), ("runners", "_runners")):
        shipped = {p.name for p in (package / kind).glob("*.py")}
        expected = {p.name for p in (REPO_ROOT / source).glob("*.py")}
        assert expected and expected <= shipped, kind


def test_salt_call_local_loads_the_modules_without_any_sync(installed_venv):
    value = _salt_call_local(installed_venv, "hostid.current")
    assert len(value) == 8 and int(value, 16) >= 0


def test_salt_call_local_loads_the_states_without_any_sync(installed_venv, tmp_path):
    target = tmp_path / "hostid"
    ret = _salt_call_local(
        installed_venv, "state.single", "hostid.persistent", f"name={target}", "test=True"
    )
    (state,) = ret.values()
    assert state["result"] is None
    assert not target.exists()
