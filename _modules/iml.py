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
"""

import configparser
import difflib
import json
import logging
import os
import posixpath
import socket
import ssl
import stat
import tempfile
import urllib.error
import urllib.request

import salt.utils.path
from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "iml"

TARGETS_DIR = "/var/lib/chroma/targets"
CERT_DIR = "/var/lib/chroma"
REPO_DIR = "/var/lib/chroma/repo"
MANAGER_REPO_NAME = "Manager-for-Lustre.repo"
MANAGER_REPO_PATH = f"{REPO_DIR}/{MANAGER_REPO_NAME}"
AGENT_REPO_PATH = f"/etc/yum.repos.d/{MANAGER_REPO_NAME}"
DEFAULT_REPOS = ("iml-agent", "lustre-server", "lustre-client", "e2fsprogs-wc")
MIRRORED_REPOS = ("lustre-server", "lustre-client", "e2fsprogs-wc")
AGENT_REPO_ID = "iml-agent"
AGENT_REPO_TITLE = "Intel Manager for Lustre Agent"
CA_CERT = "authority.crt"
CLIENT_CERT = "self.crt"
CLIENT_KEY = "private.pem"
TARGET_KEYS = ("bdev", "mntpt", "backfstype", "device_type", "target_name")
RESTORE_HINT = (
    "restore /var/lib/chroma from the node's backup "
    "(runbook: cp -a $HOME/bck-`hostname`-*/var/lib/chroma /var/lib/.)"
)


def __virtual__():
    return __virtualname__


# --- target store -----------------------------------------------------------------------


def _parse_target(text, source):
    """
    Return ``(target, [])`` for a target file's text, or ``(None, problems)``.

    ``target`` holds ``file`` (``source``, the file's path, also named in every problem)
    and the keys ``bdev``, ``mntpt``, ``backfstype``, ``device_type``, ``target_name``
    (None where absent). ``mntpt`` must be an absolute path other than ``/`` without
    ``.``/``..`` components; it is returned normalised.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, [f"{source}: not valid JSON ({exc})"]
    if not isinstance(data, dict):
        return None, [f"{source}: holds a JSON {type(data).__name__}, not an object"]
    if "mntpt" not in data:
        return None, [f"{source}: has no key 'mntpt' (keys: {', '.join(sorted(data)) or '-'})"]
    mntpt = data["mntpt"]
    if not isinstance(mntpt, str) or not mntpt:
        return None, [f"{source}: key 'mntpt' is {mntpt!r}, not a path"]
    if not posixpath.isabs(mntpt):
        return None, [f"{source}: key 'mntpt' is {mntpt!r}, not an absolute path"]
    parts = mntpt.split("/")
    mntpt = posixpath.normpath(mntpt)
    if "." in parts or ".." in parts or mntpt in ("/", "//") or "\0" in mntpt:
        return None, [f"{source}: key 'mntpt' is {data['mntpt']!r}, not a mount point path"]
    others = {}
    for key in TARGET_KEYS:
        value = data.get(key)
        if key != "mntpt" and value is not None and not isinstance(value, str):
            return None, [f"{source}: key {key!r} is {value!r}, not a string"]
        others[key] = value
    others["mntpt"] = mntpt
    return {"file": source, **others}, []


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
    try:
        names = sorted(os.listdir(path))
    except FileNotFoundError as exc:
        raise CommandExecutionError(
            f"target store {path} does not exist: {RESTORE_HINT}, or pass the directory "
            "of the backed-up copy"
        ) from exc
    except OSError as exc:
        raise CommandExecutionError(f"cannot read target store {path}: {exc}") from exc
    records = []
    problems = []
    for name in names:
        file_path = os.path.join(path, name)
        if name.startswith(".") or not os.path.isfile(file_path):
            continue
        try:
            with open(file_path, "rb") as fh:
                text = fh.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{file_path}: cannot be read as UTF-8 text ({exc})")
            continue
        record, found = _parse_target(text, file_path)
        problems.extend(found)
        if record is not None:
            records.append(record)
    if problems:
        raise CommandExecutionError(
            f"target store {path} has {len(problems)} invalid file(s); nothing was changed. "
            "Repair or remove them (compare with the node's backup of /var/lib/chroma/targets):"
            "\n" + "\n".join(f"- {p}" for p in problems)
        )
    return records


def mountpoints(path=TARGETS_DIR):
    """
    Return each target's mount point and whether it is there: ``{mntpt: state}``.

    ``state`` is ``present`` (a directory), ``missing``, or ``not-a-directory``.

    CLI Example:

    .. code-block:: bash

        salt '*' iml.mountpoints
    """
    result = {}
    for target in targets(path):
        result[target["mntpt"]] = _path_state(target["mntpt"])
    return result


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
    perm = _mode(mode)
    states = mountpoints(path)
    blocked = sorted(m for m, s in states.items() if s == "not-a-directory")
    if blocked:
        raise CommandExecutionError(
            "these target mount points exist but are not directories: "
            + ", ".join(blocked)
            + "; move them away (they are not Lustre mounts) and run again"
        )
    missing = sorted(m for m, s in states.items() if s == "missing")
    present = sorted(m for m, s in states.items() if s == "present")
    if not test:
        for mntpt in missing:
            _mkdirs(mntpt, perm)
    return {"created": missing, "present": present}


def _path_state(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except NotADirectoryError:
        return "not-a-directory"
    return "present" if stat.S_ISDIR(st.st_mode) else "not-a-directory"


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


def _mode(mode):
    # Salt's YAML loader turns `mode: 0755` into the int 755: digits are octal either way.
    text = str(mode).strip().lower().removeprefix("0o")
    try:
        value = int(text, 8)
    except ValueError:
        value = -1
    if not 0 <= value <= 0o7777:
        raise CommandExecutionError(f"mode {mode!r} is not an octal file mode such as 0755")
    return value


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
    host = _check_hostname(hostname)
    repos = _as_list(repos)
    if not repos:
        raise CommandExecutionError("manager_repo_file needs at least one repository id")
    for repo in repos:
        if not repo or any(c.isspace() or c in "[]/" for c in repo):
            raise CommandExecutionError(f"{repo!r} is not a yum repository id")
    names = {AGENT_REPO_ID: AGENT_REPO_TITLE}
    sections = []
    for repo in repos:
        if repo == AGENT_REPO_ID:
            baseurl = f"https://{host}/repo/{AGENT_REPO_ID}/{agent_release}"
        else:
            baseurl = f"https://{host}/repo/{repo}"
        sections.append(
            f"[{repo}]\n"
            f"name={names.get(repo, repo)}\n"
            f"baseurl={baseurl}\n"
            "enabled=1\n"
            "gpgcheck=0\n"
            "sslverify = 1\n"
            f"sslcacert = {posixpath.join(cert_dir, CA_CERT)}\n"
            f"sslclientkey = {posixpath.join(cert_dir, CLIENT_KEY)}\n"
            f"sslclientcert = {posixpath.join(cert_dir, CLIENT_CERT)}\n"
            "proxy=_none_\n"
        )
    return "\n".join(sections)


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
    text = manager_repo_file(hostname, repos=repos)
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise CommandExecutionError(
            f"{directory} does not exist: install the IML manager first (it serves "
            f"{REPO_DIR} at https://HOST/repo/), or pass path="
        )
    old = _read_bytes(path)
    new = text.encode()
    changed = old != new
    if changed and not test:
        _atomic_write(path, new)
    return {"changed": changed, "path": path, "hostname": hostname, "diff": _diff(old, new, path)}


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
    repos = _as_list(repos)
    if flavour == "dnf":
        # A repository that cannot be reached must fail the mirror, not leave it empty
        # (Debian's dnf.conf, and some repository files, set skip_if_unavailable=True).
        argv = ["dnf", "reposync", "-c", config, "--setopt=*.skip_if_unavailable=False"]
        for repo in repos:
            argv += ["--repoid", repo]
    elif flavour == "yum":
        argv = ["reposync", "-c", config]
        for repo in repos:
            argv += ["-r", repo]
    else:
        raise CommandExecutionError(f"unknown reposync flavour {flavour!r} (dnf or yum)")
    if newest_only:
        argv.append("-n")
    argv += ["-p", dest]
    return argv


def createrepo_argv(tool, directory, update=False):
    """
    Return the createrepo/createrepo_c command line that indexes ``directory``.

    CLI Example:

    .. code-block:: bash

        salt manager iml.createrepo_argv createrepo_c /var/lib/chroma/repo/lustre-server
    """
    if os.path.basename(tool) not in ("createrepo", "createrepo_c"):
        raise CommandExecutionError(f"{tool!r} is not createrepo or createrepo_c")
    argv = [tool]
    if update:
        argv.append("--update")
    argv.append(directory)
    return argv


def mirror_repos(config, repos=MIRRORED_REPOS, dest=REPO_DIR, newest_only=True, flavour=None):
    """
    Mirror yum repositories into ``dest/<id>`` and index each one.

    ``config`` is a yum/dnf configuration holding the repositories (the runbook's
    ``/tmp/lustre-repo.conf``). Uses ``dnf reposync`` (dnf-plugins-core) where it works,
    else yum-utils ``reposync``; then ``createrepo_c``, else ``createrepo``. Returns
    ``{"dest", "flavour", "repos": {id: {"path", "packages"}}}``.

    CLI Example:

    .. code-block:: bash

        salt manager iml.mirror_repos /tmp/lustre-repo.conf
        salt manager iml.mirror_repos /tmp/lustre-repo.conf repos=lustre-server,e2fsprogs-wc
    """
    repos = _as_list(repos)
    if not repos:
        raise CommandExecutionError("mirror_repos needs at least one repository id")
    if not os.path.isfile(config):
        raise CommandExecutionError(
            f"repository configuration {config} does not exist: write it first (runbook: "
            "the [lustre-server], [lustre-client] and [e2fsprogs-wc] definitions)"
        )
    flavour = flavour or _reposync_flavour(config)
    creator = _createrepo_tool()
    os.makedirs(dest, exist_ok=True)
    _run(reposync_argv(flavour, config, repos, dest, newest_only=newest_only), "reposync")
    result = {}
    for repo in repos:
        directory = os.path.join(dest, repo)
        # An empty upstream repository leaves no directory; index it anyway so the
        # servers' yum does not fail on a missing repodata.
        os.makedirs(directory, exist_ok=True)
        update = os.path.isdir(os.path.join(directory, "repodata"))
        _run(createrepo_argv(creator, directory, update=update), "createrepo")
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
        )
        if res["retcode"] == 0:
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
    for tool in ("createrepo_c", "createrepo"):
        found = salt.utils.path.which(tool)
        if found:
            return found
    raise CommandExecutionError("neither createrepo_c nor createrepo is installed: install one")


def _run(argv, what):
    res = __salt__["cmd.run_all"](argv, python_shell=False, ignore_retcode=True)
    if res["retcode"] != 0:
        raise CommandExecutionError(
            f"{what} failed (exit {res['retcode']}): {' '.join(argv)}\n"
            f"{(res.get('stderr') or res.get('stdout') or '').strip()}"
        )
    return res


# --- agent: repository definition from the manager --------------------------------------


def agent_repo_url(manager, port=None):
    """
    Return the URL of the manager's ``Manager-for-Lustre.repo``.

    CLI Example:

    .. code-block:: bash

        salt oss1-a iml.agent_repo_url mgr.lfs.intl
    """
    host = _check_hostname(manager)
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{int(port)}" if port else host
    return f"https://{netloc}/repo/{MANAGER_REPO_NAME}"


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
            raise CommandExecutionError("fetch_agent_repo needs manager=<IML manager FQDN>")
        url = agent_repo_url(manager, port)
    cafile, certfile, keyfile = _client_files(cert_dir)
    body = fetch(url, cafile, certfile, keyfile, timeout=timeout)
    _check_repo_text(body, url)
    directory = os.path.dirname(dest) or "."
    if not os.path.isdir(directory):
        raise CommandExecutionError(f"{directory} does not exist: is this node using yum/dnf?")
    old = _read_bytes(dest)
    changed = old != body
    if changed and not test:
        _atomic_write(dest, body)
    return {"changed": changed, "path": dest, "url": url, "diff": _diff(old, body, dest)}


def _check_repo_text(body, source):
    """Raise unless ``body`` is a yum repository file with at least one baseurl section."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(body.decode("utf-8"), source=source)
    except (UnicodeDecodeError, configparser.Error) as exc:
        raise CommandExecutionError(f"{source} is not a yum repository file: {exc}") from exc
    if not any(parser.has_option(s, "baseurl") for s in parser.sections()):
        raise CommandExecutionError(
            f"{source} holds no repository with a baseurl; check the file on the manager "
            f"({MANAGER_REPO_PATH}, written by iml.write_manager_repo_file)"
        )
    return parser.sections()


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
                f"{RESTORE_HINT}"
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
    if isinstance(reason, ssl.SSLCertVerificationError):
        return CommandExecutionError(
            f"{url}: the manager's certificate is not trusted by {cafile} "
            f"({reason.verify_message}); the node's /var/lib/chroma belongs to another "
            f"manager or the URL names the manager differently than its certificate: "
            f"{RESTORE_HINT}, and use the manager's FQDN"
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
            f"client certificate the manager issued when it was registered: {RESTORE_HINT}"
        )
    if isinstance(reason, (ConnectionResetError, BrokenPipeError)) or (
        isinstance(reason, ssl.SSLError) and "EOF" in str(reason)
    ):
        return CommandExecutionError(
            f"{url}: the manager closed the TLS connection ({reason}); it refuses clients "
            f"without a client certificate it issued: {RESTORE_HINT}"
        )
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return CommandExecutionError(f"{url}: no answer from the manager ({reason})")
    return CommandExecutionError(
        f"{url}: cannot reach the manager ({reason}); check its name, DNS and firewall "
        "(https, port 443)"
    )


def _client_files(cert_dir):
    files = [os.path.join(cert_dir, name) for name in (CA_CERT, CLIENT_CERT, CLIENT_KEY)]
    absent = [f for f in files if not os.path.isfile(f)]
    if absent:
        raise CommandExecutionError(
            f"missing IML certificate file(s): {', '.join(absent)}; {RESTORE_HINT}"
        )
    return files


# --- helpers -----------------------------------------------------------------------------


def _check_hostname(hostname):
    host = str(hostname or "").strip()
    if not host or any(c.isspace() or c in "/?#@" for c in host):
        raise CommandExecutionError(
            f"{hostname!r} is not a host name: give the name the servers reach the IML "
            "manager by (normally its FQDN)"
        )
    return host


def _as_list(values):
    if values is None:
        return []
    if isinstance(values, str):
        return [v.strip() for v in values.split(",") if v.strip()]
    return [str(v).strip() for v in values]


def _read_bytes(path):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {path}: {exc}") from exc


def _diff(old, new, path):
    if old == new:
        return ""
    before = (old or b"").decode("utf-8", "replace").splitlines(keepends=True)
    after = new.decode("utf-8", "replace").splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(
            before, after, fromfile=path if old is not None else "/dev/null", tofile=path
        )
    )


def _atomic_write(path, data, mode=0o644):
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
