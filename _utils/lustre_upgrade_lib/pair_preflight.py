"""
The preflight of one HA pair's upgrade, read from what the master took from the OLD
cluster (EL6 Pacemaker 1.1, or the lab's 2.1): ``crm_mon --one-shot --as-xml`` and
``cibadmin --query``.

Pure: XML text in, ``cluster_health.finding`` records out, so the runner reports every
problem at once and decides. Remedies are commands EL6's Pacemaker 1.1 has
(``crm_resource``, ``crm_attribute``, ``cibadmin``), never pcs: the old nodes are the ones
these findings are about, and their pcs (if any) is not the one this extension speaks.
"""

import json

from salt.exceptions import CommandExecutionError

from . import cib, cluster_health, iml_repos

MIB = 1024 * 1024
# The manager release the new servers' agents speak to (IML 4.0): phase 4 installs their agent
# from its repository, so the pair waits for the manager's own upgrade.
MANAGER_RELEASE_MAJOR = 4
MANAGER_HEALTH_PATH = "/api/health"
_MON_ROOTS = ("crm_mon", "pacemaker-result")


def _order(found):
    # The ledger and the admin read findings in this order: stable across runs and masters.
    return found["check"], found["message"]


def cluster_findings(crm_mon_xml, cib_xml, node_names, source="old cluster"):
    """
    Every finding that keeps the pair ``node_names`` (their names in the old cluster, as
    crm_mon shows them) from an online upgrade, sorted by check then message: the
    cluster's health (``cluster_health.findings``), no target in the CIB, a target
    stopped, active on more than one node or disabled (target-role Stopped), and a
    location constraint that keeps a target from a node of the pair. ``crm_mon_xml``
    may also be ``cluster_health``'s health record itself (``read_cib_health``).
    Unreadable XML raises CommandExecutionError naming ``source``.
    """
    nodes = list(node_names)
    if isinstance(crm_mon_xml, dict):  # read_cib_health's record, read without crm_mon
        health = crm_mon_xml
    else:
        health = cluster_health.read_crm_mon(crm_mon_xml, f"{source} crm_mon")
    config = _read_cib(cib_xml, f"{source} CIB")
    found = cluster_health.findings(health, nodes)
    targets = [rsc for rsc in config["resources"] if cib.agent_of(rsc) == cib.TARGET_AGENT]
    if not targets:
        found.append(
            cluster_health.finding(
                "targets",
                f"the {source}'s CIB holds no {cib.TARGET_AGENT} resource",
                f"check that {' and '.join(nodes)} are the pair's nodes and that their CIB "
                "is IML's (`cibadmin --query --scope resources` on one of them)",
            )
        )
    placement = config["placement"]
    if targets and not placement:
        # A CIB without its status section (--scope configuration) says nothing of where
        # targets run; crm_mon does, rather than calling every target stopped.
        placement = cib.parse_cib(crm_mon_xml, f"{source} crm_mon")["placement"]
    for target in targets:
        found += _target_findings(target, sorted(placement.get(target["id"], [])))
    found += _location_findings(config["locations"], {t["id"] for t in targets}, nodes)
    return sorted(found, key=_order)


def _read_cib(xml, source):
    # cib.parse_root reads crm_mon XML too; here it would hide every meta attribute and
    # constraint (crm_mon shows neither), so a swapped argument is an error, not a pass.
    root = cib.parse_xml(xml, source)
    if root.tag in _MON_ROOTS:
        raise CommandExecutionError(
            f"{source}: <{root.tag}> is crm_mon XML, not a CIB; give `cibadmin --query` output"
        )
    return cib.parse_root(root, source)


def _role_parameter(target):
    """The meta attribute that holds the target's role, as the CIB spells it."""
    meta = target.get("meta") or {}
    return "target_role" if "target_role" in meta and "target-role" not in meta else "target-role"


