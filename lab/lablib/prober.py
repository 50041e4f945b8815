"""The availability prober: who serves each target, sampled from outside the nodes.

A target is served by a node when it is mounted in that node's mount namespace (what
`df -t lustre` would show there). The prober reads /proc/<node PID 1>/mountinfo from the
host every 100 ms and appends one JSON line per sample:
  {"t": 1700000000.123, "served": {"MGS": ["oss1-a"], "labfs-OST0000": []}, "up": [...]}
`analyse()` turns those records into outages and double service per target.
"""

import dataclasses
import json
import time
from pathlib import Path

INTERVAL = 0.1


def served_targets(mountinfo_text, disks):
    """Target names mounted in a mount table. disks: {disk dir name: target name}."""
    served = set()
    for line in mountinfo_text.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        root = fields[3]
        for disk, name in disks.items():
            if root.endswith(f"/san/{disk}/fs"):
                served.add(name)
    return served


def sample(nodes, disks):
    """nodes: {minion: PID 1 or None}. One record (dict) for this instant."""
    served = {name: [] for name in disks.values()}
    up = []
    for minion, pid in sorted(nodes.items()):
        if not pid:
            continue
        try:
            text = Path(f"/proc/{pid}/mountinfo").read_text()
        except OSError:
            continue
        up.append(minion)
        for name in served_targets(text, disks):
            served[name].append(minion)
    return {"t": round(time.time(), 3), "served": served, "up": up}


def read_records(path, since=None, until=None):
    records = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line being written right now
                if since is not None and record["t"] < since:
                    continue
                if until is not None and record["t"] > until:
                    continue
                records.append(record)
    except FileNotFoundError:
        pass
    return records


@dataclasses.dataclass
class Interval:
    start: float
    end: float
    nodes: tuple = ()
    open: bool = False  # still going at the last record

    @property
    def duration(self):
        return round(self.end - self.start, 3)


@dataclasses.dataclass
class TargetAvailability:
    target: str
    first_served: float = None
    outages: list = dataclasses.field(default_factory=list)
    double_service: list = dataclasses.field(default_factory=list)
    served_by: tuple = ()  # at the last record
    moves: list = dataclasses.field(default_factory=list)  # (t, from nodes, to nodes)

    @property
    def outage_total(self):
        return round(sum(i.duration for i in self.outages), 3)

    @property
    def max_outage(self):
        return max((i.duration for i in self.outages), default=0.0)

    def as_dict(self):
        return {
            "target": self.target,
            "first_served": self.first_served,
            "outage_total": self.outage_total,
            "max_outage": self.max_outage,
            "outages": [dataclasses.asdict(i) | {"duration": i.duration} for i in self.outages],
            "double_service": [
                dataclasses.asdict(i) | {"duration": i.duration} for i in self.double_service
            ],
            "served_by": list(self.served_by),
            "moves": self.moves,
        }


def analyse(records):
    """Prober records -> {target: TargetAvailability}.

    An outage runs from the first sample where a target that had been served is served by
    no node until the first sample where it is served again (time before a target was ever
    served is start-up, not outage). Double service is any sample where two or more nodes
    serve the target -- never acceptable for a Lustre target.
    """
    result = {}
    for record in records:
        t = record["t"]
        for name, nodes in record["served"].items():
            nodes = tuple(sorted(nodes))
            avail = result.setdefault(name, TargetAvailability(name))
            previous = avail.served_by
            if nodes and avail.first_served is None:
                avail.first_served = t
            if avail.first_served is not None:
                _track(avail.outages, not nodes, t, nodes)
                _track(avail.double_service, len(nodes) > 1, t, nodes)
                if nodes != previous and avail.first_served != t:
                    avail.moves.append((t, list(previous), list(nodes)))
            avail.served_by = nodes
    last = records[-1]["t"] if records else None
    for avail in result.values():
        for intervals in (avail.outages, avail.double_service):
            if intervals and intervals[-1].open:
                intervals[-1].end = last
    return result


def _track(intervals, condition, t, nodes):
    if condition:
        if intervals and intervals[-1].open:
            intervals[-1].end = t
            if nodes:
                intervals[-1].nodes = tuple(sorted(set(intervals[-1].nodes) | set(nodes)))
        else:
            intervals.append(Interval(start=t, end=t, nodes=nodes, open=True))
    elif intervals and intervals[-1].open:
        intervals[-1].end = t
        intervals[-1].open = False


def run_forever(nodes_getter, disks, out_path, stop_event, interval=INTERVAL):
    """The prober loop (labd runs it in a thread)."""
    with open(out_path, "a", encoding="utf-8") as handle:
        next_at = time.monotonic()
        while not stop_event.is_set():
            handle.write(json.dumps(sample(nodes_getter(), disks), sort_keys=True) + "\n")
            handle.flush()
            next_at += interval
            delay = next_at - time.monotonic()
            if delay < 0:
                next_at = time.monotonic()
                delay = 0
            stop_event.wait(delay)
