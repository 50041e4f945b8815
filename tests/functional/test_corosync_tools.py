"""The corosync module in Salt's loader, on files written by the real pcs and with the real
corosync-cfgtool."""

import shutil
import subprocess

import pytest
from salt.exceptions import CommandExecutionError

pytestmark = pytest.mark.skipif(
    not (shutil.which("pcs") and shutil.which("corosync-cfgtool")),
    reason="needs Debian packages pcs and corosync",
)


def test_read_conf_reads_what_pcs_cluster_setup_writes(modules, tmp_path):
    out = tmp_path / "corosync.conf"
    subprocess.run(
        [
            "pcs",
            "cluster",
            "setup",
            "lab",
            "a.example",
            "addr=10.0.0.1",
            "addr=10.1.0.1",
            "b.example",
            "addr=10.0.0.2",
            "addr=10.1.0.2",
            "transport",
            "knet",
            "--corosync_conf",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    got = modules.corosync.read_conf(str(out))
    assert got["generation"] == "3.x"
    assert got["totem"]["cluster_name"] == "lab"
    assert [(n["name"], n["ring0_addr"], n["ring1_addr"], n["nodeid"]) for n in got["nodes"]] == [
        ("a.example", "10.0.0.1", "10.1.0.1", "1"),
        ("b.example", "10.0.0.2", "10.1.0.2", "2"),
    ]


def test_ring_status_without_a_running_corosync_is_a_clear_error(modules):
    probe = subprocess.run(["corosync-cfgtool", "-s"], capture_output=True, check=False)
    if probe.returncode == 0:
        pytest.skip("corosync runs on this host")
    with pytest.raises(CommandExecutionError, match="is corosync running"):
        modules.corosync.ring_status()
