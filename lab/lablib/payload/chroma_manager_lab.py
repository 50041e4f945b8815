"""The lab's stand-in of the IML manager (Intel Manager for Lustre 2.4 / 4.0): its database
schema, its migrations, and what `chroma-config` and the manager's HTTPS service read.

Installed by the lab's manager packages (`chroma-manager` 2.4.2.7 on EL6,
`python2-iml-manager` 4.0.10.2 on EL7) as /usr/lib/chroma-manager/chroma_manager_lab.py;
the lab itself imports it on the host to build the manager node's database at its
kickstart. Nothing here is IML's code: the tables are IML-shaped (names, a few columns, rows
the pair's servers and targets make), and the migrations are the lab's, honest about what
they check -- `setup` migrates only from IML 2.4's last schema migration, records what it
applied, and refuses anything else.

Every database access goes through `psql` (the node's, from its postgresql package), as
the runbook's commands do. Standard library only: it runs on the node's python3.
"""

import json
import os
import subprocess

RELEASE_FILE = "/usr/share/chroma-manager/release.json"
DATA_DIR = "/var/lib/pgsql/data"
SOCKET_DIR = "/var/run/postgresql"
PORT = 5432
DATABASE = "chroma"
OWNER = "chroma"

# IML 2.4 kept its schema history in South's table; its last chroma_core migration is the
# one IML 4.0's setup migrates from.
IML24_MIGRATIONS = (
    "0001_initial",
    "0130_auto__add_field_managedhost_needs_update",
    "0131_auto__del_field_managedtarget_active_mount",
)
IML24_LAST = IML24_MIGRATIONS[-1]
# IML 4.0's chroma_core migrations (Django's django_migrations): 0001 takes over the IML
# 2.4 schema as it stands, the others change it.
IML40_MIGRATIONS = (
    ("0001_initial", ""),
    (
        "0002_managedhost_server_profile",
        "ALTER TABLE chroma_core_managedhost ADD COLUMN server_profile varchar(50) "
        "NOT NULL DEFAULT 'default';",
    ),
    (
        "0003_lustreclientmount",
        "CREATE TABLE chroma_core_lustreclientmount (id serial PRIMARY KEY, "
        "host_id integer NOT NULL REFERENCES chroma_core_managedhost (id), "
        "filesystem varchar(8) NOT NULL, mountpoint varchar(512), state varchar(32) NOT NULL);",
    ),
    (
        "0004_managedhost_install_method",
        "ALTER TABLE chroma_core_managedhost ADD COLUMN install_method varchar(32) "
        "NOT NULL DEFAULT 'existing_keys_choice';",
    ),
)
# What each release of the stand-in expects: the schema bookkeeping and its last migration.
RELEASES = {
    "2.4.2.7": {"bookkeeping": "south", "schema": IML24_LAST},
    "4.0.10.2": {"bookkeeping": "django", "schema": IML40_MIGRATIONS[-1][0]},
}
# The IML-shaped data tables whose rows are counted (schema bookkeeping is not).
DATA_TABLES = (
    "auth_user",
    "chroma_core_managedhost",
    "chroma_core_managedfilesystem",
    "chroma_core_volume",
    "chroma_core_volumenode",
    "chroma_core_managedtarget",
)

SCHEMA_24 = """
CREATE TABLE south_migrationhistory (id serial PRIMARY KEY, app_name varchar(255) NOT NULL,
    migration varchar(255) NOT NULL, applied timestamp with time zone NOT NULL);
CREATE TABLE auth_user (id serial PRIMARY KEY, username varchar(30) NOT NULL UNIQUE,
    email varchar(75) NOT NULL, is_superuser boolean NOT NULL);
CREATE TABLE chroma_core_managedhost (id serial PRIMARY KEY, fqdn varchar(255) NOT NULL UNIQUE,
    nodename varchar(255) NOT NULL, address varchar(255) NOT NULL, state varchar(32) NOT NULL);
CREATE TABLE chroma_core_managedfilesystem (id serial PRIMARY KEY, name varchar(8) NOT NULL,
    state varchar(32) NOT NULL);
CREATE TABLE chroma_core_volume (id serial PRIMARY KEY, label varchar(128) NOT NULL,
    size bigint);
CREATE TABLE chroma_core_volumenode (id serial PRIMARY KEY,
    volume_id integer NOT NULL REFERENCES chroma_core_volume (id),
    host_id integer NOT NULL REFERENCES chroma_core_managedhost (id),
    path varchar(512) NOT NULL, is_primary boolean NOT NULL);
CREATE TABLE chroma_core_managedtarget (id serial PRIMARY KEY, name varchar(64) NOT NULL,
    uuid varchar(64) NOT NULL, ha_label varchar(64),
    volume_id integer NOT NULL REFERENCES chroma_core_volume (id),
    filesystem_id integer REFERENCES chroma_core_managedfilesystem (id),
    state varchar(32) NOT NULL);
"""


