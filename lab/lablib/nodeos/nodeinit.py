"""PID 1 of a lab node: builds the node's private OS view, boots its services, reaps.

Run by the host (labd) as
  ip netns exec NS unshare --mount --uts --ipc --pid --fork --mount-proc \
      --propagation private python3 -I nodeinit.py BOOT.json
so every mount below happens in the node's own mount namespace and never on the host.

BOOT.json (written by lablib.node) holds:
  overlays: [{"target": "/etc", "lower": ["IMAGE/etc", "/etc"], "upper": "...", "work": "..."}]
  binds:    [{"source": HOST_PATH, "target": NODE_PATH, "ro": bool}]
  tmpfs:    ["/tmp", "/dev/shm"]
  hostname: fallback if the node's /etc has none

Exit status: 0 after a power off (SIGTERM), 100 after a reboot request (SIGINT), the
convention of the lab's unit engine (/usr/lib/lab/unitctl: systemctl on EL7, service,
chkconfig and reboot on EL6) for reboot/poweroff.

Standard library only; runs on the host's /usr/bin/python3 before /usr is overlaid.
"""

import json
import os
import signal
import subprocess
import sys
import time

REBOOT_STATUS = 100
UNITCTL = "/usr/lib/lab/unitctl"
_requested = {"action": None}


def sh(*argv):
    subprocess.run(argv, check=True)


def log(message):
    print(f"[lab-init {time.strftime('%H:%M:%S')}] {message}", flush=True)


def mount_tmpfs(target, mode="755", size="256m"):
    os.makedirs(target, exist_ok=True)
    sh("mount", "-t", "tmpfs", "-o", f"mode={mode},size={size},nosuid,nodev", "tmpfs", target)


def mount_bind(source, target, read_only=False):
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    elif not os.path.exists(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    sh("mount", "--bind", source, target)
    if read_only:
        sh("mount", "-o", "remount,bind,ro", target)


def build_os(boot):
    # /run first: util-linux writes its utab there, and staging must not touch host dirs.
    mount_tmpfs("/run", size="64m")
    os.makedirs("/run/lab/stage", exist_ok=True)
    # Host paths that the overlays below would hide (/tmp, /root) are staged under /run.
    staged = []
    for index, bind in enumerate(boot["binds"]):
        stage = f"/run/lab/stage/{index}"
        mount_bind(bind["source"], stage)
        staged.append((stage, bind))
    for overlay in boot["overlays"]:
        target = overlay["target"]
        options = "lowerdir={},upperdir={},workdir={}".format(
            ":".join(overlay["lower"]), overlay["upper"], overlay["work"]
        )
        sh("mount", "-t", "overlay", "overlay", "-o", options, target)
    for target in boot["tmpfs"]:
        mount_tmpfs(target, mode="1777", size="256m")
    for stage, bind in staged:
        mount_bind(stage, bind["target"], read_only=bind.get("ro", False))
        sh("umount", stage)
        os.rmdir(stage)
    os.rmdir("/run/lab/stage")
    for path in ("/run/lock", "/run/lab/units", "/var/log/lab-units"):
        os.makedirs(path, exist_ok=True)
    # Tools (pcs, Salt) take /run/systemd/system as "booted with systemd": an EL7 node is,
    # an EL6 node (no systemctl) is not.
    if os.path.exists("/usr/bin/systemctl"):
        os.makedirs("/run/systemd/system", exist_ok=True)


def node_hostname(fallback):
    # EL7 reads /etc/hostname; EL6 reads HOSTNAME= from /etc/sysconfig/network.
    try:
        with open("/etc/hostname", encoding="utf-8") as handle:
            name = handle.read().strip()
            if name:
                return name
    except OSError:
        pass
    try:
        with open("/etc/sysconfig/network", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("HOSTNAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return fallback


def installed_kernels():
    """(install time, version-release.arch) of the node's kernel packages."""
    result = subprocess.run(
        ["rpm", "-q", "kernel", "--qf", "%{INSTALLTIME} %{VERSION}-%{RELEASE}.x86_64\\n"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return []
    out = []
    for line in result.stdout.splitlines():
        stamp, _, release = line.partition(" ")
        if stamp.isdigit() and release:
            out.append((int(stamp), release))
    return out


def lab_boot_hooks():
    """What the lab's "firmware and bootloader" do at each power on: boot the default
    kernel -- on EL7 the most recently installed kernel package (its %posttrans makes it
    grub's default) -- recorded in /run/lab/kernel-release for the lab's modprobe; then,
    as EL7's dkms.service, build the registered DKMS modules for that kernel."""
    kernels = installed_kernels()
    if not kernels:
        return
    running = max(kernels)[1]
    with open("/run/lab/kernel-release", "w", encoding="ascii") as handle:
        handle.write(running + "\n")
    # The node's view of the running kernel: /proc says it too (uname(1) is the image's).
    subprocess.run(
        ["mount", "--bind", "-o", "ro", "/run/lab/kernel-release", "/proc/sys/kernel/osrelease"],
        check=False,
    )
    log(f"booted kernel {running} (lab)")
    if os.access("/usr/sbin/dkms", os.X_OK):
        subprocess.run(["/usr/sbin/dkms", "autoinstall", "-k", running], check=False)


def _on_signal(signum, _frame):
    _requested["action"] = "reboot" if signum == signal.SIGINT else "poweroff"


def reap_all():
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(path):
    with open(path, encoding="utf-8") as handle:
        boot = json.load(handle)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    build_os(boot)
    name = node_hostname(boot["hostname"])
    sh("hostname", name)
    sh("ip", "link", "set", "lo", "up")
    with open("/run/lab/booted", "w", encoding="ascii") as handle:
        handle.write(f"{time.time()}\n")
    lab_boot_hooks()
    log(f"{name}: starting enabled units")
    starter = subprocess.Popen([UNITCTL, "--lab-boot"])
    with open("/run/lab/ready", "w", encoding="ascii") as handle:
        handle.write(f"{time.time()}\n")
    boot_done = False
    while _requested["action"] is None:
        reap_all()
        if not boot_done and starter.poll() is not None:
            # Every enabled unit has been started (or failed to): the boot is over.
            boot_done = True
            with open("/run/lab/boot-done", "w", encoding="ascii") as handle:
                handle.write(f"{time.time()} {starter.returncode}\n")
        time.sleep(0.2)
    action = _requested["action"]
    log(f"{name}: {action}: stopping units")
    if starter.poll() is None:
        starter.terminate()
    stopper = subprocess.Popen([UNITCTL, "--lab-shutdown"])
    deadline = time.monotonic() + 300
    while stopper.poll() is None and time.monotonic() < deadline:
        reap_all()
        time.sleep(0.2)
    log(f"{name}: {action}")
    # Leaving PID 1 makes the kernel kill every process left in the node.
    return REBOOT_STATUS if action == "reboot" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
