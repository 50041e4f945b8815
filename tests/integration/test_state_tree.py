"""The state tree (``salt/``) on a real master and a minion that looks like EL7 to Salt.

The minion's config sets EL7 grains, so Salt loads ``yumpkg`` as ``pkg`` and renders the
states exactly as for a CentOS 7 server. Nothing is installed: the tests read the rendered
states (``state.show_low_sls``), and the execution order from ``state.sls … mock=True``,
which orders the states as a real run would (requisites included) and evaluates their
runtime guards (``onlyif``/``unless``, read-only) but calls no state function. Expected
package lists are written here by hand from the runbook ("Install the Lustre Server
Software", "Configure the High Availability Framework").

The minion's id is in no pillar file: each test gives it its node entry through a pillar
override, like the orchestration passes run data. pillar.example gives its secrets only to
the nodes its pairs list, so the override also carries a stand-in hacluster password for
the renders; the tests of the real (GPG-encrypted) secret use such a node (``PAIR_NODE``).
"""

import copy
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.support import REPO_ROOT

MINION = "el7-node"
PAIR = "el7"
EL7_GRAINS = {
    "os_family": "RedHat",
    "os": "CentOS",
    "osmajorrelease": 7,
    "osrelease": "7.6.1810",
    "osfinger": "CentOS Linux-7",
    "osarch": "x86_64",
}
PILLAR_EXAMPLE = yaml.safe_load(
    (REPO_ROOT / "pillar.example" / "lustre_upgrade" / "init.sls").read_text()
)["lustre_upgrade"]
# The tests never reboot anything; this replaces the reboot command wherever a state may run.
NO_REBOOT = {"server": {"reboot": {"command": "echo lustre-server-would-reboot-now"}}}
# What lustre.ha checks before rendering (present, decrypted); never the real secret.
RENDER_SECRETS = {"secrets": {"hacluster_password": "stand-in-for-the-render"}}
# A node of a pillar.example pair no other test uses: it gets the real secrets.
PAIR_NODE = "mds1-a"

PATCHED_KERNEL = "3.10.0-957.10.1.el7_lustre"
ZFS_KERNEL = "3.10.0-957.10.1.el7"
KERNEL_PACKAGES = [
    "kernel",
    "kernel-devel",
    "kernel-headers",
    "kernel-tools",
    "kernel-tools-libs",
    "kernel-tools-libs-devel",
]
# Runbook: "Install additional development packages" (the yum install line, in its order).
RUNBOOK_DEVEL_PACKAGES = """
    asciidoc audit-libs-devel automake bc
    binutils-devel bison device-mapper-devel elfutils-devel
    elfutils-libelf-devel expect flex gcc gcc-c++ git
    glib2 glib2-devel hmaccalc keyutils-libs-devel krb5-devel ksh
    libattr-devel libblkid-devel libselinux-devel libtool
    libuuid-devel libyaml-devel lsscsi make ncurses-devel
    net-snmp-devel net-tools newt-devel numactl-devel
    parted patchutils pciutils-devel perl-ExtUtils-Embed
    pesign python-devel redhat-rpm-config rpm-build systemd-devel
    tcl tcl-devel tk tk-devel wget xmlto yum-utils zlib-devel
""".split()
# Runbook "Install the Lustre Server Software", one entry per OSD flavour.
RUNBOOK = {
    "ldiskfs-zfs": {
        "e2fsprogs": ["e2fsprogs", "e2fsprogs-devel"],
        "kernel": PATCHED_KERNEL,
        "os_repos_disabled": True,
        "devel": True,
        "hostid": True,
        "packages": ["lustre-ldiskfs-zfs"],
        "dkms": ["lustre", "spl", "zfs"],
        "modprobe": ["zfs", "lustre"],
    },
    "ldiskfs": {
        "e2fsprogs": ["e2fsprogs"],
        "kernel": PATCHED_KERNEL,
        "os_repos_disabled": True,
        "devel": False,
        "hostid": False,
        "packages": [
            "kmod-lustre",
            "kmod-lustre-osd-ldiskfs",
            "lustre-osd-ldiskfs-mount",
            "lustre",
            "lustre-resource-agents",
        ],
        "dkms": [],
        "modprobe": ["lustre"],
    },
    "zfs": {
        "e2fsprogs": [],
        "kernel": ZFS_KERNEL,
        "os_repos_disabled": False,
        "devel": True,
        "hostid": True,
        "packages": [
            "lustre-dkms",
            "lustre-osd-zfs-mount",
            "lustre",
            "lustre-resource-agents",
            "zfs",
        ],
        "dkms": ["lustre", "spl", "zfs"],
        "modprobe": ["zfs", "lustre"],
    },
}
REPO_STEPS = [
    "lustre-repos-epel-release-installed",
    "lustre-repos-epel-managed",
    "lustre-repos-manager-for-lustre-managed",
    "lustre-repos-dnf-el7-managed",
    "lustre-repos-lustre-server-managed",
    "lustre-repos-lustre-client-managed",
    "lustre-repos-e2fsprogs-wc-managed",
]


def server_steps(osd):
    """The state ids of lustre.server after the repositories, in the runbook's order."""
    book = RUNBOOK[osd]
    steps = ["lustre-server-e2fsprogs-from-e2fsprogs-wc"] if book["e2fsprogs"] else []
    steps += [
        "lustre-server-kernel-tools-newer-than-lustre-kernel-removed",
        "lustre-server-lustre-kernel-installed",
    ]
    steps += ["lustre-server-development-packages-installed"] if book["devel"] else []
    steps += ["lustre-server-hostid-persistent"] if book["hostid"] else []
    steps += [
        "lustre-server-reboot-into-lustre-kernel",
        "lustre-server-running-lustre-kernel",
        "lustre-server-lustre-packages-installed",
    ]
    steps += ["lustre-server-dkms-modules-installed"] if book["dkms"] else []
    steps += [f"lustre-server-kernel-module-{m}-loaded" for m in book["modprobe"]]
    return steps


def _merged(base, extra):
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = _merged(merged[key], value)
        merged[key] = value
    return merged


