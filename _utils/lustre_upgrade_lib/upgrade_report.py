"""
The upgrade report of one pair, from its ledger and the cluster as it is now: the
timeline of phases, per target the outages the run caused (from the stop it issued to
the start it verified), where each target runs and where it prefers to, and what is left
for the admin. ``build`` gives the data (``--out=json``), ``render`` the text.
"""

import time

from . import upgrade_ledger

_TITLES = {name: title for name, title, _section in upgrade_ledger.PHASES}


def build(ledger, placement=None, preferred=None, left_for_admin=()):
    """
    ``{"pair", "completed", "phases": [{"name", "title", "start", "end", "result",
    "detail"}], "targets": {id: {"node", "preferred", "outages_seconds", "outages": [{"phase",
    "seconds"}]}},
    "left_for_admin": [...]}``. ``placement`` (``{target: [nodes]}``) and ``preferred``
    (``{target: node}``) describe the cluster now; without them the ledger's last known
    node is reported.
    """
    placement = placement or {}
    preferred = preferred or {}
    phases = timeline(ledger, _TITLES)
    targets = {}
    for target in sorted(set(ledger["targets"]) | set(placement) | set(preferred)):
        entry = ledger["targets"].get(target, {})
        running = placement.get(target)
        targets[target] = {
            "node": (running[0] if len(running) == 1 else running)
            if running
            else entry.get("node"),
            "preferred": preferred.get(target),
            "outages_seconds": [
                round(o["started"] - o["stopped"], 3) for o in entry.get("outages", [])
            ],
            "outages": [
                {"phase": o.get("phase"), "seconds": round(o["started"] - o["stopped"], 3)}
                for o in entry.get("outages", [])
            ],
        }
    return {
        "pair": ledger["pair"],
        "completed": bool(ledger["completed"]),
        "phases": phases,
        "targets": targets,
        "left_for_admin": list(left_for_admin),
    }


def timeline(ledger, titles):
    """The phases of ``ledger`` as the report lists them; ``titles``: name -> title."""
    return [
        {
            "name": record["name"],
            "title": titles[record["name"]],
            "start": record["start"],
            "end": record["end"],
            "result": record["status"],
            "detail": record["detail"],
        }
        for record in ledger["phases"]
    ]


def timeline_lines(phases):
    """The text lines of ``timeline``'s phases."""
    return [
        f"  {phase['title']:<34} {phase['result']:<8} {_clock(phase['start'])}  "
        f"{_duration(phase['start'], phase['end'])}".rstrip()
        for phase in phases
    ]


def _clock(stamp):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"


def _duration(start, end):
    if not start or not end:
        return ""
    return f"{end - start:.1f} s"


def render(report):
    """The report as text for the admin's terminal."""
    state = "completed" if report["completed"] else "not completed"
    lines = [f"Upgrade of pair {report['pair']}: {state}", "", "Phases:"]
    lines += timeline_lines(report["phases"])
    if report["targets"]:
        lines += ["", "Targets:"]
        for target, entry in report["targets"].items():
            outages = ", ".join(f"{s:.1f} s" for s in entry["outages_seconds"]) or "none"
            where = (
                entry["node"]
                if isinstance(entry["node"], str) or not entry["node"]
                else (" and ".join(entry["node"]))
            )
            misplaced = (
                f" (prefers {entry['preferred']})"
                if entry["preferred"] and entry["preferred"] != entry["node"]
                else ""
            )
            lines.append(f"  {target}: on {where or 'no node'}{misplaced}; outages: {outages}")
    if report["left_for_admin"]:
        lines += ["", "Left for you:"] + [f"  - {item}" for item in report["left_for_admin"]]
    return "\n".join(lines) + "\n"
