"""When the baseline restore retries: only when a node went down or came back meanwhile."""

import subprocess

from lablib.lab import CommandError, LabError, killed_by_signal, power_changed


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _reader(*answers):
    """Each read gives the next answer; the last one stays."""
    answers = list(answers)

    def read():
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return read


def test_a_node_killed_under_a_command_is_seen_once_labd_has_reaped_it():
    # The fence killed node a: the command died with it, but for a few reads a's PID 1
    # (a zombie not yet reaped) still reads as the node that booted.
    booted = {"a": 100, "b": 200}
    read = _reader(booted, booted, booted, {"a": None, "b": 200})
    clock = _Clock()

    now = power_changed(read, booted, settle=30, sleep=clock.sleep, clock=clock)

    assert now == {"a": None, "b": 200}


def test_nodes_that_stay_up_mean_a_real_failure():
    booted = {"a": 100, "b": 200}
    clock = _Clock()

    assert power_changed(_reader(booted), booted, settle=30, sleep=clock.sleep, clock=clock) is None
    assert clock.now >= 30


def test_without_settling_only_the_first_read_counts():
    booted = {"a": 100, "b": 200}
    read = _reader(booted, {"a": None, "b": 200})
    clock = _Clock()

    assert power_changed(read, booted, settle=0, sleep=clock.sleep, clock=clock) is None


def test_only_a_command_killed_by_a_signal_waits_for_its_node():
    killed = subprocess.CompletedProcess(["pcs"], -9, "", "")
    failed = subprocess.CompletedProcess(["pcs"], 1, "", "Error: unable to ...")

    assert killed_by_signal(CommandError(["pcs"], killed))
    assert not killed_by_signal(CommandError(["pcs"], failed))
    assert not killed_by_signal(LabError("cluster not settled in time"))
