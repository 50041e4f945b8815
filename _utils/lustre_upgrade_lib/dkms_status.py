"""
What ``dkms status`` says about the kernel modules Lustre, SPL and ZFS need.

The runbook verifies a ZFS or mixed-OSD server by reading ``dkms status`` after the
Lustre packages are installed: every module must be ``installed`` for the kernel the node
boots. This reads that output (every dkms format seen on Lustre servers) and answers the
question.

``dkms status`` formats:

- dkms 2.x: ``name, version, kernel, arch: state``
- dkms 3.x: ``name/version, kernel, arch: state``
- a module only added to the tree: ``name, version: added`` / ``name/version: added``
- suffixes after the state, repeated per kernel object: ``(WARNING! Diff between built
  and installed module!)``, ``(original_module exists)``, ``(WARNING! Missing some built
  modules!)`` (dkms 2.x/3.0), ``(Differences between built and installed modules)``,
  ``(Original modules exist)``, ``(Built modules are missing in the kernel modules
  folder)`` (dkms ≥ 3.1)
- a weak-updates link to a module built for another kernel (EL kABI):
  ``installed-weak from <kernel>``

An entry is a dict ``{"module", "version", "kernel", "arch", "state", "warning"}``:
``kernel``/``arch`` are None for modules only ``added``; ``warning`` is None or the
distinct warning suffixes joined by ``"; "``.
"""

import logging

from . import cli_args

log = logging.getLogger(__name__)

INSTALLED = "installed"
INSTALLED_WEAK = "installed-weak"
# Suffixes saying the module file dkms built is not where modprobe looks for it: the
# module is as good as missing for that kernel.
_MISSING_FILE_MARKERS = ("missing some built modules", "built modules are missing")


def parse_line(line):
    """The entry a ``dkms status`` line describes, or None for any other line."""
    text = line.strip()
    # The state follows the first ": "; an epoch in a version ("1:2.0") has no space.
    head, sep, tail = text.partition(": ")
    if not sep or not head or not tail:
        return None
    fields = [field.strip() for field in head.split(",")]
    first = fields.pop(0)
    if "/" in first:
        module, _, version = first.partition("/")
    else:
        module = first
        version = fields.pop(0) if fields else None
    if not module or not version or len(fields) > 2 or any(not f for f in fields):
        return None
    kernel = fields[0] if fields else None
    arch = fields[1] if len(fields) > 1 else None
    state, warnings = _split_state(tail)
    if not state:
        return None
    return {
        "module": module,
        "version": version,
        "kernel": kernel,
        "arch": arch,
        "state": state,
        "warning": "; ".join(warnings) if warnings else None,
    }


def _split_state(tail):
    """Split ``installed (W1) (W1) (W2)`` into the state and its distinct warnings."""
    state, _, rest = tail.partition("(")
    state = state.strip()
    warnings = []
    if state.startswith(INSTALLED_WEAK):
        # "installed-weak from <kernel>": the module is a link to another kernel's build.
        warnings.append(state)
        state = INSTALLED_WEAK
    if state and " " in state:
        return None, []
    rest = "(" + rest if rest else ""
    depth = 0
    current = []
    for char in rest:
        if char == "(":
            depth += 1
            if depth == 1:
                current = []
                continue
        elif char == ")":
            depth -= 1
            if depth == 0:
                text = " ".join("".join(current).split())
                if text and text not in warnings:
                    warnings.append(text)
                continue
        if depth >= 1:
            current.append(char)
    return state, warnings


def parse(text):
    """
    Every entry of a whole ``dkms status`` output, in its order.

    Lines that are not status lines (dkms prints deprecation notes and errors among them)
    are skipped.
    """
    entries = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        entry = parse_line(line)
        if entry is None:
            log.debug("dkms status: skipped a line that is not a status line: %r", line)
            continue
        entries.append(entry)
    return entries


def file_missing(entry):
    """Whether an entry's warning says the built module file is not where modprobe looks."""
    warning = (entry.get("warning") or "").lower()
    return any(marker in warning for marker in _MISSING_FILE_MARKERS)


def evaluate(entries, modules, kernel, arch=None):
    """
    Decide whether every module in ``modules`` is installed for ``kernel``.

    ``entries`` as :func:`parse` returns them; ``modules`` a list or a comma-separated
    string. Returns ``ok``, ``missing`` (modules not installed for that kernel, in the
    order asked), ``warnings`` (one sentence per suspicious entry), ``kernel`` and
    ``found`` (module → its entry for that kernel, the installed one when there is one,
    else the most advanced one, else None).
    """
    missing = []
    warnings = []
    found = {}
    for module in cli_args.as_list(modules):
        candidates = [
            e
            for e in entries
            if e["module"] == module
            and e["kernel"] == kernel
            and (arch is None or e["arch"] == arch)
        ]
        installed = [e for e in candidates if e["state"] in (INSTALLED, INSTALLED_WEAK)]
        usable = [e for e in installed if not file_missing(e)]
        if usable:
            entry = usable[0]
        elif installed:
            entry = installed[0]
        elif candidates:
            entry = candidates[0]
        else:
            # Added-only entries carry no kernel: report them so the message can say
            # which version to build.
            added = [e for e in entries if e["module"] == module and e["kernel"] is None]
            entry = added[0] if added else None
        found[module] = entry
        if not usable:
            missing.append(module)
        for e in installed:
            if e["warning"]:
                warnings.append(f"{e['module']}/{e['version']} on {kernel}: {e['warning']}")
    return {
        "ok": not missing,
        "missing": missing,
        "warnings": warnings,
        "kernel": kernel,
        "found": found,
    }


def remedy(result):
    """The commands (one sentence per missing module) that would install each missing one."""
    kernel = result["kernel"]
    lines = []
    for module in result["missing"]:
        entry = result["found"].get(module)
        if entry is None:
            lines.append(
                f"{module}: not in the DKMS tree; install its package "
                f"(yum install {module}-dkms, or the runbook's lustre-ldiskfs-zfs) "
                f"and read /var/lib/dkms/{module}/*/build/make.log if it fails"
            )
        elif entry["state"] in (INSTALLED, INSTALLED_WEAK):
            lines.append(
                f"{module}/{entry['version']} is installed for {kernel} but its module "
                f"files are not in place ({entry['warning']}); run "
                f"`dkms install --force -m {module} -v {entry['version']} -k {kernel}`"
            )
        else:
            where = f"for {entry['kernel']}" if entry["kernel"] else "to the DKMS tree only"
            lines.append(
                f"{module}/{entry['version']} is {entry['state']} {where}; run "
                f"`dkms install -m {module} -v {entry['version']} -k {kernel}` "
                f"(kernel-devel-{kernel} must be installed)"
            )
    return lines


def verification(entries, modules, kernel, arch=None):
    """:func:`evaluate` plus ``remedy``: what ``dkms.verify`` returns."""
    result = evaluate(entries, modules, kernel, arch=arch)
    result["remedy"] = remedy(result)
    return result
