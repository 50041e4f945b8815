#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian 12 machine (as root) and run it:
# Debian packages, a virtualenv with this extension's dependencies, the linters, pytest.
# Extra arguments go to pytest (e.g. `bash tests/run.sh tests/unit -x`, `--run-slow`).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
venv=${LUSTRE_UPGRADE_VENV:-$repo/.venv}

if [[ $(id -u) -ne 0 ]]; then
    echo "tests/run.sh: run as root (it installs Debian packages and the lab needs namespaces)" >&2
    exit 2
fi

apt_packages=(
    python3-venv python3-dev gcc
    pacemaker pacemaker-cli-utils corosync pcs resource-agents fence-agents
    rpm dnf createrepo-c dnf-plugins-core
    postgresql iproute2 util-linux procps psmisc openssl openssh-client
)
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "== installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [[ ! -x $venv/bin/python ]]; then
    echo "== creating $venv"
    "$python" -m venv "$venv"
fi
# The extension itself is deliberately not installed here: tests prove that minions get its
# modules from the master (saltutil.sync_all) and, separately, from a real `pip install .`.
echo "== installing Python dependencies (setup.cfg: install_requires + tests extra)"
mapfile -t requirements < <("$venv/bin/python" tests/requirements_from_setup_cfg.py setup.cfg tests)
"$venv/bin/pip" install -q --disable-pip-version-check -c tests/constraints.txt "${requirements[@]}"

echo "== salt-lint"
mapfile -t sls_files < <(git ls-files -co --exclude-standard -- '*.sls' 2>/dev/null || find . -name '*.sls' -not -path './.venv/*')
if ((${#sls_files[@]})); then
    "$venv/bin/salt-lint" "${sls_files[@]}"
fi

echo "== ruff"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .

echo "== pytest"
set +e
"$venv/bin/python" -m pytest "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
    echo "tests/run.sh: pytest collected no test: that is a failure" >&2
    exit 1
fi
exit $status
