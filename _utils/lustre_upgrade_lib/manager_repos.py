"""
The manager's Lustre repositories (runbook "Create Local Repositories for the Lustre
Packages"), from the ``lustre_upgrade:manager:repos`` settings and the upstream base URLs
of ``lustre_upgrade:repos``:

- ``mirror``: the temporary yum configuration reposync reads (the runbook's
  ``/tmp/lustre-repo.conf``: debuginfo excluded unless asked), then
  ``Manager-for-Lustre.repo`` for the manager's FQDN, every repository served by the
  manager with the client-certificate settings;
- ``upstream``: ``Manager-for-Lustre.repo`` holds the agent repository only; each server
  gets the upstream definitions of the Lustre repositories from ``lustre.repos`` (pillar
  ``lustre_upgrade:repos``) and installs Lustre from the download servers directly (the
  runbook's alternative). The manager checks they answer.
"""

from . import iml_repos, manager_pillar

LATEST = "latest-release"


def upstream_urls(settings, repos):
    """``{id: base URL}`` of the repositories to mirror or distribute: the pillar's, with
    ``latest-release`` replaced by ``lustre-<release>`` for a pinned release (the runbook's
    note; e2fsprogs always the latest)."""
    release = settings["repos"].get("release", "latest")
    urls = {}
    for name in settings["repos"]["mirror"]:
        url = manager_pillar.baseurl(repos[name]).rstrip("/")
        if release != "latest" and name != "e2fsprogs-wc":
            url = url.replace(f"/{LATEST}/", f"/lustre-{release}/")
        urls[name] = url
    return urls


def _section(name, url, debuginfo):
    lines = [f"[{name}]", f"name={name}", f"baseurl={url}"]
    if not debuginfo:
        lines.append("exclude=*debuginfo*")
    return "\n".join([*lines, "gpgcheck=0"]) + "\n"


def mirror_config(urls, debuginfo=False):
    """The yum configuration reposync reads (runbook step 1), one section per repository."""
    return "\n".join(_section(name, url, debuginfo) for name, url in urls.items())


def manager_repo_text(fqdn, settings, urls):
    """``Manager-for-Lustre.repo`` for ``fqdn``: the agent repository and, in ``mirror``
    mode, the manager's mirrors, each with the client-certificate settings. In
    ``upstream`` mode it serves the agent repository only: the servers' ``lustre.repos``
    writes the upstream definitions of ``lustre_upgrade:repos`` on each node directly."""
    mirrored = list(urls) if settings["repos"]["mode"] == "mirror" else []
    return iml_repos.manager_repo_file(fqdn, repos=[iml_repos.AGENT_REPO_ID, *mirrored])


def probe_argv(url):
    """curl of a repository's index (``repodata/repomd.xml``): reachable or not."""
    return [
        "curl",
        "-sSf",
        "-o",
        "/dev/null",
        "--max-time",
        "15",
        url.rstrip("/") + "/repodata/repomd.xml",
    ]


def unreachable_finding(name, url, minion, ret):
    """The finding for a repository whose probe failed on ``minion``; None when it answered."""
    if ret.get("retcode") == 0:
        return None
    why = (ret.get("stderr") or ret.get("stdout") or f"exit {ret.get('retcode')}").strip()
    return (
        f"upstream repository {name} ({url}) is not reachable from {minion}: {why}; fix "
        f"pillar lustre_upgrade:repos:{name} or the network, nothing was changed"
    )
