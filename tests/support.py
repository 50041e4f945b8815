"""Paths and helpers shared by the test layers (fixtures are in conftest.py)."""

import os
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Real artifacts from EL6/EL7 clusters live beside the repository in CI and in
# development checkouts, never in a user's clone.
REAL_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures" / "real"
SUITE_FIXTURES = REPO_ROOT / "tests" / "fixtures"


def write_empty_cib(path):
    """An empty CIB made by the real cibadmin, for backups taken without a cluster."""
    with open(path, "w") as fh:
        subprocess.run(["cibadmin", "--empty"], stdout=fh, check=True)
    return path


def real_fixture_params(*relative_paths):
    """pytest.param per artifact, each skipped with a reason where ../shared is absent."""
    params = []
    for rel in relative_paths:
        marks = ()
        if not (REAL_FIXTURES / rel).exists():
            marks = pytest.mark.skip(reason=f"real artifact {rel} not present at {REAL_FIXTURES}")
        params.append(pytest.param(REAL_FIXTURES / rel, id=rel, marks=marks))
    return params


# A Lustre server's configuration as the runbook backs it up (paths relative to /).
SERVER_FILES = {
    "etc/hosts": ("127.0.0.1 localhost\n10.0.10.1 oss1-a\n10.0.10.2 oss1-b\n", 0o644),
    "etc/resolv.conf": ("nameserver 10.0.0.53\n", 0o644),
    "etc/nsswitch.conf": ("hosts: files dns\n", 0o644),
    "etc/passwd": (
        "root:x:0:0:root:/root:/bin/bash\nhacluster:x:189:189::/home/hacluster:/sbin/nologin\n",
        0o644,
    ),
    "etc/group": ("root:x:0:\nhaclient:x:189:\n", 0o644),
    "etc/shadow": ("root:$6$salt$hash:17000:0:99999:7:::\n", 0o000),
    "etc/gshadow": ("root:::\n", 0o000),
    "etc/sudoers": ("root ALL=(ALL) ALL\n", 0o440),
    "etc/ntp.conf": ("server ntp.lfs.example iburst\n", 0o644),
    "etc/yum.conf": ("[main]\n", 0o644),
    "etc/yum.repos.d/CentOS-Base.repo": ("[base]\n", 0o644),
    "etc/sysconfig/network": ("NETWORKING=yes\nHOSTNAME=oss1-a\n", 0o644),
    "etc/sysconfig/network-scripts/ifcfg-eth0": ("DEVICE=eth0\nIPADDR=10.0.10.1\n", 0o644),
    "etc/sysconfig/network-scripts/ifcfg-eth1": ("DEVICE=eth1\nIPADDR=10.0.20.1\n", 0o644),
    "etc/sysconfig/network-scripts/ifup": ("#!/bin/sh\n", 0o755),
    "etc/modprobe.d/iml_lnet_module_parameters.conf": ("options lnet networks=tcp0(eth0)\n", 0o644),
    "etc/corosync/corosync.conf": ("totem {\n  version: 2\n}\n", 0o644),
    "etc/ssh/sshd_config": ("PermitRootLogin yes\n", 0o600),
    "etc/ssh/ssh_host_rsa_key": ("-----BEGIN RSA PRIVATE KEY-----\nold-host-key\n", 0o600),
    "root/.ssh/authorized_keys": ("ssh-rsa AAAA admin\n", 0o600),
    "var/lib/chroma/authority.crt": ("CA\n", 0o644),
    "var/lib/chroma/self.crt": ("CERT\n", 0o644),
    "var/lib/chroma/private.pem": ("KEY\n", 0o600),
    "var/lib/chroma/targets/9aaf3d9d": ('{"bdev": "/dev/sdb", "mntpt": "/mnt/MGS"}', 0o644),
}


def make_tree(root, files):
    for rel, (text, mode) in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.chmod(path, mode)
    return root


def minion_key_pair(directory):
    """A throwaway minion key pair (minion.pem, minion.pub) in ``directory``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (directory / "minion.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    (directory / "minion.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return directory
