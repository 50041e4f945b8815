"""Timing of `orch.upgrade_pair` on the lab: per-target outages at the cutover and at the
rebalance against the lab agent's configured stop + start, and the whole pair's
orchestration wall time excluding the rebuilds themselves.

Run (as root, after `bash tests/run.sh --collect-only -q` has set up .venv):
    .venv/bin/python tests/bench/bench_upgrade_pair.py
Brings a lab up, runs the user's command, prints figures, tears the lab down. Asserts
nothing (goals: at most 2 s of orchestration overhead per target outage; under 3 minutes
for the pair without its rebuilds). Not collected by pytest (no test_ prefix).
"""

import json
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "lab"))

from lablib.lab import Lab  # noqa: E402

REBUILDS = ("rebuild-node1", "rebuild-node2")
OVERHEAD_GOAL = 2.0
WALL_GOAL = 180.0


def _phase_windows(report):
    return {p["name"]: (p["start"], p["end"]) for p in report["phases"]}


def _prober_outages(lab, target, start, end):
    avail = lab.availability(start, end)
    entry = avail.get(target.name)
    return [outage.duration for outage in entry.outages] if entry else []


def main():
    # The pair upgrade starts where orch.upgrade_manager left the manager.
    lab = Lab.up(venv=sys.prefix, overrides={"manager": {"life": "el7"}})
    try:
        started = time.time()
        result = lab.salt_run(
            "state.orch", "orch.upgrade_pair", "pillar={pair: oss1}", timeout=3600
        )
        wall = time.time() - started
        if result.returncode != 0:
            print(result.stdout[-4000:], result.stderr[-2000:])
            return 1
        report = json.loads(lab.salt_run("--out=json", "lustre_upgrade.report", "pair=oss1").stdout)
        windows = _phase_windows(report)
        agent = lab.spec.stop_delay + lab.spec.start_delay
        print(f"lab agent: stop {lab.spec.stop_delay:.1f} s + start {lab.spec.start_delay:.1f} s")
        # "orchestration": from the stop the orchestration issued to the start it saw;
        # "prober": what a client of the target saw. Overheads are each less stop + start.
        print(
            f"{'target':<16}{'phase':<11}{'orchestration':>14}{'overhead':>10}"
            f"{'prober':>9}{'overhead':>10}"
        )
        overheads, seen_overheads = [], []
        for target in lab.spec.targets:
            for outage in report["targets"][target.resource]["outages"]:
                phase, seconds = outage["phase"], outage["seconds"]
                if phase not in ("cutover", "rebalance"):
                    continue
                start, end = windows[phase]
                seen = _prober_outages(lab, target, start, end + 1)
                prober = max(seen) if seen else 0.0
                overhead = seconds - agent
                overheads.append(overhead)
                seen_overheads.append(prober - agent)
                print(
                    f"{target.name:<16}{phase:<11}{seconds:>12.2f} s{overhead:>8.2f} s"
                    f"{prober:>7.2f} s{prober - agent:>8.2f} s"
                )
        rebuilds = sum(windows[name][1] - windows[name][0] for name in REBUILDS)
        print(
            f"per-target overhead: max {max(overheads):.2f} s, mean "
            f"{sum(overheads) / len(overheads):.2f} s as the orchestration saw it; max "
            f"{max(seen_overheads):.2f} s as a client saw it (goal <= {OVERHEAD_GOAL:.1f} s)"
        )
        print(
            f"whole pair: {wall:.1f} s wall, rebuilds {rebuilds:.1f} s, without rebuilds "
            f"{wall - rebuilds:.1f} s (goal < {WALL_GOAL:.0f} s)"
        )
        for name, (start, end) in windows.items():
            print(f"  {name:<16}{end - start:7.1f} s")
        return 0
    finally:
        lab.teardown()


if __name__ == "__main__":
    sys.exit(main())
