"""The checks of the manager's backup, database dump, health and HTTPS answers."""

import gzip
import os
import tarfile

import pytest
from salt.exceptions import CommandExecutionError

from lustre_upgrade_lib import backup_format, manager_checks
from tests.support import make_tree

DUMP = (
    "--\n-- PostgreSQL database cluster dump\n--\n\nDROP DATABASE chroma;\nDROP ROLE chroma;\n"
    "CREATE ROLE chroma;\nCREATE DATABASE chroma WITH OWNER = chroma;\n\\connect chroma\n"
    "COPY chroma_core_managedhost (id, fqdn) FROM stdin;\n1\toss1-a.lab.example\n\\.\n\n"
    "--\n-- PostgreSQL database cluster dump complete\n--\n\n"
)
CERTS = {f"var/lib/chroma/{name}": (f"{name}\n", 0o600) for name in manager_checks.CERTIFICATES}


def _backup(tmp_path, files=None, dump=DUMP, kind="manager", minion="iml", raw=None):
    root = make_tree(
        tmp_path / "root",
        {"etc/hosts": ("127.0.0.1 localhost\n", 0o644)} | (CERTS if files is None else files),
    )
    contents = sorted(
        "/" + os.path.relpath(os.path.join(d, f), root)
        for d, _dirs, names in os.walk(root)
        for f in names
    )
    dump_file = tmp_path / "dump.sql.gz"
    dump_file.write_bytes(raw if raw is not None else gzip.compress(dump.encode()))
    name = "pgbackup-2026-01-01-12:00:00.sql.gz"
    info = backup_format.new_info(kind, minion, "iml", 0, [], [], contents, [name])
    path = str(tmp_path / "bck-iml.tgz")
    backup_format.write_archive(
        path, "bck-iml-1", str(root), contents, {name: str(dump_file)}, info
    )
    return path


def test_a_complete_manager_backup_verifies(tmp_path):
    got = manager_checks.check_backup(_backup(tmp_path), "iml")
    assert got == {
        "top": "bck-iml-1",
        "dump": "pgbackup-2026-01-01-12:00:00.sql.gz",
        "certificates": list(manager_checks.CERTIFICATES),
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"files": {k: v for k, v in CERTS.items() if "manager.pem" not in k}},
            "lacks the manager certificate(s) /var/lib/chroma/manager.pem",
            id="certificate-missing",
        ),
        pytest.param(
            {"dump": DUMP[: len(DUMP) // 2]}, "the dump is truncated", id="dump-failed-half-way"
        ),
        pytest.param(
            {"raw": gzip.compress(DUMP.encode())[:-20]}, "does not read back", id="gzip-truncated"
        ),
        pytest.param({"dump": "SELECT 1;\n"}, "not a pg_dumpall output", id="not-a-dump"),
        pytest.param(
            {"dump": DUMP.replace("DROP DATABASE chroma;\n", "")},
            "not taken with --clean",
            id="no-clean",
        ),
        pytest.param(
            {"dump": DUMP.replace("\\connect chroma", "\\connect other")},
            "holds no database chroma",
            id="other-database",
        ),
        pytest.param(
            {"minion": "oss1-a"}, "was taken on oss1-a, not on the manager iml", id="foreign-minion"
        ),
        pytest.param(
            {"kind": "server"}, "is a server backup, not an IML manager's", id="foreign-kind"
        ),
    ],
)
def test_a_bad_backup_is_refused_naming_what_is_wrong(tmp_path, kwargs, message):
    with pytest.raises(CommandExecutionError, match="refused|lacks|does not read back") as exc:
        manager_checks.check_backup(_backup(tmp_path, **kwargs), "iml")
    assert message in str(exc.value)


def test_a_truncated_archive_is_refused(tmp_path):
    path = _backup(tmp_path)
    data = open(path, "rb").read()
    with open(path, "wb") as fh:
        fh.write(data[: len(data) // 2])
    with pytest.raises(CommandExecutionError, match="truncated|corrupt|not a gzip"):
        manager_checks.check_backup(path, "iml")


def test_an_archive_that_is_no_backup_is_refused(tmp_path):
    path = tmp_path / "foreign.tgz"
    (tmp_path / "x").write_text("x")
    with tarfile.open(path, "w:gz") as tar:
        tar.add(tmp_path / "x", arcname="somewhere/x")
    with pytest.raises(CommandExecutionError, match="has no somewhere/SHA256SUMS"):
        manager_checks.check_backup(str(path), "iml")


@pytest.mark.parametrize(
    ("stderr", "errors"),
    [
        ('ERROR:  role "postgres" already exists\n', []),
        ("ERROR:  current user cannot be dropped\n", []),
        (
            'psql:<stdin>:12: ERROR:  relation "x" does not exist\n',
            ['psql:<stdin>:12: ERROR:  relation "x" does not exist'],
        ),
        ("NOTICE: something\n", []),
    ],
)
def test_restore_errors_ignore_only_what_every_dumpall_restore_says(stderr, errors):
    assert manager_checks.restore_errors(stderr) == errors


def test_counts_skip_the_schema_bookkeeping_and_quote_names():
    sql = manager_checks.counts_sql(["chroma_core_managedhost", "south_migrationhistory", 'we"ird'])
    assert "south_migrationhistory" not in sql
    assert 'public."we""ird"' in sql and sql.count("UNION ALL") == 1
    assert manager_checks.counts_sql(["django_migrations"]) is None
    assert manager_checks.parse_counts("a\t3\nb\t0\n") == {"a": 3, "b": 0}


HEALTH = {
    "release": "4.0.10.2",
    "schema_version": "0042_x",
    "schema_current": True,
    "servers": ["b", "a"],
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({}, None),
        ({"release": "2.4.2.7"}, "runs release 2.4.2.7, the package installed is 4.0.10.2"),
        ({"schema_current": False}, "is not the release's"),
        ({"servers": ["a"]}, "not the ones registered before the backup"),
    ],
)
def test_health_problems(change, problem):
    found = manager_checks.health_problems(dict(HEALTH, **change), "4.0.10.2", ["a", "b"])
    assert found == [] if problem is None else problem in found[0]


@pytest.mark.parametrize(
    ("stdout", "message"),
    [
        ("<html>", "did not answer the manager's health"),
        ('{"release": "4", "error": "db down"}', "db down"),
    ],
)
def test_a_health_answer_that_is_not_one_is_an_error(stdout, message):
    with pytest.raises(CommandExecutionError, match=message):
        manager_checks.parse_health(stdout, "iml")


@pytest.mark.parametrize(("stdout", "status"), [("200", 200), ("000", 0), ("", 0), ("403", 403)])
def test_http_status(stdout, status):
    assert manager_checks.http_status({"stdout": stdout}) == status


def test_status_argv_with_and_without_the_client_certificate():
    url = manager_checks.agent_probe_url("iml.lab.example")
    assert url == "https://iml.lab.example/repo/iml-agent/7/repodata/repomd.xml"
    assert "--cert" in manager_checks.status_argv(url, True)
    assert "--cert" not in manager_checks.status_argv(url, False)
