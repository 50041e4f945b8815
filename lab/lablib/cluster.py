"""The "old" cluster: what IML (Intel EE 2.4, EL6) left on each server of an HA pair.

Written onto each node's disk before its first boot, as if installed there:
- /etc/corosync/corosync.conf from IML's EL6 template (totem token 5000, rrp_mode active,
  whitetank, `service { name: pacemaker ver: 1 }`), plus the nodelist corosync 3 needs;
- the CIB with IML's shapes: `ocf:chroma:Target` primitives (`target=<uuid>`, monitor 5 s,
  start/stop 300 s), `<rsc>-primary` (20) / `<rsc>-secondary` (10) location constraints,
  `st-fencing` (stonith:fence_chroma), `0_fence_*` node attributes with a password,
  IML's resource defaults; node names are the old short names;
- IML's target store /var/lib/chroma/targets/<uuid> (JSON), its certificates (the node's
  client certificate signed by the manager's CA, and that CA's certificate: see
  manager_pki), the mount points, and every file the runbook backs up.
The packages (the cluster stack, chroma-agent with the Target agent, fence_chroma and
fence_lab) are the node's kickstart's: EL6 packages in the node's EL6 life (lablib.repo).
"""

import json
import os
import secrets
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from .proc import run

MCAST_BASE = "226.94.{ring}.1"
MCAST_PORT_BASE = 5405


# ------------------------------------------------------------------ corosync


def corosync_conf(spec):
    rings = []
    for ring, network in enumerate(spec.ring_networks):
        rings.append(
            "\tinterface {\n"
            f"\t\tringnumber: {ring}\n"
            f"\t\tbindnetaddr: {network.split('/')[0]}\n"
            f"\t\tmcastaddr: {MCAST_BASE.format(ring=ring)}\n"
            f"\t\tmcastport: {MCAST_PORT_BASE + 2 * ring}\n"
            "\t\tttl: 1\n"
            "\t}\n"
        )
    nodes = []
    for node in spec.nodes:
        addrs = "".join(f"\t\tring{i}_addr: {a}\n" for i, a in enumerate(node.rings))
        nodes.append(
            f"\tnode {{\n{addrs}\t\tnodeid: {node.index}\n\t\tname: {node.old_name}\n\t}}\n"
        )
    return (
        "# Autoconfigured by Intel Manager for Lustre\n"
        "# DO NOT EDIT -- CHANGES MADE HERE WILL BE LOST\n"
        "compatibility: whitetank\n\n"
        "totem {\n\tversion: 2\n\tsecauth: off\n\tthreads: 0\n"
        f"\ttoken: {spec.token}\n\ttoken_retransmits_before_loss_const: 10\n"
        "\tmax_messages: 20\n\trrp_mode: active\n" + "".join(rings) + "}\n\n"
        "logging {\n\tfileline: off\n\tto_stderr: no\n\tto_logfile: yes\n\tto_syslog: no\n"
        "\tlogfile: /var/log/cluster/corosync.log\n\tdebug: off\n\ttimestamp: on\n"
        "\tlogger_subsys {\n\t\tsubsys: AMF\n\t\tdebug: off\n\t}\n}\n\n"
        "amf {\n\tmode: disabled\n}\n\n"
        "service {\n\tname: pacemaker\n\tver: 1\n}\n\n"
        "# lab: corosync 3 runs this EL6 file with two additions: the members listed\n"
        "# (corosync 1.4 found them by multicast; the names are the EL6 short names) and\n"
        "# votequorum (EL6 took quorum from Pacemaker's plugin).\n"
        "nodelist {\n" + "".join(nodes) + "}\n\n"
        "quorum {\n\tprovider: corosync_votequorum\n\ttwo_node: 1\n}\n"
    )


# ------------------------------------------------------------------ CIB


def _nvpair(parent, set_id, name, value):
    ET.SubElement(parent, "nvpair", id=f"{set_id}-{name}", name=name, value=str(value))