def node_pillar(osd=None, pair_osd=None, no_reboot=True, evacuated_node=MINION, **lustre_upgrade):
    """Pillar override giving this minion its node entry (and any other lustre_upgrade keys).

    ``evacuated_node`` is the run key ``lustre_upgrade_run:evacuated_node`` the orchestration
    passes for the node it has evacuated: by default this minion, so the tree renders the
    upgrade itself (kernel, packages, reboot); ``None`` leaves it out (a routine highstate).
    """
    node = {
        "minion": MINION,
        "old_name": MINION,
        "fqdn": f"{MINION}.lfs.example",
        "rings": ["10.0.10.21", "10.0.20.21"],
    }
    if osd is not None:
        node["osd"] = osd
    pair = {"nodes": [node]}
    if pair_osd is not None:
        pair["osd"] = pair_osd
    data = {"pairs": {PAIR: pair}, **RENDER_SECRETS, **(NO_REBOOT if no_reboot else {})}
    pillar = {"lustre_upgrade": _merged(data, lustre_upgrade)}
    if evacuated_node is not None:
        pillar["lustre_upgrade_run"] = {"evacuated_node": evacuated_node}
    return pillar


# --- the minion -------------------------------------------------------------------------


def _build_rpm(topdir, name, version, release):
    spec = Path(topdir) / f"{name}.spec"
    spec.write_text(
        f"Name: {name}\nVersion: {version}\nRelease: {release}\nSummary: stand-in\n"
        "License: GPLv2\nBuildArch: noarch\n%description\nstand-in\n%files\n"
    )
    subprocess.run(
        ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {topdir}", str(spec)],
        check=True,
        capture_output=True,
    )
    return Path(topdir) / "RPMS" / "noarch" / f"{name}-{version}-{release}.noarch.rpm"


class RpmDb:
    """The minion's own rpm database: Debian's rpm keeps it in $HOME/.rpmdb."""

    def __init__(self, home):
        self.home = Path(home)
        self.env = {"HOME": str(self.home), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}

    def reset(self, packages=()):
        shutil.rmtree(self.home / ".rpmdb", ignore_errors=True)
        subprocess.run(["rpm", "--initdb"], env=self.env, check=True, capture_output=True)
        if not packages:
            return
        with tempfile.TemporaryDirectory(prefix="lu-rpmbuild-") as topdir:
            rpms = [str(_build_rpm(topdir, *package)) for package in packages]
            subprocess.run(
                ["rpm", "-i", "--justdb", "--nodeps", "--nosignature", *rpms],
                env=self.env,
                check=True,
                capture_output=True,
            )


@pytest.fixture(scope="module")
def rpmdb():
    if not shutil.which("rpm") or not shutil.which("rpmbuild"):
        pytest.skip("rpm and rpmbuild (Debian package rpm) are needed for the EL7 minion")
    home = tempfile.mkdtemp(prefix="lu-el7-home-", dir="/tmp")
    db = RpmDb(home)
    db.reset()
    try:
        yield db
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def el7_minion(master, salt_cli, rpmdb):
    factory = master.salt_minion_daemon(
        MINION, overrides={"grains": EL7_GRAINS, "log_level_logfile": "debug"}
    )
    factory.environ = {**factory.environ, "HOME": str(rpmdb.home)}
    with factory.started(start_timeout=60):
        ret = salt_cli.run("saltutil.sync_all", minion_tgt=MINION)
        assert ret.returncode == 0, ret
        yield factory


@pytest.fixture(scope="module")
def call(el7_minion, salt_cli):
    def run(fun, *args, **kwargs):
        return salt_cli.run(fun, *args, minion_tgt=MINION, **kwargs)

    run.rendered = {}
    return run


@pytest.fixture(scope="module")
def pair_node(master, salt_cli, rpmdb):
    """A pair node of pillar.example (EL7 grains): the one kind of minion given the secret."""
    factory = master.salt_minion_daemon(
        PAIR_NODE, overrides={"grains": EL7_GRAINS, "log_level_logfile": "debug"}
    )
    factory.environ = {**factory.environ, "HOME": str(rpmdb.home)}
    with factory.started(start_timeout=60):
        ret = salt_cli.run("saltutil.sync_all", minion_tgt=PAIR_NODE)
        assert ret.returncode == 0, ret
        yield factory


@pytest.fixture(scope="module")
def pair_call(pair_node, salt_cli):
    def run(fun, *args, **kwargs):
        return salt_cli.run(fun, *args, minion_tgt=PAIR_NODE, **kwargs)

    run.rendered = {}
    return run


def low_chunks(call, sls, pillar):
    """``state.show_low_sls``; rendering depends only on its input, so it is done once."""
    key = (sls, json.dumps(pillar, sort_keys=True))
    if key not in call.rendered:
        ret = call("state.show_low_sls", sls, pillar=pillar)
        assert ret.returncode == 0, ret
        assert isinstance(ret.data, list) and all(isinstance(c, dict) for c in ret.data), ret
        call.rendered[key] = ret.data
    return copy.deepcopy(call.rendered[key])


def by_id(chunks):
    found = {}
    for chunk in chunks:
        assert chunk["__id__"] not in found, f"state id {chunk['__id__']} declared twice"
        found[chunk["__id__"]] = chunk
    return found


def mock_run(call, sls, pillar, fresh=False):
    """``state.sls … mock=True``: {id: result} of a run that calls no state function.

    Its guards read this machine, which the tests change only through ``rpmdb`` (those
    tests ask for a ``fresh`` run); other results are reused.
    """
    key = ("mock", sls, json.dumps(pillar, sort_keys=True))
    if fresh or key not in call.rendered:
        ret = call("state.sls", sls, pillar=pillar, mock=True)
        assert isinstance(ret.data, dict), ret
        results = {r["__id__"]: r for r in ret.data.values()}
        failed = {i: r["comment"] for i, r in results.items() if r["result"] is not True}
        assert not failed, failed
        if fresh:
            return results
        call.rendered[key] = results
    return copy.deepcopy(call.rendered[key])


def run_order(results):
    return [i for i, _ in sorted(results.items(), key=lambda item: item[1]["__run_num__"])]


def render_error(ret):
    """The render errors of a call that applied nothing: a list of messages, no state result."""
    assert ret.returncode != 0, ret
    assert isinstance(ret.data, list), f"states were compiled, expected a render error: {ret}"
    assert all(isinstance(line, str) for line in ret.data), ret.data
    return "\n".join(ret.data)


def requires(chunk):
    return [next(iter(req.items())) for req in chunk.get("require", [])]


# --- the minion looks like EL7 ----------------------------------------------------------


def test_the_el7_minion_gets_yum_as_its_package_manager(call):
    ret = call("test.provider", "pkg")
    assert ret.returncode == 0, ret
    assert ret.data == "yumpkg"


# --- lustre.server ----------------------------------------------------------------------


