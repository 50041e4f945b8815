"""
IML (Intel/Integrated Manager for Lustre): the target store, repositories and agent repo.

Manager side (runbook "Create Local Repositories for the Lustre Packages"): mirror the
Lustre repositories with reposync, index them with createrepo, and write
``/var/lib/chroma/repo/Manager-for-Lustre.repo``, the repository definition every server
fetches.

Agent side (runbook "Install the IML Agent" and the mount-point step of "Configure the
High Availability Framework"): fetch that file from the manager with the node's client
certificate, and create the mount point of every target in IML's target store
``/var/lib/chroma/targets`` (one single-line JSON object per file: ``bdev``, ``mntpt``,
``backfstype``, ``device_type``, ``target_name``). The ``ocf:chroma:Target`` resource agent
fails when a mount point is missing.

The file formats, command lines and checks are the library's (``lustre_upgrade_lib.iml_store``
and ``iml_repos``); this module runs the tools and touches the node.
"""

import os
import socket
import ssl
import urllib.error
import urllib.request

import salt.utils.path
from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    import lustre_upgrade_lib
    from lustre_upgrade_lib import (
        commandline,
        fileio,
        iml_repos,
        iml_store,
        manager_checks,
        manager_repos,
    )
except ImportError as exc:
    _MISSING = f"{exc}: sync _utils/ with saltutil.sync_all, or pip install the extension"
else:
    _MISSING = None

__virtualname__ = "iml"

# Defaults of the public functions (the library's constants, spelled out so that a
# module whose library is missing still loads far enough to say so in __virtual__).
TARGETS_DIR = "/var/lib/chroma/targets"
CERT_DIR = "/var/lib/chroma"
REPO_DIR = "/var/lib/chroma/repo"
MANAGER_REPO_PATH = "/var/lib/chroma/repo/Manager-for-Lustre.repo"
AGENT_REPO_PATH = "/etc/yum.repos.d/Manager-for-Lustre.repo"
DEFAULT_REPOS = ("iml-agent", "lustre-server", "lustre-client", "e2fsprogs-wc")
MIRRORED_REPOS = ("lustre-server", "lustre-client", "e2fsprogs-wc")
# Seconds each reposync and createrepo may run: a first mirror downloads every package.
MIRROR_TIMEOUT = 4 * 3600
# The runbook's /tmp/lustre-repo.conf, kept root-only beside the run's other files.
MIRROR_CONFIG = "/var/lib/lustre-upgrade/lustre-repo.conf"
PROBE_TIMEOUT = 60


def __virtual__():
    if _MISSING:
        return (False, f"iml needs the library lustre_upgrade_lib: {_MISSING}")
    lustre_upgrade_lib.reload_changed()
    return __virtualname__


# --- target store -----------------------------------------------------------------------


def targets(path=TARGETS_DIR):
    """
    Return IML's target store: one dict per file, with ``file`` and the target's keys.

    Files are those the runbook's ``/var/lib/chroma/targets/*`` glob sees: regular files
    not starting with a dot, in name order. Every file is validated; corrupt JSON, a
    missing ``mntpt`` or a relative ``mntpt`` raises one error naming each bad file and
    key.

    CLI Example:

    .. code-block:: bash

        salt '*' iml.targets
        salt '*' iml.targets path=/root/bck-oss1/var/lib/chroma/targets
    """
    return iml_store.read_store(path)


def mountpoints(path=TARGETS_DIR):
    """
    Return each target's mount point and whether it is there: ``{mntpt: state}``.

    ``state`` is ``present`` (a directory), ``missing``, or ``not-a-directory``.

    CLI Example:

    .. code-block:: bash

        salt '*' iml.mountpoints
    """
    return iml_store.mountpoints(path)


