#!/usr/bin/python3 -I
"""fence_lab -- fence agent for the lab's power switch (a service outside the nodes).

Standard fence-agent interface (stdin `key=value` or -o/-n/-a/-u/-l/-p): ipaddr, ipport,
login, passwd, plug, action (on, off, reboot, status, list, monitor, metadata). The switch
answers one JSON line per request; `off` returns once the node is really off (its PID 1 is
gone). Shipped by the lab's chroma-agent package.
"""

import json
import socket
import sys

METADATA = """<?xml version="1.0" ?>
<resource-agent name="fence_lab" shortdesc="Fence agent for the lab power switch">
<parameters>
  <parameter name="action"><content type="string" default="reboot"/></parameter>
  <parameter name="ipaddr" required="1"><content type="string"/></parameter>
  <parameter name="ipport"><content type="integer" default="7623"/></parameter>
  <parameter name="login" required="1"><content type="string"/></parameter>
  <parameter name="passwd"><content type="string"/></parameter>
  <parameter name="plug" required="1"><content type="string"/></parameter>
</parameters>
<actions>
  <action name="on"/><action name="off"/><action name="reboot"/><action name="status"/>
  <action name="list"/><action name="monitor"/><action name="metadata"/>
</actions>
</resource-agent>
"""

FLAGS = {
    "-o": "action",
    "-a": "ipaddr",
    "-u": "ipport",
    "-l": "login",
    "-p": "passwd",
    "-n": "plug",
}


def read_options(argv, stdin_text):
    options = {}
    for line in stdin_text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            options[key.strip()] = value.strip()
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in FLAGS and args:
            options[FLAGS[arg]] = args.pop(0)
        elif arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            options[key] = value
    if "password" in options and "passwd" not in options:
        options["passwd"] = options.pop("password")
    if "port" in options and "plug" not in options:
        options["plug"] = options.pop("port")
    return options


def ask(options, action):
    request = {
        "login": options.get("login", ""),
        "password": options.get("passwd", ""),
        "plug": options.get("plug", ""),
        "action": action,
    }
    address = (options["ipaddr"], int(options.get("ipport", 7623)))
    with socket.create_connection(address, timeout=120) as conn:
        conn.sendall((json.dumps(request) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    return json.loads(data.decode() or "{}")


def main(argv):
    options = read_options(argv[1:], "" if sys.stdin.isatty() else sys.stdin.read())
    action = options.get("action", "reboot")
    if action in ("metadata", "meta-data"):
        print(METADATA)
        return 0
    try:
        reply = ask(options, action)
    except (OSError, ValueError, KeyError) as exc:
        print(f"fence_lab: power switch unreachable: {exc}", file=sys.stderr)
        return 1
    if not reply.get("ok"):
        print(f"fence_lab: {reply.get('error', 'refused')}", file=sys.stderr)
        return 1
    if action == "list":
        for plug in reply.get("plugs", []):
            print(plug)
        return 0
    if action == "status":
        print(f"Status: {reply.get('status', 'unknown').upper()}")
        return 0 if reply.get("status") == "on" else 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