@pytest.mark.parametrize("osd", sorted(RUNBOOK))
def test_server_installs_the_runbook_packages_of_each_flavour(call, osd):
    book = RUNBOOK[osd]
    states = by_id(low_chunks(call, "lustre.server", node_pillar(osd)))

    e2fsprogs = states.get("lustre-server-e2fsprogs-from-e2fsprogs-wc")
    if book["e2fsprogs"]:
        # yum --disablerepo=* --enablerepo=e2fsprogs-wc install e2fsprogs… (the runbook's
        # --nogpgcheck is the repository's gpgcheck=0: see test_state_tree_input)
        assert (e2fsprogs["state"], e2fsprogs["fun"]) == ("pkg", "latest")
        assert e2fsprogs["pkgs"] == book["e2fsprogs"]
        assert e2fsprogs["fromrepo"] == "e2fsprogs-wc"
        assert "skip_verify" not in e2fsprogs
    else:
        assert e2fsprogs is None

    kernel = states["lustre-server-lustre-kernel-installed"]
    assert kernel["pkgs"] == [{name: book["kernel"]} for name in KERNEL_PACKAGES]
    if book["os_repos_disabled"]:
        # yum --disablerepo=base,extras,updates install kernel…
        assert kernel["disablerepo"] == "base,extras,updates"
    else:
        assert "disablerepo" not in kernel
    assert "skip_verify" not in kernel

    devel = states.get("lustre-server-development-packages-installed")
    if book["devel"]:
        assert devel["pkgs"] == RUNBOOK_DEVEL_PACKAGES
    else:
        assert devel is None

    packages = states["lustre-server-lustre-packages-installed"]
    assert packages["pkgs"] == book["packages"]
    assert "skip_verify" not in packages

    dkms = states.get("lustre-server-dkms-modules-installed")
    if book["dkms"]:
        assert (dkms["state"], dkms["fun"]) == ("dkms", "installed")
        assert dkms["name"] == f"{book['kernel']}.x86_64"
        assert dkms["modules"] == book["dkms"]
    else:
        assert dkms is None

    modprobe = [c["name"] for c in states.values() if (c["state"], c["fun"]) == ("kmod", "present")]
    assert modprobe == book["modprobe"]


@pytest.mark.parametrize("osd", sorted(RUNBOOK))
def test_server_steps_run_in_the_runbook_order(call, osd):
    results = mock_run(call, "lustre.server", node_pillar(osd))
    assert run_order(results) == REPO_STEPS + server_steps(osd)


@pytest.mark.parametrize("osd", sorted(RUNBOOK))
def test_each_server_step_requires_the_one_before_it(call, osd):
    """The order holds by requisites, whatever else a highstate puts around these states."""
    states = by_id(low_chunks(call, "lustre.server", node_pillar(osd)))
    steps = server_steps(osd)
    for before, step in zip(steps, steps[1:]):
        required = [ident for _, ident in requires(states[step])]
        assert before in required, f"{step} does not require {before}"
    first = requires(states[steps[0]])
    assert ("sls", "lustre.repos") in first


@pytest.mark.parametrize("osd", [o for o in sorted(RUNBOOK) if RUNBOOK[o]["hostid"]])
def test_zfs_packages_wait_for_a_persistent_hostid(call, osd):
    states = by_id(low_chunks(call, "lustre.server", node_pillar(osd)))
    hostid = states["lustre-server-hostid-persistent"]
    assert (hostid["state"], hostid["fun"], hostid["name"]) == (
        "hostid",
        "persistent",
        "/etc/hostid",
    )
    packages = states["lustre-server-lustre-packages-installed"]
    assert ("hostid", "lustre-server-hostid-persistent") in requires(packages)
    order = run_order(mock_run(call, "lustre.server", node_pillar(osd)))
    assert order.index("lustre-server-hostid-persistent") < order.index(
        "lustre-server-lustre-packages-installed"
    )


@pytest.mark.parametrize(
    ("node_osd", "pair_osd", "expected"),
    [
        ("zfs", "ldiskfs", "zfs"),
        (None, "ldiskfs", "ldiskfs"),
        (None, None, PILLAR_EXAMPLE["osd"]),
    ],
    ids=["node-over-pair", "pair-over-default", "default"],
)
def test_the_osd_flavour_is_the_nodes_else_the_pairs_else_the_default(
    call, node_osd, pair_osd, expected
):
    states = by_id(low_chunks(call, "lustre.server", node_pillar(node_osd, pair_osd)))
    packages = states["lustre-server-lustre-packages-installed"]["pkgs"]
    assert packages == RUNBOOK[expected]["packages"]


def test_repositories_take_their_base_urls_from_pillar(call):
    states = by_id(low_chunks(call, "lustre.repos", node_pillar("ldiskfs")))
    repos = {c["name"]: c for c in states.values() if c["state"] == "pkgrepo"}
    assert set(repos) == {
        "epel",
        "manager-for-lustre",
        "dnf-el7",
        "lustre-server",
        "lustre-client",
        "e2fsprogs-wc",
    }
    for name, chunk in repos.items():
        assert chunk["fun"] == "managed"
        assert chunk["baseurl"] == PILLAR_EXAMPLE["repos"][name]
    # Runbook: yum -y install epel-release, before the repositories that need EPEL.
    epel_release = states["lustre-repos-epel-release-installed"]
    assert (epel_release["state"], epel_release["name"]) == ("pkg", "epel-release")
    assert ("pkg", "lustre-repos-epel-release-installed") in requires(repos["epel"])


def test_repository_options_from_pillar_reach_the_repository(call):
    options = {
        "repo_options": {"manager-for-lustre": {"gpgcheck": 1, "gpgkey": "https://k/pub.gpg"}}
    }
    pillar = node_pillar("ldiskfs", server=options)
    repo = by_id(low_chunks(call, "lustre.repos", pillar))[
        "lustre-repos-manager-for-lustre-managed"
    ]
    assert (repo["gpgcheck"], repo["gpgkey"]) == (1, "https://k/pub.gpg")


def test_with_manager_repos_the_lustre_repositories_come_from_the_manager(call):
    pillar = node_pillar("ldiskfs", server={"lustre_repos": "manager"})
    states = by_id(low_chunks(call, "lustre.server", pillar))
    repo_names = {c["name"] for c in states.values() if c["state"] == "pkgrepo"}
    assert repo_names == {"epel", "manager-for-lustre", "dnf-el7"}
    agent_repo = states["iml-agent-manager-repo-installed"]
    assert agent_repo["manager"] == PILLAR_EXAMPLE["manager"]["fqdn"]
    e2fsprogs = states["lustre-server-e2fsprogs-from-e2fsprogs-wc"]
    assert ("sls", "iml.agent.repo") in requires(e2fsprogs)
    assert "iml-agent-manager-repo-without-lustre-repos" not in states