def make_mountpoints(path=TARGETS_DIR, mode="0755", test=False):
    """
    Create every missing target mount point (and missing parents) with ``mode``.

    All target files are validated and every mount point checked before anything is
    created. Existing directories are left as they are: a mounted target's root would
    otherwise be changed. Returns ``{"created": [...], "present": [...]}``.

    CLI Example:

    .. code-block:: bash

        salt '*' iml.make_mountpoints
        salt '*' iml.make_mountpoints test=True
    """
    perm = iml_store.parse_mode(mode)
    plan = iml_store.mountpoint_plan(iml_store.mountpoints(path))
    if not test:
        for mntpt in plan["created"]:
            _mkdirs(mntpt, perm)
    return plan


def _mkdirs(path, perm):
    todo = []
    current = path
    while not os.path.exists(current):
        todo.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(todo):
        try:
            os.mkdir(directory, perm)
        except FileExistsError:
            continue
        except OSError as exc:
            raise CommandExecutionError(f"cannot create mount point {directory}: {exc}") from exc
        # mkdir(2) applies the umask; the resource agent needs the mode asked for.
        os.chmod(directory, perm)


# --- manager: repository definition ------------------------------------------------------


def manager_repo_file(hostname, repos=DEFAULT_REPOS, cert_dir=CERT_DIR, agent_release="7"):
    """
    Return the text of ``Manager-for-Lustre.repo`` exactly as the runbook's script writes it.

    ``iml-agent`` is served from ``https://HOST/repo/iml-agent/<agent_release>``, every
    other repository from ``https://HOST/repo/<id>``; each uses the node's IML client
    certificate and no proxy. ``hostname`` must be the name the servers reach the manager
    by (normally its FQDN).

    CLI Example:

    .. code-block:: bash

        salt manager iml.manager_repo_file mgr.lfs.intl
    """
    return iml_repos.manager_repo_file(
        hostname, repos=repos, cert_dir=cert_dir, agent_release=agent_release
    )


def write_manager_repo_file(hostname=None, path=MANAGER_REPO_PATH, repos=DEFAULT_REPOS, test=False):
    """
    Write ``Manager-for-Lustre.repo`` on the manager (atomically); report whether it changed.

    ``hostname`` defaults to the minion's FQDN (the runbook's ``hostname --fqdn``).

    CLI Example:

    .. code-block:: bash

        salt manager iml.write_manager_repo_file
        salt manager iml.write_manager_repo_file hostname=mgr.lfs.intl test=True
    """
    hostname = hostname or __grains__.get("fqdn")
    text = iml_repos.manager_repo_file(hostname, repos=repos)
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise CommandExecutionError(
            f"{directory} does not exist: install the IML manager first (it serves "
            f"{REPO_DIR} at https://HOST/repo/), or pass path="
        )
    result = _install_file(path, text.encode(), test)
    return {**result, "hostname": hostname}


def _install_file(path, new, test):
    """Write ``new`` to ``path`` atomically (0644) unless it holds it already."""
    try:
        old = fileio.read_bytes(path)
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {path}: {exc}") from exc
    changed = old != new
    if changed and not test:
        fileio.atomic_write(path, new, mode=0o644)
    return {"changed": changed, "path": path, "diff": iml_repos.file_diff(old, new, path)}


# --- manager: mirrors --------------------------------------------------------------------


def reposync_argv(flavour, config, repos, dest, newest_only=True):
    """
    Return the reposync command line for ``flavour`` ``dnf`` or ``yum`` (yum-utils, EL7).

    Both download every repository into ``dest/<repo id>``, as the runbook's
    ``cd /var/lib/chroma/repo; reposync -c CONF -n -r ID …`` does.

    CLI Example:

    .. code-block:: bash

        salt manager iml.reposync_argv yum /tmp/lustre-repo.conf lustre-server /var/lib/chroma/repo
    """
    return iml_repos.reposync_argv(flavour, config, repos, dest, newest_only=newest_only)


def createrepo_argv(tool, directory, update=False):
    """
    Return the createrepo/createrepo_c command line that indexes ``directory``.

    CLI Example:

    .. code-block:: bash

        salt manager iml.createrepo_argv createrepo_c /var/lib/chroma/repo/lustre-server
    """
    return iml_repos.createrepo_argv(tool, directory, update=update)


