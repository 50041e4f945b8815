"""
What the IML manager's upgrade checks, as pure functions over what the tools printed:
its backup (certificates and a complete ``pg_dumpall --clean``), its database (rows,
registered servers, read with ``psql`` as postgres), its health answer and its HTTPS
agent repository with and without a client certificate.
"""

import gzip
import json
import posixpath
import tarfile
import zlib

from salt.exceptions import CommandExecutionError

from . import backup_format, iml_repos

# The certificates of /var/lib/chroma a manager backup must hold: without them the
# servers' client certificates (signed by the old CA) are refused after the upgrade.
CERTIFICATES = ("authority.crt", "authority.pem", "manager.crt", "manager.pem")
DUMP_HEAD = "-- PostgreSQL database cluster dump"
DUMP_END = "-- PostgreSQL database cluster dump complete"
DUMP_PREFIX = "pgbackup-"
DUMP_SUFFIX = ".sql.gz"
# Schema bookkeeping, not the manager's data: not counted in its rows.
BOOKKEEPING = ("south_migrationhistory", "django_migrations")
HEALTH_PATH = "/api/health"


# --------------------------------------------------------------------------- the dump
def dump_problem(text, database="chroma"):
    """Why ``text`` (a decompressed dump) is not a complete ``pg_dumpall --clean`` of a
    cluster holding ``database``; None when it is."""
    if DUMP_HEAD not in text[:512]:
        return "it is not a pg_dumpall output (no '-- PostgreSQL database cluster dump' header)"
    if DUMP_END not in text[-4096:]:
        return (
            "it stops before its end ('-- PostgreSQL database cluster dump complete' "
            "missing): the dump is truncated"
        )
    if "DROP DATABASE" not in text:
        return "it was not taken with --clean (no DROP DATABASE)"
    if f"\\connect {database}" not in text:
        return f"it holds no database {database}"
    return None


def read_dump(data, source, database="chroma"):
    """The text of the gzip dump ``data`` (bytes) from ``source``, or CommandExecutionError
    naming it and why: nothing may be restored from a dump that does not verify."""
    try:
        text = gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise CommandExecutionError(
            f"database dump {source} does not read back ({exc}): it is truncated or not a "
            "gzip pg_dumpall; take a new backup. The database was not touched"
        ) from None
    problem = dump_problem(text, database)
    if problem:
        raise CommandExecutionError(
            f"database dump {source} is refused: {problem}; take a new backup. The "
            "database was not touched"
        )
    return text


def restore_errors(stderr):
    """The errors of ``psql`` restoring a ``pg_dumpall --clean`` that matter: all but the
    ones such a dump always causes (the role psql runs as exists already)."""
    errors = []
    for line in (stderr or "").splitlines():
        if "ERROR:" not in line:
            continue
        if "already exists" in line and "role" in line:
            continue
        if "cannot drop the currently open database" in line or "current user cannot be" in line:
            continue
        errors.append(line.strip())
    return errors


# --------------------------------------------------------------------------- the backup
def check_backup(path, minion, database="chroma"):
    """
    Verify the manager backup ``path`` on the master: a backup of ``minion``'s kind
    ``manager`` whose checksums hold, with every certificate of /var/lib/chroma and a
    complete database dump. Returns ``{"top", "dump", "certificates"}`` or raises
    CommandExecutionError naming the file and what is missing.
    """
    info = backup_format.verify(path)
    if info.get("kind") != "manager":
        raise CommandExecutionError(
            f"backup {path} is a {info.get('kind')} backup, not an IML manager's: refused"
        )
    if info.get("minion") != minion:
        raise CommandExecutionError(
            f"backup {path} was taken on {info.get('minion')}, not on the manager {minion}: refused"
        )
    top = info["top"]
    dumps = [e for e in info.get("extras", []) if _is_dump(e)]
    if len(dumps) != 1:
        raise CommandExecutionError(
            f"backup {path} holds {len(dumps)} database dumps ({DUMP_PREFIX}*{DUMP_SUFFIX}), "
            "not one: take a new backup"
        )
    with tarfile.open(path, "r:gz") as archive:
        names = set(archive.getnames())
        missing = [
            f"/var/lib/chroma/{name}"
            for name in CERTIFICATES
            if f"{top}/var/lib/chroma/{name}" not in names
        ]
        if missing:
            raise CommandExecutionError(
                f"backup {path} lacks the manager certificate(s) {', '.join(missing)}: the "
                "servers' certificates are signed by that CA; restore them on the manager "
                "and take a new backup. Nothing was changed"
            )
        data = archive.extractfile(f"{top}/{dumps[0]}").read()
    read_dump(data, f"{path}:{top}/{dumps[0]}", database)
    return {"top": top, "dump": dumps[0], "certificates": list(CERTIFICATES)}