@pytest.mark.parametrize(
    ("installed", "removed"),
    [
        (None, False),
        ("3.10.0-862.el7", False),
        (PATCHED_KERNEL, False),
        ("3.10.0-957.10.1.el7", False),
        ("3.10.0-1160.el7", True),
        ("3.10.0-957.27.2.el7", True),
    ],
    ids=["absent", "older", "same", "stock-same-base", "newer", "newer-errata"],
)
def test_kernel_tools_are_removed_only_when_newer_than_the_lustre_kernel(
    call, rpmdb, installed, removed
):
    """The guard runs when the state runs, against the node's rpm database."""
    packages = []
    if installed:
        version, release = installed.split("-", 1)
        packages = [(n, version, release) for n in ("kernel-tools", "kernel-tools-libs")]
    rpmdb.reset(packages)
    try:
        results = mock_run(call, "lustre.server", node_pillar("ldiskfs"), fresh=True)
    finally:
        rpmdb.reset()
    comment = results["lustre-server-kernel-tools-newer-than-lustre-kernel-removed"]["comment"]
    assert comment == ("Not called, mocked" if removed else "onlyif condition is false")


def test_kernel_tools_removal_names_both_packages(call):
    states = by_id(low_chunks(call, "lustre.server", node_pillar("ldiskfs")))
    removal = states["lustre-server-kernel-tools-newer-than-lustre-kernel-removed"]
    assert (removal["state"], removal["fun"]) == ("pkg", "removed")
    assert removal["pkgs"] == ["kernel-tools", "kernel-tools-libs"]
    compare = removal["onlyif"][-1]
    assert compare["fun"] == "pkg_resource.version_compare"
    assert compare["args"][1:] == [">", PATCHED_KERNEL]


def test_reboot_is_scheduled_only_while_another_kernel_runs(call):
    release = f"{PATCHED_KERNEL}.x86_64"
    # This machine runs its own kernel: the reboot (here an echo) and the gate would run.
    results = mock_run(call, "lustre.server", node_pillar("ldiskfs"))
    assert results["lustre-server-reboot-into-lustre-kernel"]["comment"] == "Not called, mocked"
    # A node already running the Lustre kernel is neither rebooted nor stopped.
    running = {"server": {"reboot": {"running_kernel_command": f"echo {release}"}}}
    results = mock_run(call, "lustre.server", node_pillar("ldiskfs", **running))
    for ident in ("lustre-server-reboot-into-lustre-kernel", "lustre-server-running-lustre-kernel"):
        assert results[ident]["comment"] == "unless condition is true", ident


def test_reboot_command_and_kernel_check_are_settings(call):
    default = by_id(low_chunks(call, "lustre.server", node_pillar("zfs", no_reboot=False)))
    reboot = default["lustre-server-reboot-into-lustre-kernel"]
    assert (reboot["state"], reboot["fun"]) == ("cmd", "run")
    assert reboot["name"].startswith("shutdown -r +1")
    assert reboot["unless"] == f'test "$(uname -r)" = "{ZFS_KERNEL}.x86_64"'
    site = {"server": {"reboot": {"command": "ipmi-reboot", "running_kernel_command": "cat /k"}}}
    chosen = by_id(low_chunks(call, "lustre.server", node_pillar("zfs", **site)))
    reboot = chosen["lustre-server-reboot-into-lustre-kernel"]
    assert reboot["name"] == "ipmi-reboot"
    assert reboot["unless"] == f'test "$(cat /k)" = "{ZFS_KERNEL}.x86_64"'


def test_the_run_stops_after_the_reboot_and_test_mode_still_shows_the_rest(call):
    states = by_id(low_chunks(call, "lustre.server", node_pillar("ldiskfs")))
    gate = states["lustre-server-running-lustre-kernel"]
    assert gate["unless"] == states["lustre-server-reboot-into-lustre-kernel"]["unless"]
    assert "apply lustre.server again once the minion is back" in gate["comment"]
    # The gate as rendered (this machine never runs the Lustre kernel): a test.* state, harmless.
    args = [f"{key}={json.dumps(gate[key])}" for key in ("name", "changes", "result", "comment")]
    for test, expected in ((False, False), (True, True)):
        ret = call("state.single", f"{gate['state']}.{gate['fun']}", *args, test=test)
        (result,) = ret.data.values()
        assert (result["result"], result["comment"]) == (expected, gate["comment"])


# --- lustre.ha --------------------------------------------------------------------------

HA_STEPS = [
    "lustre-ha-cluster-packages-installed",
    "lustre-ha-haclient-group-present",
    "lustre-ha-hacluster-user-present",
]


def test_ha_installs_the_cluster_and_opens_the_firewall_in_runbook_order(call):
    states = by_id(low_chunks(call, "lustre.ha", node_pillar("ldiskfs")))
    # EL7 has no package named fence-agents (only a Provides of fence-agents-all, which
    # pkg.installed cannot verify as installed): the runbook's set by its real name.
    assert states["lustre-ha-cluster-packages-installed"]["pkgs"] == [
        "pcs",
        "pacemaker",
        "corosync",
        "fence-agents-all",
    ]
    permanent = states["lustre-ha-firewall-high-availability-permanent"]
    assert (permanent["state"], permanent["fun"]) == ("firewalld", "present")
    assert (permanent["name"], permanent["services"]) == ("public", ["high-availability"])
    assert permanent["prune_services"] is False
    runtime = states["lustre-ha-firewall-high-availability-runtime"]
    assert runtime["name"] == "firewall-cmd --zone=public --add-service=high-availability"
    assert runtime["unless"] == "firewall-cmd --zone=public --query-service=high-availability"
    pcsd = states["lustre-ha-pcsd-running"]
    assert (pcsd["state"], pcsd["fun"], pcsd["name"], pcsd["enable"]) == (
        "service",
        "running",
        "pcsd",
        True,
    )
    steps = HA_STEPS + [
        "lustre-ha-firewalld-running",
        "lustre-ha-firewall-high-availability-permanent",
        "lustre-ha-firewall-high-availability-runtime",
        "lustre-ha-pcsd-running",
    ]
    for before, step in zip(steps, steps[1:]):
        assert before in [i for _, i in requires(states[step])], f"{step} does not require {before}"


def test_ha_with_the_firewall_disabled_stops_and_disables_firewalld(call):
    pillar = node_pillar("ldiskfs", firewall="disabled")
    states = by_id(low_chunks(call, "lustre.ha", pillar))
    firewalld = states["lustre-ha-firewalld-stopped-and-disabled"]
    assert (firewalld["state"], firewalld["fun"], firewalld["name"]) == (
        "service",
        "dead",
        "firewalld",
    )
    assert firewalld["enable"] is False
    assert not [c for c in states.values() if c["state"] == "firewalld"]
    order = run_order(mock_run(call, "lustre.ha", pillar))
    assert order == HA_STEPS + [
        "lustre-ha-firewalld-stopped-and-disabled",
        "lustre-ha-pcsd-running",
    ]


