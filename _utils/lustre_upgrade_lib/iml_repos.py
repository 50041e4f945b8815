"""
IML's repositories: the ``Manager-for-Lustre.repo`` every server fetches from the manager,
the reposync/createrepo command lines that mirror the Lustre repositories on the manager
(runbook "Create Local Repositories for the Lustre Packages"), and the agent's URL for it.
"""

import configparser
import difflib
import os
import posixpath

from salt.exceptions import CommandExecutionError, SaltInvocationError

from . import cli_args

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
CREATEREPO_TOOLS = ("createrepo_c", "createrepo")


def check_hostname(hostname):
    """``hostname`` stripped, or SaltInvocationError when it cannot be a host name."""
    host = str(hostname or "").strip()
    if not host or any(c.isspace() or c in "/?#@" for c in host):
        raise SaltInvocationError(
            f"{hostname!r} is not a host name: give the name the servers reach the IML "
            "manager by (normally its FQDN)"
        )
    return host


def repo_ids(repos, what):
    """``repos`` (a list or a comma list) as yum repository ids; at least one."""
    ids = cli_args.as_list(repos)
    if not ids:
        raise SaltInvocationError(f"{what} needs at least one repository id")
    for repo in ids:
        if any(c.isspace() or c in "[]/" for c in repo):
            raise SaltInvocationError(f"{repo!r} is not a yum repository id")
    return ids


def manager_repo_file(hostname, repos=DEFAULT_REPOS, cert_dir=CERT_DIR, agent_release="7"):
    """
    The text of ``Manager-for-Lustre.repo`` exactly as the runbook's script writes it.

    ``iml-agent`` is served from ``https://HOST/repo/iml-agent/<agent_release>``, every
    other repository from ``https://HOST/repo/<id>``; each uses the node's IML client
    certificate and no proxy.
    """
    host = check_hostname(hostname)
    names = {AGENT_REPO_ID: AGENT_REPO_TITLE}
    sections = []
    for repo in repo_ids(repos, "manager_repo_file"):
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


def reposync_argv(flavour, config, repos, dest, newest_only=True):
    """
    The reposync command line for ``flavour`` ``dnf`` or ``yum`` (yum-utils, EL7).

    Both download every repository into ``dest/<repo id>``, as the runbook's
    ``cd /var/lib/chroma/repo; reposync -c CONF -n -r ID …`` does.
    """
    repos = cli_args.as_list(repos)
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
        raise SaltInvocationError(f"unknown reposync flavour {flavour!r} (dnf or yum)")
    if newest_only:
        argv.append("-n")
    argv += ["-p", dest]
    return argv


def createrepo_argv(tool, directory, update=False):
    """The createrepo/createrepo_c command line that indexes ``directory``."""
    if os.path.basename(tool) not in CREATEREPO_TOOLS:
        raise SaltInvocationError(f"{tool!r} is not createrepo or createrepo_c")
    argv = [tool]
    if update:
        argv.append("--update")
    argv.append(directory)
    return argv


def agent_repo_url(manager, port=None):
    """The URL of the manager's ``Manager-for-Lustre.repo``."""
    host = check_hostname(manager)
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{int(port)}" if port else host
    return f"https://{netloc}/repo/{MANAGER_REPO_NAME}"


def client_files(cert_dir=CERT_DIR):
    """The node's CA, client certificate and key under ``cert_dir``, in that order."""
    return [posixpath.join(cert_dir, name) for name in (CA_CERT, CLIENT_CERT, CLIENT_KEY)]


def check_repo_text(body, source):
    """
    The section names of ``body`` (bytes), a yum repository file with at least one
    ``baseurl``; CommandExecutionError naming ``source`` otherwise.
    """
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


def file_diff(old, new, path):
    """A unified diff of a file's ``old`` content (bytes or None: absent) and ``new``."""
    if old == new:
        return ""
    before = (old or b"").decode("utf-8", "replace").splitlines(keepends=True)
    after = new.decode("utf-8", "replace").splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(
            before, after, fromfile=path if old is not None else "/dev/null", tofile=path
        )
    )