def _target_findings(target, active_on):
    rsc = target["id"]
    enable = f"crm_resource --resource {rsc} --meta --delete-parameter {_role_parameter(target)}"
    found = []
    if cib.is_stopped(target):
        found.append(
            cluster_health.finding(
                "target-role",
                f"target {rsc} is disabled: its meta {_role_parameter(target)} is Stopped",
                enable,
            )
        )
    if not active_on:
        found.append(
            cluster_health.finding(
                "target-stopped",
                f"target {rsc} is stopped: it runs on no node",
                "find the cause in `crm_mon -1 --show-detail --failcounts`, fix it, then "
                + (
                    enable if cib.is_stopped(target) else f"crm_resource --cleanup --resource {rsc}"
                ),
            )
        )
    elif len(active_on) > 1:
        # Two mounts of one Lustre target corrupt it: only the admin can tell which
        # node really holds it; Pacemaker's recovery (stop everywhere) is not a fix.
        where = " and ".join(active_on)
        found.append(
            cluster_health.finding(
                "target-multiple-active",
                f"target {rsc} is active on {len(active_on)} nodes: {where}",
                f"check `mount -t lustre` on {where}, unmount it (or fence the node) where "
                f"it must not run, then crm_resource --cleanup --resource {rsc}",
            )
        )
    return found


def _location_findings(locations, target_ids, nodes):
    """Constraints that keep a target off a node of the pair, or pin it somewhere."""
    found = []
    for loc in locations:
        if loc["rsc"] not in target_ids:
            continue
        temporary = cib.is_temporary(loc)
        value = cib.score(loc["score"])
        banned = value == float("-inf")
        if not (temporary or banned) or (loc["node"] and loc["node"] not in nodes):
            continue
        node = f"node {loc['node']}" if loc["node"] else "the nodes its rule selects"
        if banned:
            what = f"bans target {loc['rsc']} from {node}"
        elif value is not None and value > 0:
            what = f"pins target {loc['rsc']} to {node} (score {loc['score']})"
        else:
            what = f"keeps target {loc['rsc']} from {node} (score {loc['score']})"
        if loc["id"].startswith(cib.CLI_CONSTRAINT_PREFIXES):
            # crm_resource --clear removes every cli-* constraint of the resource.
            remedy = f"crm_resource --clear --resource {loc['rsc']}"
        else:
            remedy = f"cibadmin --delete --xml-text '<rsc_location id=\"{loc['id']}\"/>'"
        if temporary or loc["node"]:
            kind = "temporary location constraint" if temporary else "location constraint"
            found.append(cluster_health.finding("location", f"{kind} {loc['id']} {what}", remedy))
        else:
            # A rule may or may not select a node of the pair: only the admin can read it.
            found.append(
                cluster_health.finding(
                    "location",
                    f"location constraint {loc['id']} {what}, which may be one of "
                    + ", ".join(nodes),
                    "read it with `cibadmin --query --scope constraints`; if it bans a node "
                    f"of the pair: {remedy}",
                    severity=cluster_health.WARNING,
                )
            )
    return found


def reachability_findings(nodes, grains):
    """A finding for each node whose minion gave no ``grains.item`` answer; each node
    that answered gets its ``os_family`` and ``osmajorrelease``."""
    findings = []
    for node in nodes:
        answer = grains.get(node["minion"])
        if not isinstance(answer, dict):
            findings.append(
                f"minion {node['minion']} did not answer: start its salt-minion and check "
                f"`salt-key -L` on the master"
            )
            continue
        node["os_family"] = answer.get("os_family")
        node["osmajorrelease"] = answer.get("osmajorrelease")
    return findings


def disk_space_finding(free_bytes, needed_bytes, path):
    """An inhibitor when ``path`` has less than ``needed_bytes`` free, else None."""
    if free_bytes >= needed_bytes:
        return None
    return cluster_health.finding(
        "disk-space",
        f"only {free_bytes / MIB:.1f} MiB free under {path}, "
        f"{needed_bytes / MIB:.1f} MiB needed for the pair's backups",
        f"free space under {path} or move the master's cachedir",
    )