@pytest.fixture(scope="module")
def hacluster_password(gpg_keydir):
    """pillar.example's throwaway secret, decrypted here (asking a minion would log it)."""
    text = (REPO_ROOT / "pillar.example" / "lustre_upgrade" / "secrets.sls").read_text()
    armored = yaml.safe_load(text)["lustre_upgrade"]["secrets"]["hacluster_password"]
    out = subprocess.run(
        ["gpg", "--homedir", gpg_keydir, "--batch", "--quiet", "--decrypt"],
        input=armored.encode(),
        capture_output=True,
        check=True,
    )
    secret = out.stdout.decode()
    assert secret and "*" not in secret
    return secret


def _leaks(secret, text):
    return secret in str(text)


def test_hacluster_password_is_read_when_the_state_runs_never_rendered(
    pair_call, hacluster_password
):
    pillar = {"lustre_upgrade": NO_REBOOT}
    user = by_id(low_chunks(pair_call, "lustre.ha", pillar))["lustre-ha-hacluster-user-present"]
    assert (user["state"], user["fun"], user["name"]) == ("user", "present", "hacluster")
    assert user["password"] == "__slot__:salt:config.get(lustre_upgrade:secrets:hacluster_password)"
    assert user["hash_password"] is True
    for fun in ("state.show_sls", "state.show_low_sls"):
        ret = pair_call(fun, "lustre.ha", pillar=pillar)
        leaked = _leaks(hacluster_password, ret.stdout)
        assert not leaked, f"{fun} shows the hacluster password"


def test_the_password_slot_yields_the_decrypted_secret_not_a_mask(pair_call, hacluster_password):
    """The slot, resolved by the state machinery, is the plain secret user.present hashes."""
    user = by_id(low_chunks(pair_call, "lustre.ha", {"lustre_upgrade": NO_REBOOT}))[
        "lustre-ha-hacluster-user-present"
    ]
    ret = pair_call(
        "state.single",
        "test.configurable_test_state",
        "name=slot",
        "changes=False",
        f"comment={user['password']}",
    )
    (result,) = ret.data.values()
    same = result["comment"] == hacluster_password
    assert same, "the slot did not resolve to the decrypted hacluster password"


def _job_log(log_file, marker, timeout=30):
    """The minion log lines of the jobs whose log mentions ``marker``, once they returned."""
    deadline = time.monotonic() + timeout
    while True:
        lines = log_file.read_text(errors="replace").splitlines()
        jids = {j for line in lines if marker in line for j in re.findall(r"\b\d{20}\b", line)}
        job = [line for line in lines if any(j in line for j in jids)]
        if jids and any("minion return" in line for line in job):
            return job
        if time.monotonic() >= deadline:
            pytest.fail(f"no returned job mentioning {marker} in {log_file} within {timeout} s")
        time.sleep(0.5)


def test_hacluster_password_is_redacted_in_the_state_return_and_absent_from_the_log(
    pair_call, pair_node, hacluster_password
):
    """The rendered user.present, run in test mode against this machine's hacluster user."""
    user = by_id(low_chunks(pair_call, "lustre.ha", {"lustre_upgrade": NO_REBOOT}))[
        "lustre-ha-hacluster-user-present"
    ]
    args = [f"{key}={user[key]}" for key in ("name", "gid", "shell", "password", "hash_password")]
    ret = pair_call("state.single", "user.present", *args, test=True)
    (result,) = ret.data.values()
    assert result["result"] is None, result
    assert "passwd: XXX-REDACTED-XXX" in result["comment"]
    leaked = _leaks(hacluster_password, ret.stdout)
    assert not leaked, "the state return shows the hacluster password"
    job = _job_log(Path(pair_node.config["log_file"]), "user.present")
    leaked = _leaks(hacluster_password, "\n".join(job))
    assert not leaked, "the minion log of the user.present job contains the hacluster password"


# --- lustre.restore ---------------------------------------------------------------------

BACKUP = "/var/lib/lustre-upgrade/restore/bck-el7-node-20260101-120000.tgz.sealed"
DELIVERED = {"backup": BACKUP, "sha256": "a" * 64, "archive_sha256": "b" * 64}


def run_pillar(osd="ldiskfs", **lustre_upgrade):
    run = {**DELIVERED, "evacuated_node": MINION}
    return {**node_pillar(osd, **lustre_upgrade), "lustre_upgrade_run": run}


def test_restore_installs_ntp_restores_the_backup_then_starts_ntpd(call):
    states = by_id(low_chunks(call, "lustre.restore", run_pillar()))
    restored = states["lustre-restore-node-configuration"]
    assert (restored["state"], restored["fun"], restored["name"]) == (
        "node_backup",
        "restored",
        BACKUP,
    )
    assert (restored["sha256"], restored["archive_sha256"]) == ("a" * 64, "b" * 64)
    assert states["lustre-restore-ntp-installed"]["name"] == "ntp"
    step = states["lustre-restore-ntp-clock-stepped"]
    assert step["name"] == "ntpd -qg"
    assert step["onchanges"] == [{"node_backup": "lustre-restore-node-configuration"}]
    ntpd = states["lustre-restore-ntpd-running"]
    assert (ntpd["name"], ntpd["enable"]) == ("ntpd", True)
    assert run_order(mock_run(call, "lustre.restore", run_pillar())) == [
        "lustre-restore-ntp-installed",
        "lustre-restore-node-configuration",
        "lustre-restore-ntp-clock-stepped",
        "lustre-restore-ntpd-running",
    ]


@pytest.mark.parametrize("missing", ["backup", "sha256", "archive_sha256"])
def test_restore_without_the_delivered_backup_names_the_key_and_applies_nothing(call, missing):
    run = {k: v for k, v in DELIVERED.items() if k != missing}
    pillar = {**node_pillar("ldiskfs"), "lustre_upgrade_run": run}
    ret = call("state.apply", "lustre.restore", pillar=pillar, test=True)
    error = render_error(ret)
    assert f"lustre_upgrade_run:{missing} is not set" in error
    assert "Nothing was applied" in error


@pytest.mark.parametrize("evacuated", [None, "el7-peer"], ids=["no-run-key", "another-node"])
@pytest.mark.parametrize("sls", ["lustre.restore", "iml.agent"])
def test_restore_outside_the_upgrade_run_of_this_node_names_the_key_and_applies_nothing(
    call, sls, evacuated
):
    """It replaces configuration files and steps the clock: never on a node still serving."""
    run = {**DELIVERED, **({"evacuated_node": evacuated} if evacuated else {})}
    pillar = {**node_pillar("ldiskfs", evacuated_node=None), "lustre_upgrade_run": run}
    error = render_error(call("state.apply", sls, pillar=pillar, test=True))
    assert f"pillar lustre_upgrade_run:evacuated_node is not {MINION}" in error
    assert "Nothing was applied" in error