def cib_xml(spec, fence):
    """The old cluster's CIB. fence: {"ipaddr", "ipport", "login", "password"}."""
    empty = run(["cibadmin", "--empty"]).stdout
    cib = ET.fromstring(empty)
    config = cib.find("configuration")
    crm_config = config.find("crm_config")
    options = ET.SubElement(crm_config, "cluster_property_set", id="cib-bootstrap-options")
    for name, value in (
        ("no-quorum-policy", "ignore"),
        ("symmetric-cluster", "true"),
        ("stonith-enabled", "true"),
        ("dc-deadtime", spec.dc_deadtime),
    ):
        _nvpair(options, "cib-bootstrap-options", name, value)
    iml = ET.SubElement(
        crm_config, "cluster_property_set", id="intel_manager_for_lustre_configuration"
    )
    ET.SubElement(
        iml,
        "nvpair",
        id="intel_manager_for_lustre_configuration_configured_by",
        name="configured_by",
        value=spec.nodes[0].old_name,
    )
    nodes = config.find("nodes")
    for node in spec.nodes:
        element = ET.SubElement(nodes, "node", id=str(node.index), uname=node.old_name)
        attrs = ET.SubElement(element, "instance_attributes", id=f"nodes-{node.index}")
        for name, value in (
            ("0_fence_ipaddr", fence["ipaddr"]),
            ("0_fence_ipport", fence["ipport"]),
            ("0_fence_login", fence["login"]),
            ("0_fence_password", fence["password"]),
            ("0_fence_plug", node.minion),
            ("0_fence_agent", "fence_lab"),  # IML writes the agent last
        ):
            _nvpair(attrs, f"nodes-{node.index}", name, value)
    resources = config.find("resources")
    ET.SubElement(
        resources, "primitive", {"class": "stonith", "id": "st-fencing", "type": "fence_chroma"}
    )
    constraints = config.find("constraints")
    for target in spec.targets:
        rsc = target.resource
        primitive = ET.SubElement(
            resources,
            "primitive",
            {"class": "ocf", "provider": "chroma", "type": "Target", "id": rsc},
        )
        meta = ET.SubElement(primitive, "meta_attributes", id=f"{rsc}-meta_attributes")
        ET.SubElement(
            meta,
            "nvpair",
            name="target-role",
            id=f"{rsc}-meta_attributes-target-role",
            value="Started",
        )
        ops = ET.SubElement(primitive, "operations", id=f"{rsc}-operations")
        ET.SubElement(ops, "op", id=f"{rsc}-monitor-5", interval="5", name="monitor", timeout="60")
        ET.SubElement(ops, "op", id=f"{rsc}-start-0", interval="0", name="start", timeout="300")
        ET.SubElement(ops, "op", id=f"{rsc}-stop-0", interval="0", name="stop", timeout="300")
        inst = ET.SubElement(primitive, "instance_attributes", id=f"{rsc}-instance_attributes")
        ET.SubElement(
            inst, "nvpair", id=f"{rsc}-instance_attributes-target", name="target", value=target.uuid
        )
        for role, index, score in (
            ("primary", target.primary, 20),
            ("secondary", target.secondary, 10),
        ):
            ET.SubElement(
                constraints,
                "rsc_location",
                id=f"{rsc}-{role}",
                node=spec.node(str(index)).old_name,
                rsc=rsc,
                score=str(score),
            )
    defaults = ET.SubElement(config, "rsc_defaults")
    rsc_options = ET.SubElement(defaults, "meta_attributes", id="rsc-options")
    for name, value in (
        ("resource-stickiness", "1000"),
        ("failure-timeout", "20m"),
        ("migration-threshold", "3"),
    ):
        _nvpair(rsc_options, "rsc-options", name, value)
    ET.indent(cib)
    return ET.tostring(cib, encoding="unicode") + "\n"


def verify_cib(path):
    result = run(["crm_verify", "--xml-file", str(path)], check=False)
    # Without a status section every node looks unclean: warnings, not errors.
    if result.returncode != 0 and "Errors found" in result.stderr:
        raise RuntimeError(f"the lab's old CIB does not verify: {result.stderr.strip()}")


# ------------------------------------------------------------------ node files


def target_record(target):
    """IML's target store entry (/var/lib/chroma/targets/<uuid>), one line like IML's."""
    return json.dumps(
        {
            "backfstype": "ext4",
            "bdev": f"/srv/{target.disk}",
            "device_type": "linux",
            "mntpt": target.mntpt,
            "target_name": target.name,
        },
        sort_keys=True,
    )


def hosts_file(spec):
    lines = [
        "127.0.0.1   localhost localhost.localdomain",
        "::1         localhost localhost.localdomain",
        f"{spec.manager_address}  {spec.manager_fqdn} {spec.manager_fqdn.split('.', 1)[0]}",
    ]
    for node in spec.nodes:
        lines.append(f"{node.rings[0]}  {node.fqdn} {node.old_name}")
    return "\n".join(lines) + "\n"


def _password_hash(password):
    return run(["openssl", "passwd", "-6", "-stdin"], input=password).stdout.strip()


