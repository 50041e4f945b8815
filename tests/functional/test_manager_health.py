"""iml.health: the manager's /api/health over HTTPS, trusting only its CA."""

import http.server
import json
import ssl
import threading

import pytest
from salt.exceptions import CommandExecutionError

from tests.functional.test_iml import _make_ca, _make_cert, _require

HEALTH = {
    "release": "4.0.10.2",
    "schema_version": "0004_managedhost_install_method",
    "schema_current": True,
    "servers": ["oss1-a.lab.example", "oss1-b.lab.example"],
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status, body = self.server.answer
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def manager(tmp_path_factory):
    _require("openssl")
    pki = tmp_path_factory.mktemp("manager-pki")
    _make_ca(pki, "authority")
    _make_ca(pki, "other")
    _make_cert(
        pki, "authority", "manager", "localhost",
        "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "manager.crt", pki / "manager.key")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.answer = (200, HEALTH)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    certs = {}
    for ca in ("authority", "other"):
        certs[ca] = pki / ca
        certs[ca].mkdir()
        (certs[ca] / "authority.crt").write_bytes((pki / f"{ca}.crt").read_bytes())
    try:
        yield server, certs
    finally:
        server.shutdown()
        server.server_close()


def test_health_answers_release_schema_and_servers(modules, manager):
    server, certs = manager
    server.answer = (200, HEALTH)
    got = modules.iml.health(
        "localhost", cert_dir=str(certs["authority"]), port=server.server_address[1]
    )
    assert got == HEALTH


def test_a_manager_without_its_database_says_to_check_postgresql(modules, manager):
    server, certs = manager
    server.answer = (503, {"error": "could not connect to server"})
    with pytest.raises(CommandExecutionError, match="cannot read its database"):
        modules.iml.health(
            "localhost", cert_dir=str(certs["authority"]), port=server.server_address[1]
        )


def test_a_manager_of_another_ca_is_not_trusted(modules, manager):
    server, certs = manager
    server.answer = (200, HEALTH)
    with pytest.raises(CommandExecutionError, match="not trusted"):
        modules.iml.health("localhost", cert_dir=str(certs["other"]), port=server.server_address[1])
