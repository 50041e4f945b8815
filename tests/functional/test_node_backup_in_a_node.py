"""Restore with root=/ for real, in a private mount namespace whose /etc, /root and
/var/lib are copy-on-write overlays: the node's files change, the host's never do."""

import json
import os
import subprocess
import sys

import pytest

from tests.support import REPO_ROOT, SERVER_FILES, make_tree, write_empty_cib

NODE_SCRIPT = r"""
set -eu
for d in etc root var/lib; do
    mkdir -p "$LAYERS/$d/upper" "$LAYERS/$d/work"
    mount -t overlay overlay \
        -o "lowerdir=/$d,upperdir=$LAYERS/$d/upper,workdir=$LAYERS/$d/work" "/$d"
done
exec "$PYTHON" -c "$SALT_CALL" --local -c "$CONF" --out=json --log-level=quiet \
    node_backup.restore "$BACKUP" sha256="$SHA256"
"""
SALT_CALL = "import sys; from salt.scripts import salt_call; sys.argv[0] = 'salt-call'; salt_call()"


@pytest.fixture
def backup(modules, tmp_path):
    root = make_tree(tmp_path / "node", SERVER_FILES)
    cib = write_empty_cib(tmp_path / "cib.xml")
    return modules.node_backup.create(
        "server", dest=str(tmp_path / "b"), push=False, root=str(root), cib_file=str(cib)
    )


def restore_in_node(tmp_path, backup_path, digest):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "minion").write_text(
        f"id: functional\nroot_dir: {tmp_path / 'salt-root'}\nfile_client: local\n"
        f"module_dirs: [{REPO_ROOT / '_modules'}]\n"
        # The library, as saltutil.sync_all places it (extmods/utils).
        f"utils_dirs: [{REPO_ROOT / '_utils'}]\n"
    )
    env = {
        "LAYERS": str(tmp_path / "layers"),
        "PYTHON": sys.executable,
        "SALT_CALL": SALT_CALL,
        "CONF": str(conf),
        "BACKUP": backup_path,
        "SHA256": digest,
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    }
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", NODE_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)["local"], tmp_path / "layers"


def test_restore_writes_the_nodes_etc_and_never_the_hosts(backup, tmp_path):
    host_files = {
        p: open(p, "rb").read() for p in ("/etc/hosts", "/etc/passwd", "/etc/resolv.conf")
    }
    host_ssh = sorted(os.listdir("/etc/ssh")) if os.path.isdir("/etc/ssh") else None
    ret, layers = restore_in_node(tmp_path, backup["path"], backup["sha256"])

    assert {"/etc/hosts", "/etc/sudoers", "/etc/ssh", "/var/lib/chroma"} <= set(ret["changed"])
    upper = layers / "etc" / "upper"
    assert (upper / "hosts").read_text() == SERVER_FILES["etc/hosts"][0]
    assert (upper / "hosts.inst").read_bytes() == host_files["/etc/hosts"]
    assert (layers / "var/lib/upper/chroma/private.pem").read_text() == "KEY\n"
    # The host's /etc/ssh is a lower directory of the overlay, which refuses to rename it
    # (EXDEV): it is copied aside whole instead.
    assert (upper / "ssh/sshd_config").read_text() == SERVER_FILES["etc/ssh/sshd_config"][0]
    if host_ssh is not None:
        assert sorted(os.listdir(upper / "ssh.inst")) == host_ssh
    assert not [name for name in os.listdir(upper) if name.startswith(".")]
    staged = layers / "root" / "upper" / ret["backup"]
    assert (staged / "etc/sysconfig/network-scripts/ifcfg-eth0").exists()
    for path, content in host_files.items():
        assert open(path, "rb").read() == content, f"the host's {path} changed"