# --- iml.agent --------------------------------------------------------------------------


def agent_steps(osd, restore=False):
    steps = REPO_STEPS[:]
    if restore:
        steps += [
            "lustre-restore-ntp-installed",
            "lustre-restore-node-configuration",
            "lustre-restore-ntp-clock-stepped",
            "lustre-restore-ntpd-running",
        ]
    steps += [
        "iml-agent-manager-repo-installed",
        "iml-agent-manager-repo-without-lustre-repos",
        "iml-agent-packages-installed",
    ]
    steps += server_steps(osd)
    steps += [
        "iml-agent-target-mountpoints",
        "iml-agent-service-running",
        "iml-agent-lustre-module-loaded",
    ]
    return steps


def test_agent_installs_from_the_manager_then_starts_after_the_server_software(call):
    pillar = node_pillar("zfs")
    states = by_id(low_chunks(call, "iml.agent", pillar))
    repo = states["iml-agent-manager-repo-installed"]
    assert (repo["state"], repo["fun"], repo["name"], repo["manager"]) == (
        "iml",
        "agent_repo",
        "/etc/yum.repos.d/Manager-for-Lustre.repo",
        PILLAR_EXAMPLE["manager"]["fqdn"],
    )
    assert states["iml-agent-packages-installed"]["pkgs"] == ["chroma-agent", "chroma-diagnostics"]
    agent = states["iml-agent-service-running"]
    assert (agent["name"], agent["enable"]) == ("chroma-agent", True)
    assert ("sls", "lustre.server") in requires(agent)
    assert states["iml-agent-lustre-module-loaded"]["name"] == "lustre"
    assert states["iml-agent-target-mountpoints"]["name"] == "/var/lib/chroma/targets"
    assert run_order(mock_run(call, "iml.agent", pillar)) == agent_steps("zfs")


def test_during_an_upgrade_run_the_agent_waits_for_the_restored_chroma_directory(call):
    states = by_id(low_chunks(call, "iml.agent", run_pillar("ldiskfs")))
    repo = states["iml-agent-manager-repo-installed"]
    assert ("node_backup", "lustre-restore-node-configuration") in requires(repo)
    order = run_order(mock_run(call, "iml.agent", run_pillar("ldiskfs")))
    assert order == agent_steps("ldiskfs", restore=True)


@pytest.mark.parametrize(
    ("sections", "stops"),
    [(["iml-agent"], False), (["iml-agent", "lustre-server", "e2fsprogs-wc"], True)],
    ids=["agent-only", "with-lustre-repos"],
)
def test_a_manager_repo_file_that_also_defines_the_lustre_repos_stops_the_run(
    call, tmp_path, sections, stops
):
    """With the Lustre repositories from pillar, the manager's file must not define them too."""
    repo_file = tmp_path / "Manager-for-Lustre.repo"
    repo_file.write_text("".join(f"[{s}]\nname={s}\nbaseurl=https://m/{s}\n\n" for s in sections))
    pillar = node_pillar("ldiskfs", server={"agent_repo_file": str(repo_file)})
    states = by_id(low_chunks(call, "iml.agent", pillar))
    packages = states["iml-agent-packages-installed"]
    assert ("test", "iml-agent-manager-repo-without-lustre-repos") in requires(packages)
    guard = mock_run(call, "iml.agent", pillar)["iml-agent-manager-repo-without-lustre-repos"]
    assert guard["comment"] == ("Not called, mocked" if stops else "onlyif condition is false")
    assert "lustre_upgrade:server:lustre_repos" in states[guard["__id__"]]["comment"]


def test_agent_without_the_manager_fqdn_names_the_key_and_applies_nothing(call):
    pillar = node_pillar("ldiskfs", manager={"fqdn": ""})
    error = render_error(call("state.apply", "iml.agent", pillar=pillar, test=True))
    assert "lustre_upgrade:manager:fqdn" in error


# --- lustre.verify ----------------------------------------------------------------------

READ_ONLY = {("test", "fail_without_changes"), ("dkms", "installed")}


@pytest.mark.parametrize("osd", sorted(RUNBOOK))
def test_verify_is_made_of_checks_only(call, osd):
    states = by_id(low_chunks(call, "lustre.verify", node_pillar(osd)))
    kinds = {(c["state"], c["fun"]) for c in states.values()}
    assert kinds <= READ_ONLY, kinds - READ_ONLY
    book = RUNBOOK[osd]
    assert ("lustre-verify-dkms-modules-installed" in states) is bool(book["dkms"])
    assert ("lustre-verify-hostid-persistent" in states) is book["hostid"]
    for module in book["modprobe"]:
        assert f"lustre-verify-kernel-module-{module}-loaded" in states
    for service in ("pcsd", "chroma-agent", "ntpd"):
        assert f"lustre-verify-service-{service}-running" in states
        assert f"lustre-verify-service-{service}-enabled" in states
    assert "lustre-verify-target-mountpoints" in states


def test_verify_run_for_real_changes_nothing_and_says_what_is_wrong(call):
    """This machine is no Lustre server: the checks fail, each with its reason, and change nothing."""
    ret = call("state.sls", "lustre.verify", pillar=node_pillar("ldiskfs-zfs"))
    assert isinstance(ret.data, dict), ret
    results = {r["__id__"]: r for r in ret.data.values()}
    assert all(r["changes"] == {} for r in results.values())
    kernel = results["lustre-verify-running-lustre-kernel"]
    assert kernel["result"] is False
    assert f"{PATCHED_KERNEL}.x86_64" in kernel["comment"]
    store = results["lustre-verify-target-store-present"]
    assert store["result"] is False and "lustre.restore" in store["comment"]
    assert "An exception occurred" not in "".join(r["comment"] for r in results.values())


# --- a routine highstate: outside the upgrade run of this node --------------------------