def mirror_repos(
    config,
    repos=MIRRORED_REPOS,
    dest=REPO_DIR,
    newest_only=True,
    flavour=None,
    timeout=MIRROR_TIMEOUT,
):
    """
    Mirror yum repositories into ``dest/<id>`` and index each one; each reposync and
    createrepo run must finish within ``timeout`` seconds.

    ``config`` is a yum/dnf configuration holding the repositories (the runbook's
    ``/tmp/lustre-repo.conf``). Uses ``dnf reposync`` (dnf-plugins-core) where it works,
    else yum-utils ``reposync``; then ``createrepo_c``, else ``createrepo``. Returns
    ``{"dest", "flavour", "repos": {id: {"path", "packages"}}}``.

    CLI Example:

    .. code-block:: bash

        salt manager iml.mirror_repos /tmp/lustre-repo.conf
        salt manager iml.mirror_repos /tmp/lustre-repo.conf repos=lustre-server,e2fsprogs-wc
    """
    repos = iml_repos.repo_ids(repos, "mirror_repos")
    if not os.path.isfile(config):
        raise CommandExecutionError(
            f"repository configuration {config} does not exist: write it first (runbook: "
            "the [lustre-server], [lustre-client] and [e2fsprogs-wc] definitions)"
        )
    flavour = flavour or _reposync_flavour(config)
    creator = _createrepo_tool()
    os.makedirs(dest, exist_ok=True)
    argv = iml_repos.reposync_argv(flavour, config, repos, dest, newest_only)
    _run(argv, "reposync", timeout)
    result = {}
    for repo in repos:
        directory = os.path.join(dest, repo)
        # An empty upstream repository leaves no directory; index it anyway so the
        # servers' yum does not fail on a missing repodata.
        os.makedirs(directory, exist_ok=True)
        update = os.path.isdir(os.path.join(directory, "repodata"))
        _run(iml_repos.createrepo_argv(creator, directory, update=update), "createrepo", timeout)
        packages = sum(
            1 for _root, _dirs, files in os.walk(directory) for f in files if f.endswith(".rpm")
        )
        result[repo] = {"path": directory, "packages": packages}
    return {"dest": dest, "flavour": flavour, "repos": result}


def _reposync_flavour(config):
    if "iml.reposync_flavour" in __context__:
        return __context__["iml.reposync_flavour"]
    flavour = None
    if salt.utils.path.which("dnf"):
        res = __salt__["cmd.run_all"](
            ["dnf", "reposync", "-c", config, "--help"],
            python_shell=False,
            ignore_retcode=True,
            output_loglevel="quiet",
            timeout=PROBE_TIMEOUT,
        )
        if res["retcode"] == 0 and not commandline.timed_out(res):
            flavour = "dnf"
    if flavour is None and salt.utils.path.which("reposync"):
        flavour = "yum"
    if flavour is None:
        raise CommandExecutionError(
            "no reposync found: install dnf-plugins-core (dnf) or yum-utils (EL7 yum)"
        )
    __context__["iml.reposync_flavour"] = flavour
    return flavour


def _createrepo_tool():
    for tool in iml_repos.CREATEREPO_TOOLS:
        found = salt.utils.path.which(tool)
        if found:
            return found
    raise CommandExecutionError("neither createrepo_c nor createrepo is installed: install one")


def _run(argv, what, timeout):
    res = __salt__["cmd.run_all"](argv, python_shell=False, ignore_retcode=True, timeout=timeout)
    if commandline.timed_out(res):
        raise CommandExecutionError(
            f"{what} did not finish within {commandline.seconds(timeout)}s and was stopped: "
            f"{' '.join(argv)}; run it by hand to see where it stalls (a repository that "
            "does not answer?), or give a larger timeout="
        )
    if res["retcode"] != 0:
        raise CommandExecutionError(
            f"{what} failed (exit {res['retcode']}): {' '.join(argv)}\n"
            f"{(res.get('stderr') or res.get('stdout') or '').strip()}"
        )
    return res


