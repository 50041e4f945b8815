"""
The ``lustre_upgrade:manager`` pillar of the IML manager's upgrade: what makes it
unusable, and its settings with their defaults.

Validation returns findings (sentences, each naming the pillar key to fix), as
``pair_pillar`` does for a pair, so the preflight lists them all before anything changes.

.. code-block:: yaml

    lustre_upgrade:
      manager:
        minion: iml                 # its minion id
        fqdn: iml.lfs.example       # the name the servers reach it by
        stop_agents: false          # stop chroma-agent on the registered servers first
        package: python2-iml-manager    # the manager release, from repos:iml-manager
        database: chroma            # the IML database (rows, servers, schema)
        min_free_mib: 512           # free space on the manager and on the master
        repos:
          mode: mirror              # or upstream (default: mirror when the servers'
                                    # lustre_upgrade:server:lustre_repos is manager)
          mirror: [lustre-server, lustre-client, e2fsprogs-wc]
          release: latest           # or a Lustre release, e.g. 2.10.8
          debuginfo: false
"""

from . import iml_repos, pair_pillar

REPO_MODES = ("mirror", "upstream")
# The repositories the runbook's "Create Local Repositories" knows.
RUNBOOK_REPOS = iml_repos.MIRRORED_REPOS
MANAGER_PACKAGE = "python2-iml-manager"
MANAGER_REPO = "iml-manager"
DEFAULTS = {
    "stop_agents": False,
    "package": MANAGER_PACKAGE,
    "database": "chroma",
    "min_free_mib": 512,
}
REPO_DEFAULTS = {"mirror": list(RUNBOOK_REPOS), "release": "latest"}
KNOWN_KEYS = ("minion", "fqdn", "repos", *DEFAULTS, "extension_packages", "mirror_packages")
REPO_KEYS = ("mode", "mirror", "release", "debuginfo")


def settings(config):
    """The manager's settings (``lustre_upgrade:manager`` with defaults); call after
    ``validate`` found nothing."""
    manager = dict(DEFAULTS, **(config.get("manager") or {}))
    repos = dict(REPO_DEFAULTS, debuginfo=False, mode=default_mode(config))
    manager["repos"] = dict(repos, **(manager.get("repos") or {}))
    return manager


def default_mode(config):
    """``mirror`` when the servers take their Lustre repositories from the manager
    (``lustre_upgrade:server:lustre_repos: manager``), else ``upstream``: the servers'
    ``lustre.repos`` writes the upstream definitions on each node."""
    server = config.get("server") if isinstance(config.get("server"), dict) else {}
    return "mirror" if server.get("lustre_repos") == "manager" else "upstream"


def baseurl(entry):
    """The base URL of a ``lustre_upgrade:repos`` entry (a URL or a mapping)."""
    return entry.get("baseurl") if isinstance(entry, dict) else entry


def validate(config, source=None):
    """
    The findings (strings, each naming a pillar key) that keep the manager's upgrade
    from starting; empty when it can run.
    """
    if not isinstance(config, dict):
        return [f"pillar key lustre_upgrade is missing: see {pair_pillar.EXAMPLE_FILE}"]
    findings = _findings(config)
    if source:
        findings = [f"{finding} (in {source})" for finding in findings]
    return findings


def _findings(config):
    manager = config.get("manager")
    if not isinstance(manager, dict):
        return [
            "pillar key lustre_upgrade:manager is missing: give at least its minion and fqdn "
            f"(see {pair_pillar.EXAMPLE_FILE})"
        ]
    key = "pillar key lustre_upgrade:manager"
    found = [f"{key}:{name} is missing" for name in ("minion", "fqdn") if not manager.get(name)]
    found += [
        f"{key}:{name} is not a setting of the manager's upgrade (known: {', '.join(KNOWN_KEYS)})"
        for name in sorted(set(manager) - set(KNOWN_KEYS))
    ]
    fqdn = manager.get("fqdn")
    if fqdn and (not isinstance(fqdn, str) or "." not in fqdn or fqdn != fqdn.lower()):
        found.append(f"{key}:fqdn ({fqdn}) is not a lowercase fully qualified name")
    if not isinstance(manager.get("stop_agents", False), bool):
        found.append(f"{key}:stop_agents must be true or false")
    mib = manager.get("min_free_mib", DEFAULTS["min_free_mib"])
    if isinstance(mib, bool) or not isinstance(mib, int) or mib < 0:
        found.append(f"{key}:min_free_mib must be a number of MiB (>= 0)")
    for name in ("package", "database"):
        value = manager.get(name, DEFAULTS[name])
        if not isinstance(value, str) or not value or not value.replace("-", "_").isidentifier():
            found.append(f"{key}:{name} ({value!r}) must be a package or database name")
    repos = config.get("repos") if isinstance(config.get("repos"), dict) else {}
    if not baseurl(repos.get(MANAGER_REPO)):
        found.append(
            f"pillar key lustre_upgrade:repos:{MANAGER_REPO} is missing: the repository of the "
            f"manager release ({manager.get('package', MANAGER_PACKAGE)})"
        )
    found += _repo_findings(manager.get("repos", {}), repos)
    found += _servers_findings(manager.get("repos", {}), config)
    return found + pair_pillar.rebuild_findings(config)


def _repo_findings(wanted, repos):
    key = "pillar key lustre_upgrade:manager:repos"
    if not isinstance(wanted, dict):
        return [f"{key} must be a mapping ({', '.join(REPO_KEYS)})"]
    found = [
        f"{key}:{name} is not a setting of the local repositories (known: {', '.join(REPO_KEYS)})"
        for name in sorted(set(wanted) - set(REPO_KEYS))
    ]
    mode = wanted.get("mode", "upstream")
    if mode not in REPO_MODES:
        found.append(f"{key}:mode is {mode!r}; expected one of {', '.join(REPO_MODES)}")
    names = wanted.get("mirror", list(RUNBOOK_REPOS))
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return [*found, f"{key}:mirror must list repository names ({', '.join(RUNBOOK_REPOS)})"]
    for name in names:
        if name not in RUNBOOK_REPOS:
            found.append(
                f"{key}:mirror names {name!r}, a repository the runbook does not know: use "
                f"{', '.join(RUNBOOK_REPOS)}"
            )
        elif not baseurl(repos.get(name)):
            found.append(
                f"pillar key lustre_upgrade:repos:{name} is missing: the upstream base URL of "
                f"{name} ({key}:mirror names it)"
            )
    release = wanted.get("release", "latest")
    if not isinstance(release, str) or not release or any(c in release for c in "/ \t"):
        found.append(f"{key}:release must be latest or a Lustre release such as 2.10.8")
    if not isinstance(wanted.get("debuginfo", False), bool):
        found.append(f"{key}:debuginfo must be true or false")
    return found


def _servers_findings(wanted, config):
    """The servers' ``lustre.repos`` and the manager's mode must agree: with ``mirror``
    the servers take the Lustre repositories from the manager's file, which their own
    pillar-written definitions would duplicate."""
    mode = wanted.get("mode") if isinstance(wanted, dict) else None
    server = config.get("server") if isinstance(config.get("server"), dict) else {}
    if mode == "mirror" and server.get("lustre_repos", "pillar") != "manager":
        return [
            "pillar key lustre_upgrade:manager:repos:mode is mirror (the servers install "
            "Lustre from the manager's Manager-for-Lustre.repo) but "
            "lustre_upgrade:server:lustre_repos is not manager (the servers would write the "
            "same repositories from lustre_upgrade:repos too): set lustre_repos: manager, or "
            "mode: upstream"
        ]
    return []