def _is_dump(name):
    return name.startswith(DUMP_PREFIX) and name.endswith(DUMP_SUFFIX) and "/" not in name


# --------------------------------------------------------------------------- the database
def quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


def psql_argv(database, sql):
    """``psql`` printing one unaligned row a line, run as postgres (``runas``)."""
    return ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-d", database, "-c", sql]


TABLES_SQL = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
SERVERS_SQL = "SELECT fqdn FROM chroma_core_managedhost ORDER BY fqdn"


def counts_sql(tables):
    """One query counting the rows of every table of ``tables`` but the bookkeeping."""
    counted = [t for t in tables if t not in BOOKKEEPING]
    if not counted:
        return None
    return " UNION ALL ".join(
        f"SELECT '{t.replace(chr(39), chr(39) * 2)}', count(*) FROM public.{quote_ident(t)}"
        for t in counted
    )


def parse_lines(stdout):
    return [line for line in (stdout or "").splitlines() if line.strip()]


def parse_counts(stdout):
    """``{table: rows}`` from ``counts_sql``'s output."""
    counts = {}
    for line in parse_lines(stdout):
        table, _tab, count = line.partition("\t")
        counts[table] = int(count)
    return counts


def psql_error(ret, what, minion):
    """The error for a failed ``psql`` run on the manager."""
    detail = (ret.get("stderr") or ret.get("stdout") or f"exit {ret.get('retcode')}").strip()
    return CommandExecutionError(
        f"reading {what} with psql as postgres on {minion} failed: {detail}; check that "
        "PostgreSQL runs there (service postgresql status) and holds the IML database"
    )


# --------------------------------------------------------------------------- HTTPS
def health_url(fqdn, port=None):
    host = iml_repos.check_hostname(fqdn)
    return f"https://{host}:{int(port)}{HEALTH_PATH}" if port else f"https://{host}{HEALTH_PATH}"


def health_argv(fqdn, cert_dir=iml_repos.CERT_DIR):
    """curl of the manager's health, trusting its CA (core ``cmd.run_all``, EL6 too)."""
    ca = posixpath.join(cert_dir, iml_repos.CA_CERT)
    return ["curl", "-sS", "--max-time", "15", "--cacert", ca, health_url(fqdn)]


def parse_health(stdout, source):
    """The health answer as a dict; CommandExecutionError when it is not one."""
    try:
        health = json.loads(stdout or "")
    except ValueError:
        health = None
    if not isinstance(health, dict) or "release" not in health:
        raise CommandExecutionError(
            f"{source} did not answer the manager's health: {(stdout or '').strip()[:200]}"
        )
    if health.get("error"):
        raise CommandExecutionError(f"{source}: the manager says {health['error']}")
    return health


def health_problems(health, release, servers_before):
    """What the upgraded manager's health says is wrong: its release is not the installed
    package's, its schema is not migrated, it lost or gained registered servers."""
    found = []
    if str(health.get("release")) != str(release):
        found.append(f"it runs release {health.get('release')}, the package installed is {release}")
    if health.get("schema_current") is not True:
        found.append(
            f"its schema {health.get('schema_version')} is not the release's: run "
            "`chroma-config setup` and look at its output"
        )
    servers = sorted(health.get("servers") or [])
    if servers != sorted(servers_before):
        found.append(
            f"it serves servers {servers}, not the ones registered before the backup "
            f"{sorted(servers_before)}: the database restore lost or changed rows"
        )
    return found


def agent_probe_url(fqdn):
    """A file every IML manager serves under /repo/: the agent repository's index."""
    host = iml_repos.check_hostname(fqdn)
    return f"https://{host}/repo/{iml_repos.AGENT_REPO_ID}/7/repodata/repomd.xml"


def status_argv(url, client_certificate, cert_dir=iml_repos.CERT_DIR):
    """curl printing the HTTP status of ``url`` (000 when the TLS handshake is refused),
    with the node's IML client certificate when ``client_certificate``."""
    ca, cert, key = iml_repos.client_files(cert_dir)
    argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "15"]
    argv += ["--cacert", ca]
    if client_certificate:
        argv += ["--cert", cert, "--key", key]
    return [*argv, url]


def http_status(ret):
    """The HTTP status ``status_argv`` printed, 0 when there was no HTTP answer."""
    out = (ret.get("stdout") or "").strip()[-3:]
    return int(out) if out.isdigit() else 0