def write_manager_repo_text(text, path=MANAGER_REPO_PATH, test=False):
    """
    Write ``text`` (a yum repository file the master built, e.g. the agent repository
    plus the upstream Lustre repositories) as ``Manager-for-Lustre.repo`` on the manager;
    checked as a repository file before anything is written.

    CLI Example:

    .. code-block:: bash

        salt manager iml.write_manager_repo_text "$(cat Manager-for-Lustre.repo)"
    """
    body = text.encode() if isinstance(text, str) else bytes(text)
    iml_repos.check_repo_text(body, "the repository file to write")
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise CommandExecutionError(
            f"{directory} does not exist: install the IML manager first (it serves "
            f"{REPO_DIR} at https://HOST/repo/), or pass path="
        )
    return _install_file(path, body, test)


def mirror_lustre(
    urls, debuginfo=False, dest=REPO_DIR, config=MIRROR_CONFIG, timeout=MIRROR_TIMEOUT
):
    """
    The runbook's "Create Local Repositories": write the temporary repository
    configuration for ``urls`` (``{id: base URL}``; ``*debuginfo*`` excluded unless
    ``debuginfo``), mirror each repository into ``dest/<id>`` with reposync (the newest
    packages) and index it. A second run downloads nothing new. Returns what
    ``mirror_repos`` returns, plus ``downloaded`` (new package files per repository).

    CLI Example:

    .. code-block:: bash

        salt manager iml.mirror_lustre '{lustre-server: https://downloads.whamcloud.com/public/lustre/latest-release/el7/server}'
    """
    if not isinstance(urls, dict) or not urls:
        raise SaltInvocationError("mirror_lustre needs urls={repository id: base URL}")
    text = manager_repos.mirror_config({str(k): str(v) for k, v in urls.items()}, debuginfo)
    os.makedirs(os.path.dirname(config), mode=0o700, exist_ok=True)
    fileio.atomic_write(config, text.encode(), mode=0o600)
    before = {repo: _rpms(os.path.join(dest, repo)) for repo in urls}
    result = mirror_repos(config, repos=list(urls), dest=dest, timeout=timeout)
    result["downloaded"] = {
        repo: len(_rpms(os.path.join(dest, repo)) - before[repo]) for repo in urls
    }
    return result


def _rpms(directory):
    return {
        os.path.join(root, name)
        for root, _dirs, files in os.walk(directory)
        for name in files
        if name.endswith(".rpm")
    }


# --- manager: service, database, health ----------------------------------------------


CHROMA_CONFIG_ACTIONS = ("stop", "start", "setup", "status")


def chroma_config(action, verbose=False, timeout=1800):
    """
    Run ``chroma-config <action>`` (stop, start, setup, status) on the manager; its
    output, or an error with chroma-config's own message.

    CLI Example:

    .. code-block:: bash

        salt manager iml.chroma_config setup
    """
    if action not in CHROMA_CONFIG_ACTIONS:
        raise SaltInvocationError(
            f"chroma-config action {action!r}: use one of {', '.join(CHROMA_CONFIG_ACTIONS)}"
        )
    if not salt.utils.path.which("chroma-config"):
        raise CommandExecutionError(
            "chroma-config is not installed: install the manager release first "
            "(state.apply iml.manager.install)"
        )
    argv = ["chroma-config", action] + (["-v"] if verbose and action == "setup" else [])
    res = _run(argv, f"chroma-config {action}", timeout)
    return {"action": action, "stdout": (res.get("stdout") or "")[-4000:]}


