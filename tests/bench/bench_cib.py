"""Timing of the CIB model and of the restore planning (the library: cib, cib_restore)
on the largest real CIB.

Run: python tests/bench/bench_cib.py [ROUNDS]. Prints figures; asserts nothing (goals:
reading pcs/cib-large.xml < 100 ms, building its restore CIB < 1 s, parsing and writing
included). Not collected by pytest (no test_ prefix).
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "_utils"))

from lustre_upgrade_lib import cib, cib_restore, fileio  # noqa: E402

LARGE = REPO_ROOT.parent / "shared" / "fixtures" / "real" / "pcs" / "cib-large.xml"
EL6 = REPO_ROOT / "tests" / "fixtures" / "cluster" / "el6-iml-cib-backup.xml"
BASE = REPO_ROOT / "tests" / "fixtures" / "cluster" / "new-cluster-cib.xml"
# cib-large's constraints name seven nodes, three of them configured.
LARGE_MAP = {f"rh7-{i}": f"rh7-{i}.example.com" for i in range(1, 8)}
EL6_MAP = {"ct6-mds1": "ct6-mds1.lfs.intl", "ct6-mds2": "ct6-mds2.lfs.intl"}


def timed(label, goal_ms, rounds, func):
    times = []
    result = None
    for _ in range(rounds):
        start = time.perf_counter()
        result = func()
        times.append((time.perf_counter() - start) * 1000)
    median, best = statistics.median(times), min(times)
    verdict = "ok" if median < goal_ms else "OVER GOAL"
    print(
        f"{label:<58} median {median:8.1f} ms  min {best:8.1f} ms  "
        f"goal < {goal_ms:.0f} ms  {verdict}"
    )
    return result


def build_restore_cib(backup, node_map, out, agents=(cib.TARGET_AGENT,)):
    """What pacemaker.build_restore_cib does with a base file: parse, plan, write."""
    root, summary = cib_restore.restore_cib(
        cib.load_xml_file(str(backup)), node_map, cib.load_xml_file(str(BASE)), str(backup), agents
    )
    fileio.atomic_write(str(out), cib.to_bytes(root), mode=0o600)
    return summary


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    if not LARGE.exists():
        print(f"{LARGE} is absent: the real artifacts live beside the repository")
        return 1
    size_kb = LARGE.stat().st_size / 1024
    print(f"pcs/cib-large.xml: {size_kb:.0f} KiB; {rounds} rounds each")
    data = timed("read_cib(pcs/cib-large.xml)", 100, rounds, lambda: cib.read_cib_file(str(LARGE)))
    print(
        f"  {len(data['resources'])} resources, {len(data['locations'])} locations, "
        f"{len(data['nodes'])} nodes"
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "restore.xml"
        summary = timed(
            "build_restore_cib(pcs/cib-large.xml, agents=Dummy)",
            1000,
            rounds,
            lambda: build_restore_cib(LARGE, LARGE_MAP, out, agents="ocf:heartbeat:Dummy"),
        )
        print(
            f"  {len(summary['resources'])} resources and {len(summary['constraints'])} "
            f"constraints copied, {out.stat().st_size / 1024:.0f} KiB written"
        )
        timed(
            "build_restore_cib(pcs/cib-large.xml) (no Target: walk only)",
            1000,
            rounds,
            lambda: build_restore_cib(LARGE, LARGE_MAP, out),
        )
        timed(
            "build_restore_cib(EL6 IML backup, 4 targets)",
            1000,
            rounds,
            lambda: build_restore_cib(EL6, EL6_MAP, out),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