# What salt/top.sls gives a pair node (test_top_file_gives_pillar_nodes_the_server_configuration).
HIGHSTATE = "lustre.server,lustre.ha,iml.agent"
# Packages a serving target depends on: the kernel, Lustre, ZFS/SPL, e2fsprogs, the HA stack,
# and the IML agent (its package holds the ocf:chroma:Target resource agent).
PROTECTED = re.compile(
    r"^(kernel|lustre|kmod-lustre|zfs|libzfs|spl|libspl|e2fsprogs|pacemaker|corosync|pcs"
    r"|resource-agents|fence-agents|chroma-)"
)
PENDING_REPORTS = [
    "lustre-server-kernel-upgrade-pending",
    "lustre-server-packages-upgrade-pending",
    "lustre-ha-packages-upgrade-pending",
    "iml-agent-packages-upgrade-pending",
]
# lustre_upgrade_run:evacuated_node outside this node's upgrade run: absent, or another node.
OUTSIDE_ITS_RUN = {"no-run-key": None, "another-node": "el7-peer"}


def package_names(chunk):
    names = chunk.get("pkgs") or [chunk["name"]]
    return [next(iter(n)) if isinstance(n, dict) else n for n in names]


def pending(call, sls, ident, pillar, test=False):
    """The state ``ident`` as ``sls`` renders it, run for real and alone (``state.single``:
    none of its requisites runs, unlike ``state.sls_id``): its result."""
    chunk = by_id(low_chunks(call, sls, pillar))[ident]
    skip = {"state", "fun", "order", "require"}
    args = [f"{k}={json.dumps(v)}" for k, v in chunk.items() if k not in skip and k[:2] != "__"]
    ret = call("state.single", f"{chunk['state']}.{chunk['fun']}", *args, test=test)
    assert isinstance(ret.data, dict), ret
    (result,) = ret.data.values()
    return result


@pytest.mark.parametrize("osd", sorted(RUNBOOK))
@pytest.mark.parametrize("run", sorted(OUTSIDE_ITS_RUN))
def test_outside_its_upgrade_run_a_node_is_not_rebooted_nor_its_server_software_changed(
    call, run, osd
):
    pillar = node_pillar(osd, evacuated_node=OUTSIDE_ITS_RUN[run])
    states = by_id(low_chunks(call, HIGHSTATE, pillar))
    # No reboot: no command but the firewall's runtime rule, no gate waiting for a reboot.
    commands = [i for i, c in states.items() if c["state"] == "cmd"]
    assert commands == ["lustre-ha-firewall-high-availability-runtime"]
    assert "lustre-server-reboot-into-lustre-kernel" not in states
    assert "lustre-server-running-lustre-kernel" not in states
    # No package state for the server software: only epel-release, a repository definition.
    packages = {n for c in states.values() if c["state"] == "pkg" for n in package_names(c)}
    assert sorted(n for n in packages if PROTECTED.match(n)) == []
    assert packages == {"epel-release"}
    # No service stopped or disabled.
    services = [c for c in states.values() if c["state"] == "service"]
    assert {c["fun"] for c in services} == {"running"}
    assert all(c.get("enable") is True for c in services)
    # Instead, what the upgrade run of this node would change.
    reports = [i for i, c in states.items() if c["state"] == "lustre_server"]
    assert sorted(reports) == sorted(PENDING_REPORTS)
    assert {states[i]["fun"] for i in reports} == {"upgrade_pending"}


@pytest.mark.parametrize("osd", sorted(RUNBOOK))
def test_a_run_key_for_another_node_renders_as_no_upgrade_run(call, osd):
    others = low_chunks(call, HIGHSTATE, node_pillar(osd, evacuated_node="el7-peer"))
    without = low_chunks(call, HIGHSTATE, node_pillar(osd, evacuated_node=None))
    assert others == without


@pytest.mark.parametrize("osd", sorted(RUNBOOK))
def test_outside_its_upgrade_run_the_highstate_runs_through_and_keeps_the_hostid(call, osd):
    # firewalld.present does not load on this machine (no firewall-cmd): firewall disabled.
    pillar = node_pillar(osd, evacuated_node=None, firewall="disabled")
    results = mock_run(call, HIGHSTATE, pillar)
    order = run_order(results)
    assert set(PENDING_REPORTS) <= set(order)
    # The hostid in effect made persistent (never changed): configuration, kept.
    assert ("lustre-server-hostid-persistent" in order) is RUNBOOK[osd]["hostid"]
    assert order.index("lustre-repos-e2fsprogs-wc-managed") < order.index(PENDING_REPORTS[0])


@pytest.mark.parametrize("test", [False, True], ids=["run", "test-mode"])
def test_the_pending_report_names_the_kernel_and_the_reboot_and_changes_nothing(call, rpmdb, test):
    """Run for real on this EL7-looking minion, where no package is installed."""
    rpmdb.reset()
    pillar = node_pillar("ldiskfs", evacuated_node=None)
    result = pending(call, "lustre.server", PENDING_REPORTS[0], pillar, test=test)
    assert (result["result"], result["changes"]) == (True, {}), result
    comment = result["comment"]
    for name in KERNEL_PACKAGES:
        assert f"- {name}: not installed, wanted {PATCHED_KERNEL}\n" in comment, comment
    assert "- e2fsprogs: not installed, wanted the newest of e2fsprogs-wc\n" in comment
    running = subprocess.run(["uname", "-r"], capture_output=True, text=True).stdout.strip()
    assert f"- reboot into {PATCHED_KERNEL}.x86_64 (running {running})" in comment
    assert f"lustre_upgrade_run:evacuated_node: {MINION}" in comment
    assert "Nothing was changed" in comment


def test_the_pending_report_names_kernel_tools_newer_than_the_lustre_kernel(call, rpmdb):
    rpmdb.reset([(n, "3.10.0", "1160.el7") for n in ("kernel-tools", "kernel-tools-libs")])
    try:
        pillar = node_pillar("ldiskfs", evacuated_node="el7-peer")
        result = pending(call, "lustre.server", PENDING_REPORTS[0], pillar)
    finally:
        rpmdb.reset()
    assert (result["result"], result["changes"]) == (True, {}), result
    for name in ("kernel-tools", "kernel-tools-libs"):
        assert (
            f"- {name}: installed 3.10.0-1160.el7, newer than {PATCHED_KERNEL}: removed\n"
        ) in result["comment"]
        assert (
            f"- {name}: installed 3.10.0-1160.el7, wanted {PATCHED_KERNEL}\n" in result["comment"]
        )


def test_the_pending_reports_name_the_missing_lustre_ha_and_agent_packages(call, rpmdb):
    rpmdb.reset()
    pillar = node_pillar("zfs", evacuated_node=None)
    for sls, ident, names in [
        ("lustre.server", PENDING_REPORTS[1], RUNBOOK["zfs"]["packages"]),
        ("lustre.ha", PENDING_REPORTS[2], ["pcs", "pacemaker", "corosync", "fence-agents-all"]),
        ("iml.agent", PENDING_REPORTS[3], ["chroma-agent", "chroma-diagnostics"]),
    ]:
        result = pending(call, sls, ident, pillar)
        assert (result["result"], result["changes"]) == (True, {}), result
        for name in names:
            assert f"- {name}: not installed\n" in result["comment"], (ident, result["comment"])