def restore_database(
    dump, database="chroma", psql="psql", pg_host=None, pg_port=None, timeout=3600
):
    """
    Restore the IML database from the backup's ``pg_dumpall --clean`` (``dump``, the
    ``pgbackup-*.sql.gz`` the restore staged), as the runbook's ``zcat … | su - postgres
    -c "psql postgres"``: ``psql`` runs as postgres and reads the dump on its stdin.

    The dump is checked first (it reads back, it is a complete ``pg_dumpall --clean``
    holding ``database``); one that is not is refused with the database untouched. A
    restore whose ``psql`` reports errors (other than the existing role of postgres
    itself) fails, naming them. Returns ``{"dump", "databases", "notices"}``.

    CLI Example:

    .. code-block:: bash

        salt manager iml.restore_database /root/bck-iml-20260101-120000/pgbackup-2026-01-01-12:00:00.sql.gz
    """
    try:
        with open(dump, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise CommandExecutionError(
            f"database dump {dump} cannot be read ({exc}): restore the manager's backup "
            "first (phase restore). The database was not touched"
        ) from exc
    text = manager_checks.read_dump(data, dump, database)
    argv = ["runuser", "-u", "postgres", "--", psql, "-X", "-q", "-v", "ON_ERROR_STOP=0"]
    argv += (["-h", str(pg_host)] if pg_host else []) + (["-p", str(pg_port)] if pg_port else [])
    argv += ["-d", "postgres"]
    res = __salt__["cmd.run_all"](
        argv,
        python_shell=False,
        stdin=text,
        ignore_retcode=True,
        timeout=timeout,
        output_loglevel="quiet",
        cwd="/",
    )
    if commandline.timed_out(res):
        raise CommandExecutionError(
            f"psql did not finish restoring {dump} within {commandline.seconds(timeout)}s: "
            "run the restore again (the dump drops and recreates every database)"
        )
    errors = manager_checks.restore_errors(res.get("stderr"))
    if res["retcode"] != 0 or errors:
        raise CommandExecutionError(
            f"psql restoring {dump} as postgres failed (exit {res['retcode']}): "
            f"{'; '.join(errors[:5]) or (res.get('stderr') or '').strip()[-500:]}; check that "
            "PostgreSQL runs (systemctl status postgresql) and run the restore again"
        )
    databases = sorted(
        line.split()[1].strip('";') for line in text.splitlines() if line.startswith("\\connect ")
    )
    return {"dump": dump, "databases": sorted(set(databases))}


def health(fqdn=None, cert_dir=CERT_DIR, port=None, timeout=30):
    """
    The manager's ``GET https://<fqdn>/api/health``, trusting its CA
    (``cert_dir/authority.crt``): release, schema version, registered servers.

    CLI Example:

    .. code-block:: bash

        salt manager iml.health iml.lfs.example
    """
    fqdn = fqdn or __grains__.get("fqdn")
    url = manager_checks.health_url(fqdn, port)
    try:
        body = fetch(url, os.path.join(cert_dir, iml_repos.CA_CERT), timeout=timeout)
    except CommandExecutionError as exc:
        if "HTTP 5" not in str(exc):
            raise
        raise CommandExecutionError(
            f"{url}: the manager answers but cannot read its database ({exc.message.split(';')[0]}): "
            "check PostgreSQL (systemctl status postgresql) and chroma-config setup's output"
        ) from exc
    return manager_checks.parse_health(body.decode("utf-8", "replace"), url)


# --- agent: repository definition from the manager --------------------------------------


def agent_repo_url(manager, port=None):
    """
    Return the URL of the manager's ``Manager-for-Lustre.repo``.

    CLI Example:

    .. code-block:: bash

        salt oss1-a iml.agent_repo_url mgr.lfs.intl
    """
    return iml_repos.agent_repo_url(manager, port)


def fetch_agent_repo(
    manager=None,
    dest=AGENT_REPO_PATH,
    cert_dir=CERT_DIR,
    port=None,
    url=None,
    timeout=30,
    test=False,
):
    """
    Fetch ``Manager-for-Lustre.repo`` from the manager and install it at ``dest``.

    The runbook's ``curl --cacert authority.crt --cert self.crt --key private.pem``: the
    manager is trusted through ``cert_dir/authority.crt`` and the node authenticates with
    its IML client certificate. The file is written atomically, only when it differs.
    With test=True the file is fetched and compared, never written. Returns
    ``{"changed", "path", "url", "diff"}``.

    CLI Example:

    .. code-block:: bash

        salt oss1-a iml.fetch_agent_repo manager=mgr.lfs.intl
        salt oss1-a iml.fetch_agent_repo manager=mgr.lfs.intl test=True
    """
    if not url:
        if not manager:
            raise SaltInvocationError("fetch_agent_repo needs manager=<IML manager FQDN>")
        url = iml_repos.agent_repo_url(manager, port)
    cafile, certfile, keyfile = _client_files(cert_dir)
    body = fetch(url, cafile, certfile, keyfile, timeout=timeout)
    iml_repos.check_repo_text(body, url)
    directory = os.path.dirname(dest) or "."
    if not os.path.isdir(directory):
        raise CommandExecutionError(f"{directory} does not exist: is this node using yum/dnf?")
    return {**_install_file(dest, body, test), "url": url}


def fetch(url, cafile, certfile=None, keyfile=None, timeout=30):
    """
    GET ``url`` over TLS, trusting only ``cafile``, with an optional client certificate.

    No proxy is used (the repository file says ``proxy=_none_``). Errors are
    CommandExecutionError saying which side refused and what to check.

    CLI Example:

    .. code-block:: bash

        salt oss1-a iml.fetch https://mgr.lfs.intl/repo/Manager-for-Lustre.repo \
            /var/lib/chroma/authority.crt /var/lib/chroma/self.crt /var/lib/chroma/private.pem
    """
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise CommandExecutionError(f"cannot load the CA certificate {cafile}: {exc}") from exc
    if certfile:
        try:
            context.load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise CommandExecutionError(
                f"cannot load the client certificate {certfile} with key {keyfile}: {exc}; "
                f"{iml_store.RESTORE_HINT}"
            ) from exc
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise CommandExecutionError(
            f"{url}: the manager answered HTTP {exc.code} {exc.reason}; check that "
            f"{MANAGER_REPO_PATH} exists on the manager (iml.write_manager_repo_file)"
        ) from exc
    except urllib.error.URLError as exc:
        raise _fetch_error(url, exc.reason, cafile, certfile) from exc
    except (ssl.SSLError, OSError) as exc:
        raise _fetch_error(url, exc, cafile, certfile) from exc


def _fetch_error(url, reason, cafile, certfile):
    hint = iml_store.RESTORE_HINT
    if isinstance(reason, ssl.SSLCertVerificationError):
        return CommandExecutionError(
            f"{url}: the manager's certificate is not trusted by {cafile} "
            f"({reason.verify_message}); the node's /var/lib/chroma belongs to another "
            f"manager or the URL names the manager differently than its certificate: "
            f"{hint}, and use the manager's FQDN"
        )
    alert = getattr(reason, "reason", None) or ""
    if isinstance(reason, ssl.SSLError) and "ALERT" in alert:
        who = (
            f"the client certificate {certfile}"
            if certfile
            else "a connection without a client certificate"
        )
        return CommandExecutionError(
            f"{url}: the manager refused {who} (TLS alert {alert}); the node needs the "
            f"client certificate the manager issued when it was registered: {hint}"
        )
    if isinstance(reason, (ConnectionResetError, BrokenPipeError)) or (
        isinstance(reason, ssl.SSLError) and "EOF" in str(reason)
    ):
        return CommandExecutionError(
            f"{url}: the manager closed the TLS connection ({reason}); it refuses clients "
            f"without a client certificate it issued: {hint}"
        )
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return CommandExecutionError(f"{url}: no answer from the manager ({reason})")
    return CommandExecutionError(
        f"{url}: cannot reach the manager ({reason}); check its name, DNS and firewall "
        "(https, port 443)"
    )


def _client_files(cert_dir):
    files = iml_repos.client_files(cert_dir)
    absent = [f for f in files if not os.path.isfile(f)]
    if absent:
        raise CommandExecutionError(
            f"missing IML certificate file(s): {', '.join(absent)}; {iml_store.RESTORE_HINT}"
        )
    return files
