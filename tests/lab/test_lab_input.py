"""Bad lab input stops `labctl up` with a clear message before anything is created."""

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.support import REPO_ROOT

LABCTL = REPO_ROOT / "lab" / "labctl"
LAB_PILLAR = REPO_ROOT / "lab" / "pillar"
LAB_SETTINGS = REPO_ROOT / "lab" / "lab.toml"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="checks `labctl up` as root")


def _netns():
    return sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []


@pytest.fixture
def pillar(tmp_path):
    """A copy of the lab pillar to break; returns (dir, editor)."""
    target = tmp_path / "pillar"
    shutil.copytree(LAB_PILLAR, target)
    init = target / "lustre_upgrade" / "init.sls"

    def edit(change):
        data = yaml.safe_load(init.read_text())
        change(data["lustre_upgrade"]["pairs"]["oss1"]["nodes"])
        init.write_text(yaml.safe_dump(data))

    return target, edit


def _labctl_up(tmp_path, *args, user=None):
    run_base = tmp_path / "runs"
    env = dict(
        os.environ,
        LAB_RUN_BASE=str(run_base),
        LUSTRE_UPGRADE_VENV=os.environ.get("LUSTRE_UPGRADE_VENV", sys.prefix),
    )
    argv = [sys.executable, str(LABCTL), "up", *args]
    if user is not None:
        # The system's python: the venv's interpreter may live where the user cannot go.
        argv = [
            "setpriv",
            f"--reuid={user}",
            f"--regid={user}",
            "--clear-groups",
            "/usr/bin/python3",
            str(LABCTL),
            "up",
            *args,
        ]
    before = _netns()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
    # Nothing was created: no run directory, no namespace.
    assert not run_base.exists() or not any(run_base.iterdir())
    assert _netns() == before
    return result


@needs_root
@pytest.mark.lab
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            lambda nodes: nodes[1].update(minion=nodes[0]["minion"]),
            "duplicate minion 'oss1-a'",
            id="duplicate-minion-id",
        ),
        pytest.param(
            lambda nodes: nodes[1].update(old_name=nodes[0]["old_name"]),
            "duplicate old_name 'oss1-a'",
            id="duplicate-old-name",
        ),
        pytest.param(
            lambda nodes: nodes[1].update(old_name="OSS1-B"),
            "'OSS1-B' has uppercase letters",
            id="uppercase-node-name",
        ),
        pytest.param(
            lambda nodes: nodes[1].update(minion="oss1_b"),
            "'oss1_b' is not a valid host name",
            id="invalid-characters",
        ),
        pytest.param(
            lambda nodes: nodes[1].update(fqdn="oss1-b"),
            "'oss1-b' is not fully qualified",
            id="short-fqdn",
        ),
        pytest.param(lambda nodes: nodes.pop(), "exactly 2 nodes, found 1", id="one-node"),
        pytest.param(
            lambda nodes: nodes[1].update(rings=["8.8.8.8", "10.213.1.2"]),
            "is not a private address",
            id="public-ring-address",
        ),
    ],
)
def test_bad_lab_pillar_is_refused_before_anything_is_created(tmp_path, pillar, change, expected):
    pillar_dir, edit = pillar
    edit(change)

    result = _labctl_up(tmp_path, "--pillar", str(pillar_dir))

    assert result.returncode == 2
    assert "the lab cannot start" in result.stderr
    assert expected in result.stderr
    assert "lustre_upgrade:pairs:oss1:nodes" in result.stderr  # names the pillar key


@needs_root
@pytest.mark.lab
def test_missing_debian_package_is_named_with_the_command_that_installs_it(tmp_path):
    settings = tmp_path / "lab.toml"
    settings.write_text(
        LAB_SETTINGS.read_text().replace(
            "[lab]\n", '[lab]\nextra_packages = ["lab-no-such-package"]\n', 1
        )
    )

    result = _labctl_up(tmp_path, "--settings", str(settings))

    assert result.returncode == 2
    assert "Debian packages not installed: lab-no-such-package" in result.stderr
    assert "apt-get install lab-no-such-package" in result.stderr


@needs_root
@pytest.mark.lab
def test_without_root_the_lab_says_so_and_creates_nothing(tmp_path):
    tmp_path.chmod(0o777)

    result = _labctl_up(tmp_path, user=65534)

    assert result.returncode == 2
    assert "the lab needs root" in result.stderr


@needs_root
@pytest.mark.lab
def test_bad_manager_input_is_refused_with_every_finding(tmp_path, pillar):
    pillar_dir, _edit = pillar
    init = pillar_dir / "lustre_upgrade" / "init.sls"
    data = yaml.safe_load(init.read_text())
    data["lustre_upgrade"]["manager"]["minion"] = "oss1-a"  # a pair node's id
    init.write_text(yaml.safe_dump(data))
    settings = tmp_path / "lab.toml"
    text = LAB_SETTINGS.read_text()
    text = text.replace('address = "10.213.0.10"', 'address = "10.213.5.10"', 1)
    settings.write_text(
        text.replace("[manager]\n", '[manager]\nlife = "el8"\n', 1).replace(
            'life = "el6"\n\n[old_cluster]', "\n[old_cluster]", 1
        )
    )

    result = _labctl_up(tmp_path, "--pillar", str(pillar_dir), "--settings", str(settings))

    assert result.returncode == 2
    assert "[manager] life = 'el8'" in result.stderr
    assert "[manager] address = '10.213.5.10': give a host address of ring 0's" in result.stderr
    assert "lustre_upgrade:manager: 'oss1-a'" in result.stderr
    assert "the manager needs its own minion id and FQDN" in result.stderr
