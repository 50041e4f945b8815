"""The nodes' Salt: like Salt's onedir package (/opt/saltstack/salt), Salt with its own
dependencies and nothing else -- no lxml, no extension, none of the test tools of the
venv the master runs from.

Built once per set of inputs (the node python's version, tests/constraints.txt, this file)
into the lab's cache: `python3 -m venv` from the nodes' own /usr/bin/python3, `pip install
salt` with the test suite's constraints, moved to its node path by rewriting the scripts'
interpreter lines. Nodes see it as a read-only layer of their /opt: whatever the product
installs there (the lab's python36-lxml RPM, Salt's pip) lands on the node's disk, and a
rebuild wipes it.

Two lab stand-ins ride along, as .pth files of its site-packages:
- `_lab_kernel`: os.uname() answers the kernel the lab booted (/run/lab/kernel-release),
  so Salt's kernelrelease grain is the node's, not the host's;
- `_lab_el6_python` (written onto the disk of a node in its EL6 life only, see cluster.py):
  an EL6 minion's Python cannot import modules written for Python 3, so every module synced
  to it (extmods) fails to import, as on a real EL6 minion.

Also built here: the files of the lab's python36-lxml RPM (lxml for this Salt's python).
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .config import REPO_ROOT

NODE_PYTHON = "/usr/bin/python3"
NODE_PREFIX = "/opt/saltstack/salt"
CONSTRAINTS = REPO_ROOT / "tests" / "constraints.txt"
BUILDER_VERSION = "1"

KERNEL_PTH = "import _lab_kernel\n"
KERNEL_MODULE = '''"""Lab stand-in: the kernel release a lab node runs is the kernel the lab booted (the
newest installed kernel package at power on, in /run/lab/kernel-release); the namespaces
share the host's kernel, whose uname(2) Python would report. Patches os.uname() of the
node's Salt (platform.uname() and Salt's kernelrelease grain follow)."""

import os

_host_uname = os.uname


def _lab_uname():
    result = _host_uname()
    try:
        with open("/run/lab/kernel-release", encoding="ascii") as handle:
            release = handle.read().strip()
    except OSError:
        return result
    if not release:
        return result
    return os.uname_result(
        (result.sysname, result.nodename, release, result.version, result.machine)
    )


os.uname = _lab_uname
'''

EL6_PTH = "import _lab_el6_python\n"
EL6_MODULE = '''"""Lab stand-in, on a node in its EL6 life only: the minion of an EL6 server runs Salt
on Python 2.6/2.7 and cannot import modules written for Python 3. Every module synced to
this minion (its extmods directory: saltutil.sync_*) fails to import the same way: Salt's
loader logs it and the module is missing. Salt's own modules load as usual."""

import importlib.machinery

_source_get_code = importlib.machinery.SourceFileLoader.get_code


def _el6_get_code(self, fullname):
    path = self.get_filename(fullname)
    if "/extmods/" in path:
        raise SyntaxError(
            f"{path}: this minion stands in for Salt on an EL6 server (Python 2.6): "
            "it cannot import modules written for Python 3"
        )
    return _source_get_code(self, fullname)


importlib.machinery.SourceFileLoader.get_code = _el6_get_code
'''


def python_version():
    out = subprocess.run(
        [NODE_PYTHON, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return out


def site_packages(version=None):
    major_minor = ".".join((version or python_version()).split(".")[:2])
    return f"{NODE_PREFIX}/lib/python{major_minor}/site-packages"


def cache_key(version):
    digest = hashlib.sha256(BUILDER_VERSION.encode())
    digest.update(version.encode())
    digest.update(CONSTRAINTS.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def ensure(cache_dir, log=print):
    """The cached build: {"root": dir whose opt/ is the nodes' /opt layer, "lxml": dir of
    lxml's files, "site_packages": node path, "version": python version}."""
    version = python_version()
    key = cache_key(version)
    final = Path(cache_dir) / f"node-salt-{key}"
    info = {
        "root": final / "root",
        "lxml": final / "lxml",
        "site_packages": site_packages(version),
        "version": version,
    }
    if (final / "complete").exists():
        return info
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    log(f"building the nodes' Salt into {final} (once per set of inputs, ~20 s)")
    work = Path(tempfile.mkdtemp(prefix=".node-salt-", dir=cache_dir))
    try:
        _build(work, version)
        (work / "complete").write_text(key + "\n")
        try:
            os.rename(work, final)
        except OSError:
            if not (final / "complete").exists():
                raise
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return info


def _pip(venv, *args):
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=1800,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"building the nodes' Salt: pip install {' '.join(args)} failed "
            f"(the lab needs the package index once, then its cache):\n{result.stderr[-3000:]}"
        )


def _build(work, version):
    venv = work / "root" / NODE_PREFIX.lstrip("/")
    venv.parent.mkdir(parents=True)
    subprocess.run([NODE_PYTHON, "-m", "venv", str(venv)], check=True, capture_output=True)
    _pip(venv, "-c", str(CONSTRAINTS), "salt")
    _pip(venv, "--target", str(work / "lxml"), "-c", str(CONSTRAINTS), "lxml")
    _relocate(venv, NODE_PREFIX)
    packages = venv / site_packages(version).removeprefix(NODE_PREFIX + "/")
    (packages / "_lab_kernel.py").write_text(KERNEL_MODULE)
    (packages / "_lab_kernel.pth").write_text(KERNEL_PTH)
    # pip's own cache of compiled files is no part of the package
    for cache in venv.rglob("__pycache__"):
        if "site-packages" not in str(cache):
            shutil.rmtree(cache, ignore_errors=True)


def _relocate(venv, prefix):
    """Rewrite the venv's absolute paths (script interpreter lines, activate scripts) from
    where it was built to where the nodes see it."""
    built = str(venv)
    for path in (venv / "bin").iterdir():
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if built.encode() in data:
            path.write_bytes(data.replace(built.encode(), prefix.encode()))
    cfg = venv / "pyvenv.cfg"
    cfg.write_text(cfg.read_text().replace(built, prefix))