class DatabaseError(Exception):
    pass


def _quote(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def schema_24_sql(servers=(), filesystem=None, targets=(), bookkeeping=True):
    """SQL of an IML 2.4 database: its tables and South history, and rows.
    servers: [(fqdn, nodename, address)]; targets: [(name, uuid, ha_label, primary index,
    secondary index, path)] (indexes into servers)."""
    lines = [SCHEMA_24]
    if bookkeeping:
        for name in IML24_MIGRATIONS:
            lines.append(
                "INSERT INTO south_migrationhistory (app_name, migration, applied) VALUES "
                f"('chroma_core', {_quote(name)}, now());"
            )
        lines.append(
            "INSERT INTO south_migrationhistory (app_name, migration, applied) VALUES "
            "('tastypie', '0001_initial', now());"
        )
    lines.append(
        "INSERT INTO auth_user (username, email, is_superuser) VALUES "
        "('admin', 'admin@localhost', true);"
    )
    for fqdn, nodename, address in servers:
        lines.append(
            "INSERT INTO chroma_core_managedhost (fqdn, nodename, address, state) VALUES "
            f"({_quote(fqdn)}, {_quote(nodename)}, {_quote(address)}, 'managed');"
        )
    if filesystem:
        lines.append(
            "INSERT INTO chroma_core_managedfilesystem (name, state) VALUES "
            f"({_quote(filesystem)}, 'available');"
        )
    for name, uuid, ha_label, primary, secondary, path in targets:
        lines.append(
            f"INSERT INTO chroma_core_volume (label, size) VALUES ({_quote(name)}, 1073741824);"
        )
        for index, is_primary in ((primary, True), (secondary, False)):
            lines.append(
                "INSERT INTO chroma_core_volumenode (volume_id, host_id, path, is_primary) "
                "VALUES (currval('chroma_core_volume_id_seq'), (SELECT id FROM "
                f"chroma_core_managedhost ORDER BY id OFFSET {int(index)} LIMIT 1), "
                f"{_quote(path)}, {_quote(is_primary)});"
            )
        fs = (
            "NULL"
            if name == "MGS" or not filesystem
            else ("(SELECT id FROM chroma_core_managedfilesystem ORDER BY id LIMIT 1)")
        )
        lines.append(
            "INSERT INTO chroma_core_managedtarget (name, uuid, ha_label, volume_id, "
            f"filesystem_id, state) VALUES ({_quote(name)}, {_quote(uuid)}, "
            f"{_quote(ha_label)}, currval('chroma_core_volume_id_seq'), {fs}, 'mounted');"
        )
    return "\n".join(lines) + "\n"


def migration_sql(names):
    """SQL applying IML 4.0's migrations `names` (in order) and recording them."""
    statements = {name: sql for name, sql in IML40_MIGRATIONS}
    lines = [
        "CREATE TABLE IF NOT EXISTS django_migrations (id serial PRIMARY KEY, "
        "app varchar(255) NOT NULL, name varchar(255) NOT NULL, "
        "applied timestamp with time zone NOT NULL);"
    ]
    for name in names:
        if statements[name]:
            lines.append(statements[name])
        lines.append(
            "INSERT INTO django_migrations (app, name, applied) VALUES "
            f"('chroma_core', {_quote(name)}, now());"
        )
    return "\n".join(lines) + "\n"


class Psql:
    """psql against the manager's PostgreSQL (the unix socket, as the postgres role)."""

    def __init__(self, psql="psql", host=SOCKET_DIR, port=PORT, user="postgres"):
        self.argv = [psql, "-X", "-q", "-h", str(host), "-p", str(port), "-U", user]

    def run(self, sql, database=DATABASE, single_transaction=False):
        argv = [*self.argv, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-F", "\t"]
        if single_transaction:
            argv.append("--single-transaction")
        try:
            result = subprocess.run(
                argv, input=sql, capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DatabaseError(f"psql: {exc}") from None
        if result.returncode != 0:
            raise DatabaseError(result.stderr.strip() or f"psql exited {result.returncode}")
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def value(self, sql, database=DATABASE):
        rows = self.run(sql, database)
        return rows[0][0] if rows and rows[0] else None


def tables(db):
    return {r[0] for r in db.run("SELECT tablename FROM pg_tables WHERE schemaname = 'public';")}


def applied_migrations(db, present=None):
    """('django' | 'south' | None, [chroma_core migration names in the order applied])."""
    present = tables(db) if present is None else present
    if "django_migrations" in present:
        rows = db.run("SELECT name FROM django_migrations WHERE app = 'chroma_core' ORDER BY id;")
        return "django", [r[0] for r in rows]
    if "south_migrationhistory" in present:
        rows = db.run(
            "SELECT migration FROM south_migrationhistory WHERE app_name = 'chroma_core' "
            "ORDER BY id;"
        )
        return "south", [r[0] for r in rows]
    return None, []


def release():
    """{"release": "...", "package": "..."} of the installed manager package."""
    with open(RELEASE_FILE, encoding="utf-8") as handle:
        return json.load(handle)


def health(db, installed):
    """What /api/health answers (DatabaseError when PostgreSQL cannot be read)."""
    present = tables(db)
    kind, applied = applied_migrations(db, present)
    expected = RELEASES.get(installed["release"], {})
    counted = [t for t in DATA_TABLES if t in present]
    rows = {}
    if counted:
        query = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in counted) + ";"
        rows = {name: int(count) for name, count in db.run(query)}
    servers = []
    if "chroma_core_managedhost" in present:
        servers = [r[0] for r in db.run("SELECT fqdn FROM chroma_core_managedhost ORDER BY fqdn;")]
    version = applied[-1] if applied else None
    return {
        "release": installed["release"],
        "package": installed.get("package"),
        "schema_version": version,
        "schema_current": bool(
            version
            and kind == expected.get("bookkeeping")
            and version == expected.get("schema")
            and not [t for t in DATA_TABLES if t not in present]
        ),
        "servers": sorted(servers),
        "rows": rows,
        "rows_total": sum(rows.values()),
    }


def plan_migration(db, release_name):
    """The IML 4.0 migrations `setup` applies to the database, or ValueError naming why it
    cannot migrate it (checked before anything is changed)."""
    expected = RELEASES[release_name]
    present = tables(db)
    missing = [t for t in DATA_TABLES if t not in present]
    kind, applied = applied_migrations(db, present)
    if kind is None:
        raise ValueError(
            "not an IML database: no schema history (south_migrationhistory or "
            f"django_migrations) in database {DATABASE!r}"
        )
    if missing:
        raise ValueError(f"database {DATABASE!r} lacks IML tables: {', '.join(missing)}")
    if kind == "south":
        last = applied[-1] if applied else None
        if last != IML24_LAST:
            raise ValueError(
                f"unknown IML schema: its last chroma_core migration is {last!r}; release "
                f"{release_name} migrates from IML 2.4's {IML24_LAST!r} only"
            )
        if expected["bookkeeping"] == "south":
            return []
        return [name for name, _sql in IML40_MIGRATIONS]
    if expected["bookkeeping"] == "south":
        raise ValueError(
            f"newer schema: the database has Django migrations ({applied[-1] if applied else '-'})"
            f"; release {release_name} (IML 2.4) cannot run it"
        )
    known = [name for name, _sql in IML40_MIGRATIONS]
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise ValueError(
            f"newer or unknown schema: chroma_core migration {unknown[0]!r} is not one of "
            f"release {release_name}'s"
        )
    if applied != known[: len(applied)]:
        raise ValueError(f"schema history out of order: {applied}")
    return known[len(applied) :]


def data_dir_empty(path=DATA_DIR):
    return not os.path.exists(os.path.join(path, "PG_VERSION"))