def shadow_with(password_hash, user="hacluster"):
    lines = []
    with open("/etc/shadow", encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split(":")
            if fields[0] == user:
                fields[1] = password_hash
            lines.append(":".join(fields))
    return "\n".join(lines) + "\n"


def _openssl(*argv, stdin=None):
    return subprocess.run(
        ["openssl", *argv], input=stdin, capture_output=True, text=True, check=True
    ).stdout


# The IML manager's PKI of a run (<run>/manager/): its CA, which signs the manager's server
# certificate and every agent's client certificate, as IML's manager does at registration.
MANAGER_DIR = "manager"
_LEAF_EXTENSIONS = """\
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:{fqdn}

[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
"""


def _new_key():
    return _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")


def _write_private(path, text):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(text)


def manager_pki(run_dir, fqdn):
    """Create the run's manager PKI under <run_dir>/manager/ (0700, root's): ca.key (0600;
    besides the run dir only on the manager node, as its authority.pem), ca.crt, and the
    server certificate of `fqdn` (server.key 0600, server.crt, SAN DNS:<fqdn>) that the
    manager node's HTTPS presents (its manager.crt/.pem). Returns the directory."""
    directory = Path(run_dir) / MANAGER_DIR
    directory.mkdir(mode=0o700)
    os.chmod(directory, 0o700)
    (directory / "extensions.cnf").write_text(_LEAF_EXTENSIONS.format(fqdn=fqdn))
    _write_private(directory / "ca.key", _new_key())
    ca_cert = _openssl(
        "req",
        "-new",
        "-x509",
        "-key",
        str(directory / "ca.key"),
        "-days",
        "3650",
        "-subj",
        f"/O=Lab IML manager/CN=IML manager CA (lab run {Path(run_dir).name})",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    (directory / "ca.crt").write_text(ca_cert)
    key = _new_key()
    _write_private(directory / "server.key", key)
    (directory / "server.crt").write_text(_sign(directory, key, fqdn, "server"))
    return directory


def _sign(manager_dir, key, common_name, kind):
    """A certificate for `key`, CN=common_name, signed by the manager's CA (kind: the
    extension section, server or client)."""
    csr = _openssl("req", "-new", "-key", "/dev/stdin", "-subj", f"/CN={common_name}", stdin=key)
    return _openssl(
        "x509",
        "-req",
        "-in",
        "/dev/stdin",
        "-CA",
        str(manager_dir / "ca.crt"),
        "-CAkey",
        str(manager_dir / "ca.key"),
        "-set_serial",
        f"0x{secrets.token_hex(16)}",
        "-days",
        "3650",
        "-extfile",
        str(manager_dir / "extensions.cnf"),
        "-extensions",
        kind,
        stdin=csr,
    )


def chroma_certificates(common_name, manager_dir):
    """An agent's IML certificates, as its registration with the manager left them:
    (private.pem, self.crt signed by the manager's CA, authority.crt = the CA's cert)."""
    manager_dir = Path(manager_dir)
    key = _new_key()
    cert = _sign(manager_dir, key, common_name, "client")
    return key, cert, (manager_dir / "ca.crt").read_text()


def provision_old_node(node, spec, cib_text, manager_dir):
    """Turn a kickstarted disk into an EL6 IML server of the pair (before first boot).
    manager_dir: the run's manager PKI (manager_pki), whose CA signs the node's IML
    certificate."""
    ns = node.node
    # EL6 names itself from /etc/sysconfig/network, short.
    node.upper("/etc/hostname").unlink(missing_ok=True)
    node.write("/etc/sysconfig/network", f"NETWORKING=yes\nHOSTNAME={ns.old_name}\n")
    node.write("/etc/hosts", hosts_file(spec))
    node.write(
        "/etc/shadow",
        shadow_with(_password_hash(spec.hacluster_password)),
        mode=0o640,
        owner=("root", "shadow"),
    )
    node.write(
        "/etc/ntp.conf", f"driftfile /var/lib/ntp/drift\nserver {spec.manager_fqdn} iburst\n"
    )
    node.write(
        "/etc/modprobe.d/iml_lnet_module_parameters.conf",
        "# This file is auto-generated for Lustre NID configuration by IML\n"
        "# Do not overwrite this file, any changes will be lost\n"
        f'options lnet networks="tcp0(e{node.run_dir.name}r0)"\n',
    )
    node.write(
        "/etc/yum.repos.d/Intel-Lustre-Agent.repo",
        f"[Intel-Lustre-Agent]\nname=Intel Lustre Agent\nbaseurl=https://{spec.manager_fqdn}"
        "/repo/\nenabled=0\ngpgcheck=0\nsslverify=0\n",
    )
    node.write("/etc/corosync/corosync.conf", corosync_conf(spec))
    node.mkdir("/etc/ssh", mode=0o755)
    _ssh_keys(node, ns.old_name)
    # IML's agent state and target store.
    node.mkdir("/var/lib/chroma", mode=0o755)
    # The agent registered with the manager under its FQDN (its CSR's CN); the manager's
    # CA signed it. The CA's key stays with the manager (the run dir, the manager node),
    # never on a server.
    key, cert, authority = chroma_certificates(ns.fqdn, manager_dir)
    node.write("/var/lib/chroma/private.pem", key, mode=0o600)
    node.write("/var/lib/chroma/self.crt", cert)
    node.write("/var/lib/chroma/authority.crt", authority)
    node.write(
        "/var/lib/chroma/settings/server", json.dumps({"url": f"https://{spec.manager_fqdn}:443/"})
    )
    for target in spec.targets:
        node.write(f"/var/lib/chroma/targets/{target.uuid}", target_record(target))
        node.mkdir(target.mntpt)
    # The cluster: seeded CIB (pacemaker's own file format, hacluster-owned).
    node.mkdir("/var/lib/pacemaker/cib", mode=0o750, owner=("hacluster", "haclient"))
    node.write(
        "/var/lib/pacemaker/cib/cib.xml", cib_text, mode=0o600, owner=("hacluster", "haclient")
    )
    node.mkdir("/var/lib/pcsd", mode=0o700)
    node.mkdir("/var/log/cluster", mode=0o755)
    for unit in ("corosync.service", "pacemaker.service"):
        node.enable_unit(unit)
    if spec.pcsd:
        node.enable_unit("pcsd.service")


def _ssh_keys(node, name):
    tmp = node.home / "sshkeys"
    tmp.mkdir(parents=True, exist_ok=True)
    keys = {"ssh_host_rsa_key": "rsa", "ssh_host_ed25519_key": "ed25519", "id_rsa": "rsa"}
    # Concurrently: RSA key generation dominates the lab's set-up time.
    jobs = [
        subprocess.Popen(
            [
                "ssh-keygen",
                "-q",
                "-t",
                kind,
                *(["-b", "2048"] if kind == "rsa" else []),
                "-N",
                "",
                "-C",
                f"root@{name}",
                "-f",
                str(tmp / key),
            ]
        )
        for key, kind in keys.items()
        if not (tmp / key).exists()
    ]
    for job in jobs:
        if job.wait() != 0:
            raise RuntimeError(f"ssh-keygen failed for {name}")
    for key in ("ssh_host_rsa_key", "ssh_host_ed25519_key"):
        node.write(f"/etc/ssh/{key}", (tmp / key).read_text(), mode=0o600)
        node.write(f"/etc/ssh/{key}.pub", (tmp / f"{key}.pub").read_text())
    node.write("/etc/ssh/sshd_config", "PermitRootLogin yes\nPasswordAuthentication no\n")
    node.mkdir("/root/.ssh", mode=0o700)
    node.write("/root/.ssh/id_rsa", (tmp / "id_rsa").read_text(), mode=0o600)
    node.write("/root/.ssh/id_rsa.pub", (tmp / "id_rsa.pub").read_text())
    node.write("/root/.ssh/authorized_keys", (tmp / "id_rsa.pub").read_text(), mode=0o600)


# ------------------------------------------------------------------ status


def parse_crm_mon(xml_text):
    """`crm_mon --output-as=xml` -> {"nodes": {name: {...}}, "resources": {id: {...}}}."""
    root = ET.fromstring(xml_text)
    nodes = {}
    for node in root.iter("node"):
        if node.get("online") is None:
            continue  # a <node> inside a <resource>
        nodes[node.get("name")] = {
            "online": node.get("online") == "true",
            "standby": node.get("standby") == "true",
            "unclean": node.get("unclean") == "true",
            "id": node.get("id"),
        }
    resources = {}
    section = root.find("resources")
    for rsc in section.iter("resource") if section is not None else ():
        resources[rsc.get("id")] = {
            "agent": rsc.get("resource_agent"),
            "role": rsc.get("role"),
            "active": rsc.get("active") == "true",
            "failed": rsc.get("failed") == "true",
            "nodes": [n.get("name") for n in rsc.findall("node")],
        }
    return {"nodes": nodes, "resources": resources}


def settled(status, spec, names):
    """Both nodes online and every target running on exactly one node."""
    nodes = status["nodes"]
    if sorted(nodes) != sorted(names) or not all(n["online"] for n in nodes.values()):
        return False
    for target in spec.targets:
        rsc = status["resources"].get(target.resource)
        if not rsc or rsc["role"] != "Started" or len(rsc["nodes"]) != 1:
            return False
    return True