def test_a_node_running_the_upgraded_software_has_nothing_pending(call, rpmdb):
    version, release = PATCHED_KERNEL.split("-", 1)
    installed = [(n, version, release) for n in KERNEL_PACKAGES]
    installed += [("e2fsprogs", "1.45.6.wc1", "0.el7")]
    installed += [(n, "2.10.8", "1.el7") for n in RUNBOOK["ldiskfs"]["packages"]]
    running = {"server": {"reboot": {"running_kernel_command": f"echo {PATCHED_KERNEL}.x86_64"}}}
    pillar = node_pillar("ldiskfs", evacuated_node=None, **running)
    rpmdb.reset(installed)
    try:
        results = [pending(call, "lustre.server", i, pillar) for i in PENDING_REPORTS[:2]]
    finally:
        rpmdb.reset()
    for result in results:
        assert (result["result"], result["changes"]) == (True, {}), result
        assert result["comment"].startswith("Nothing pending"), result["comment"]


def test_for_the_node_its_upgrade_run_evacuated_the_tree_is_the_upgrade_itself(call):
    states = by_id(low_chunks(call, HIGHSTATE, node_pillar("ldiskfs", evacuated_node=MINION)))
    assert [i for i in states if i in PENDING_REPORTS] == []
    reboot = states["lustre-server-reboot-into-lustre-kernel"]
    assert reboot["name"] == NO_REBOOT["server"]["reboot"]["command"]
    for step in server_steps("ldiskfs") + HA_STEPS + ["iml-agent-packages-installed"]:
        assert step in states, step


@pytest.mark.parametrize(
    "value", [[MINION], True, {"minion": MINION}], ids=["list", "bool", "dict"]
)
def test_a_run_key_that_is_not_one_minion_id_names_the_key_and_applies_nothing(call, value):
    pillar = node_pillar("ldiskfs", evacuated_node=value)
    error = render_error(call("state.apply", "lustre.server", pillar=pillar, test=True))
    assert "pillar lustre_upgrade_run:evacuated_node is" in error
    assert "Nothing was applied" in error


# --- the whole tree ---------------------------------------------------------------------


def test_every_state_file_renders_together_without_id_conflicts(call):
    sls = "lustre.restore,lustre.server,lustre.ha,iml.agent,lustre.verify"
    chunks = low_chunks(call, sls, run_pillar("ldiskfs-zfs"))
    by_id(chunks)
    assert {c["__sls__"] for c in chunks} == {
        "lustre.repos",
        "lustre.restore",
        "lustre.server.kernel",
        "lustre.server",
        "lustre.ha",
        "iml.agent.repo",
        "iml.agent.install",
        "iml.agent",
        "lustre.verify",
    }


def test_top_file_gives_pillar_nodes_the_server_configuration(call, salt_cli, minions):
    ret = salt_cli.run("state.show_top", minion_tgt="oss1-a")
    assert ret.returncode == 0, ret
    assert ret.data == {"base": ["lustre.extension", "lustre.server", "lustre.ha", "iml.agent"]}
    ret = call("state.show_top")
    assert ret.returncode == 0, ret
    assert ret.data == {}


# --- bad input: a clear error naming the pillar key, nothing applied --------------------


@pytest.mark.parametrize("sls", ["lustre.server", "lustre.ha", "iml.agent", "lustre.verify"])
def test_a_minion_without_a_node_entry_names_the_key_and_applies_nothing(call, sls):
    error = render_error(call("state.apply", sls, test=True))
    assert "lustre_upgrade:pairs:*:nodes:*:minion" in error
    assert MINION in error
    assert "Nothing was applied" in error


def test_a_minion_listed_twice_names_both_pairs(call):
    node = node_pillar()["lustre_upgrade"]["pairs"][PAIR]["nodes"][0]
    pillar = node_pillar(pairs={"other": {"nodes": [node]}})
    error = render_error(call("state.apply", "lustre.server", pillar=pillar, test=True))
    assert "listed 2 times" in error and "el7, other" in error


@pytest.mark.parametrize(
    ("node_osd", "pair_osd", "key"),
    [
        ("btrfs", None, f"lustre_upgrade:pairs:{PAIR}:nodes:0:osd"),
        (None, "ldiskfs+zfs", f"lustre_upgrade:pairs:{PAIR}:osd"),
    ],
    ids=["node", "pair"],
)
def test_an_unknown_osd_flavour_names_the_key_and_the_allowed_values(call, node_osd, pair_osd, key):
    pillar = node_pillar(node_osd, pair_osd)
    error = render_error(call("state.apply", "lustre.server", pillar=pillar, test=True))
    assert f"pillar {key} is " in error
    assert "the allowed values are ldiskfs, ldiskfs-zfs, zfs" in error


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        (None, "is missing or empty"),
        ("", "is missing or empty"),
        (12345678, "is not a string"),
        (
            "-----BEGIN PGP MESSAGE-----\n\nhQEMA\n-----END PGP MESSAGE-----\n",
            "still GPG-encrypted",
        ),
    ],
    ids=["absent", "empty", "number", "not-decrypted"],
)
def test_a_missing_hacluster_secret_names_the_key_and_applies_nothing(call, secret, expected):
    pillar = node_pillar("ldiskfs", secrets={"hacluster_password": secret})
    error = render_error(call("state.apply", "lustre.ha", pillar=pillar, test=True))
    assert "lustre_upgrade:secrets:hacluster_password" in error
    assert expected in error


def test_an_unknown_firewall_choice_names_the_key(call):
    pillar = node_pillar("ldiskfs", firewall="off")
    error = render_error(call("state.apply", "lustre.ha", pillar=pillar, test=True))
    assert "lustre_upgrade:firewall is off" in error
    assert "high-availability, disabled" in error


def test_a_missing_repository_url_names_the_key(call):
    repos = {**PILLAR_EXAMPLE["repos"], "e2fsprogs-wc": ""}
    pillar = node_pillar("ldiskfs", repos=repos)
    error = render_error(call("state.apply", "lustre.server", pillar=pillar, test=True))
    assert "lustre_upgrade:repos:e2fsprogs-wc is missing" in error


def test_an_unknown_lustre_repo_source_names_the_key(call):
    pillar = node_pillar("ldiskfs", server={"lustre_repos": "mirror"})
    error = render_error(call("state.apply", "lustre.server", pillar=pillar, test=True))
    assert "lustre_upgrade:server:lustre_repos is mirror" in error