def finding_text(finding):
    """One line for the admin: ``<message>: <remedy>``."""
    if not finding.get("remedy"):
        return finding["message"]
    return f"{finding['message']}: {finding['remedy']}"


def inhibitors(findings):
    """The findings that stop the run (severity inhibitor), in their order."""
    return [found for found in findings if found["severity"] == cluster_health.INHIBITOR]


def manager_urls(fqdn, port=None):
    """(agent repository file, health) URLs of the manager, as the servers reach it."""
    repo_url = iml_repos.agent_repo_url(fqdn, port)
    return repo_url, repo_url.split("/repo/", 1)[0] + MANAGER_HEALTH_PATH


def manager_probe_argv(url, client_certificate, cert_dir=iml_repos.CERT_DIR):
    """curl of ``url`` trusting the manager's CA; with the node's IML client certificate when
    ``client_certificate``. Core ``cmd.run_all`` runs it on an EL6 server too."""
    ca, cert, key = iml_repos.client_files(cert_dir)
    argv = ["curl", "-sSf", "--max-time", "15", "--cacert", ca]
    if client_certificate:
        argv += ["--cert", cert, "--key", key]
    return [*argv, url]


def manager_findings(fqdn, minion, repo_ret, health_ret, port=None):
    """
    What keeps the pair from starting while its manager is not the upgraded one, as
    ``minion`` sees it: ``repo_ret`` and ``health_ret`` are the ``cmd.run_all`` returns of
    ``manager_probe_argv`` on the agent repository file (client certificate) and on the
    health URL.
    """
    repo_url, health_url = manager_urls(fqdn, port)
    upgrade = "upgrade the manager first: salt-run state.orch orch.upgrade_manager"
    found = []
    if repo_ret.get("retcode") != 0:
        found.append(
            cluster_health.finding(
                "manager-repo",
                f"{repo_url} does not answer {minion} with its IML client certificate: "
                f"{_curl_error(repo_ret)}",
                f"check that the manager runs (chroma-config status on {fqdn}), that "
                f"{fqdn} resolves on {minion}, and that {minion}'s "
                f"{iml_repos.CERT_DIR}/self.crt is the one the manager issued",
            )
        )
    if health_ret.get("retcode") != 0:
        found.append(
            cluster_health.finding(
                "manager-health",
                f"{health_url} does not answer {minion}: {_curl_error(health_ret)}",
                f"check that the manager and its database run on {fqdn} (chroma-config "
                f"status; service postgresql status), or {upgrade}",
            )
        )
        return found
    try:
        health = json.loads(health_ret.get("stdout") or "")
        release = str(health["release"])
        major = int(release.split(".", 1)[0])
    except (ValueError, KeyError, TypeError):
        found.append(
            cluster_health.finding(
                "manager-health",
                f"{health_url} answers {minion} without a release: not an IML manager",
                f"check that lustre_upgrade:manager:fqdn ({fqdn}) names the IML manager",
            )
        )
        return found
    if major < MANAGER_RELEASE_MAJOR:
        found.append(
            cluster_health.finding(
                "manager-release",
                f"the IML manager {fqdn} runs release {release}, not "
                f"{MANAGER_RELEASE_MAJOR}.x: the new servers' agents need the upgraded manager",
                upgrade,
            )
        )
    elif health.get("schema_current") is not True:
        found.append(
            cluster_health.finding(
                "manager-schema",
                f"the IML manager {fqdn} runs release {release} on a database it has not "
                f"migrated (schema {health.get('schema_version')})",
                f"run `chroma-config setup` on {fqdn}, or {upgrade}",
            )
        )
    return found


def _curl_error(ret):
    return (ret.get("stderr") or ret.get("stdout") or f"exit {ret.get('retcode')}").strip()
