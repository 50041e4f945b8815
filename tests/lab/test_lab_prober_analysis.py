"""The prober's analysis: outages and double service per target, from its records."""

import pytest
from lablib import prober  # lab/ is on sys.path (tests/lab/conftest.py)


def _records(*samples):
    """(t, {target: [nodes]}) -> prober records."""
    return [{"t": t, "served": served, "up": ["a", "b"]} for t, served in samples]


def test_a_target_that_moves_has_one_outage_from_its_last_to_its_first_served_sample():
    records = _records(
        (0.0, {"MGS": ["a"]}),
        (0.1, {"MGS": ["a"]}),
        (0.2, {"MGS": []}),
        (0.3, {"MGS": []}),
        (1.7, {"MGS": ["b"]}),
        (1.8, {"MGS": ["b"]}),
    )

    mgs = prober.analyse(records)["MGS"]

    assert [(o.start, o.end, o.open) for o in mgs.outages] == [(0.2, 1.7, False)]
    assert mgs.outage_total == 1.5
    assert mgs.served_by == ("b",)
    assert mgs.moves == [(0.2, ["a"], []), (1.7, [], ["b"])]
    assert mgs.double_service == []


def test_time_before_a_target_is_first_served_is_start_up_not_outage():
    records = _records((0.0, {"OST0": []}), (0.5, {"OST0": []}), (0.6, {"OST0": ["b"]}))

    ost = prober.analyse(records)["OST0"]

    assert ost.first_served == 0.6
    assert ost.outages == []


def test_an_outage_still_going_at_the_last_record_is_open():
    records = _records((0.0, {"MDT0": ["a"]}), (0.1, {"MDT0": []}), (2.1, {"MDT0": []}))

    mdt = prober.analyse(records)["MDT0"]

    assert len(mdt.outages) == 1
    assert mdt.outages[0].open is True
    assert mdt.outages[0].duration == 2.0


def test_two_nodes_serving_a_target_at_once_is_double_service():
    records = _records(
        (0.0, {"MGS": ["a"]}),
        (0.1, {"MGS": ["a", "b"]}),
        (0.2, {"MGS": ["b", "a"]}),
        (0.3, {"MGS": ["b"]}),
    )

    mgs = prober.analyse(records)["MGS"]

    assert [(d.start, d.end, d.nodes) for d in mgs.double_service] == [(0.1, 0.3, ("a", "b"))]
    assert mgs.outages == []


def test_targets_are_analysed_independently():
    records = _records(
        (0.0, {"A": ["a"], "B": ["b"]}),
        (0.1, {"A": [], "B": ["b"]}),
        (0.2, {"A": ["b"], "B": ["b"]}),
    )

    result = prober.analyse(records)

    assert result["A"].outage_total == 0.1
    assert result["B"].outage_total == 0


@pytest.mark.parametrize(
    ("mountinfo", "served"),
    [
        pytest.param(
            "412 398 254:0 /tmp/lulab/ab12cd/san/scsi-0LAB_MGS/fs /mnt/MGS rw,relatime - ext4 "
            "/dev/vda rw\n",
            {"MGS"},
            id="bind-mounted-target",
        ),
        pytest.param(
            "300 1 0:44 / /srv rw - ext4 /dev/vda rw\n", set(), id="the-shared-storage-itself"
        ),
        pytest.param(
            "412 398 0:51 /lulab/ab12cd/san/scsi-0LAB_OST0/fs /mnt/OST0 rw - tmpfs tmpfs rw\n",
            {"OST0"},
            id="run-base-on-another-filesystem",
        ),
    ],
)
def test_served_targets_are_the_target_disks_mounted_in_a_node(mountinfo, served):
    disks = {"scsi-0LAB_MGS": "MGS", "scsi-0LAB_OST0": "OST0"}

    assert prober.served_targets(mountinfo, disks) == served


def test_records_written_by_the_prober_read_back_with_a_time_window(tmp_path):
    path = tmp_path / "prober.jsonl"
    path.write_text(
        '{"t": 1.0, "served": {"MGS": ["a"]}, "up": ["a"]}\n'
        '{"t": 2.0, "served": {"MGS": []}, "up": ["a"]}\n'
        '{"t": 3.0, "served": {"MGS": ["b"]}'  # a line still being written
    )

    assert [r["t"] for r in prober.read_records(path, since=1.5)] == [2.0]
