#!/usr/bin/python3 -I
"""fence_chroma -- the lab's stand-in for IML's fencing agent (stonith:fence_chroma).

Like IML's, it holds no settings of its own: everything is in node attributes of the CIB,
`N_fence_agent`, `N_fence_ipaddr`, `N_fence_ipport`, `N_fence_login`, `N_fence_password`,
`N_fence_plug` (N = 0, 1, ... one per power device of the node). For each device of the
victim, in order, it runs N_fence_agent with the standard fence-agent stdin protocol.
`list` names every node that has at least one device. Shipped by the lab's chroma-agent
package; the device agent of the lab is fence_lab (a power switch outside the nodes).
"""

import subprocess
import sys
import xml.etree.ElementTree as ET

METADATA = """<?xml version="1.0" ?>
<resource-agent name="fence_chroma" shortdesc="Fence agent for Intel Manager for Lustre (lab)">
<longdesc>Calls the power devices configured as N_fence_* node attributes.</longdesc>
<parameters>
  <parameter name="action" unique="0" required="0">
    <getopt mixed="-o, --action=[action]"/>
    <content type="string" default="reboot"/>
    <shortdesc lang="en">Fencing action</shortdesc>
  </parameter>
  <parameter name="port" unique="0" required="0">
    <getopt mixed="-n, --plug=[name]"/>
    <content type="string"/>
    <shortdesc lang="en">Node to fence</shortdesc>
  </parameter>
  <parameter name="plug" unique="0" required="0" obsoletes="port">
    <getopt mixed="-n, --plug=[name]"/>
    <content type="string"/>
    <shortdesc lang="en">Node to fence</shortdesc>
  </parameter>
</parameters>
<actions>
  <action name="on" automatic="0"/>
  <action name="off"/>
  <action name="reboot"/>
  <action name="status"/>
  <action name="list"/>
  <action name="monitor"/>
  <action name="metadata"/>
  <action name="validate-all"/>
</actions>
</resource-agent>
"""


def read_options(argv, stdin_text):
    """stdin `key=value` lines, then -o/-n/--action=/--plug= on the command line."""
    options = {}
    for line in stdin_text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            options[key.strip()] = value.strip()
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-o", "--action") and args:
            options["action"] = args.pop(0)
        elif arg.startswith("--action="):
            options["action"] = arg.split("=", 1)[1]
        elif arg in ("-n", "--plug") and args:
            options["plug"] = args.pop(0)
        elif arg.startswith("--plug="):
            options["plug"] = arg.split("=", 1)[1]
    return options


def fence_devices(nodes_xml):
    """<nodes> XML -> {node name: [{agent, ipaddr, ...} for N in order]}."""
    out = {}
    root = ET.fromstring(nodes_xml)
    for node in root.iter("node"):
        name = node.get("uname")
        devices = {}
        for nvpair in node.iter("nvpair"):
            key = nvpair.get("name", "")
            index, sep, rest = key.partition("_fence_")
            if sep and index.isdigit():
                devices.setdefault(int(index), {})[rest] = nvpair.get("value", "")
        ordered = [devices[i] for i in sorted(devices) if devices[i].get("agent")]
        if name and ordered:
            out[name] = ordered
    return out


def query_nodes():
    result = subprocess.run(
        ["cibadmin", "--query", "--scope", "nodes"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"cibadmin --query --scope nodes failed: {result.stderr.strip()}")
    return result.stdout


def run_device(device, action):
    options = {k: v for k, v in device.items() if k != "agent"}
    if "password" in options:
        options["passwd"] = options.pop("password")
    options["action"] = action
    stdin = "".join(f"{k}={v}\n" for k, v in options.items())
    result = subprocess.run(
        [device["agent"]], input=stdin, capture_output=True, text=True, check=False
    )
    sys.stderr.write(result.stderr)
    return result.returncode, result.stdout


def main(argv):
    options = read_options(argv[1:], "" if sys.stdin.isatty() else sys.stdin.read())
    action = options.get("action", "reboot")
    if action in ("metadata", "meta-data"):
        print(METADATA)
        return 0
    if action in ("monitor", "validate-all"):
        return 0
    devices = fence_devices(query_nodes())
    if action == "list":
        for name in sorted(devices):
            print(name)
        return 0
    victim = options.get("plug") or options.get("port") or options.get("nodename")
    if not victim:
        print("fence_chroma: no node given (plug=)", file=sys.stderr)
        return 1
    if victim not in devices:
        print(f"fence_chroma: node {victim} has no N_fence_* attributes", file=sys.stderr)
        return 1
    if action == "status":
        rc, out = run_device(devices[victim][0], "status")
        sys.stdout.write(out)
        return rc
    if action == "reboot":
        # Every device off before any on, as for a node with several power supplies.
        for device in devices[victim]:
            rc, _ = run_device(device, "off")
            if rc != 0:
                return rc
        for device in devices[victim]:
            run_device(device, "on")
        return 0
    if action in ("on", "off"):
        for device in devices[victim]:
            rc, _ = run_device(device, action)
            if rc != 0:
                return rc
        return 0
    print(f"fence_chroma: unsupported action {action}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
