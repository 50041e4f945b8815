"""The pair's upgrade report: the JSON the README documents and the text an admin reads."""

from lustre_upgrade_lib import upgrade_ledger, upgrade_report


def finished_ledger():
    ledger = upgrade_ledger.new("oss1", [{"minion": "oss1-a"}, {"minion": "oss1-b"}], now=0)
    for index, name in enumerate(upgrade_ledger.PHASE_NAMES):
        upgrade_ledger.start(ledger, name, now=1000 + 10 * index)
        upgrade_ledger.finish(ledger, name, upgrade_ledger.DONE, now=1005 + 10 * index)
    upgrade_ledger.note_outage(
        ledger, "MGS_32834e", "oss1-a.lfs.example", 1060.0, 1062.25, "cutover"
    )
    upgrade_ledger.note_outage(
        ledger, "MGS_32834e", "oss1-a.lfs.example", 1100.0, 1101.5, "rebalance"
    )
    return ledger


def test_the_json_report_has_the_documented_shape():
    report = upgrade_report.build(
        finished_ledger(),
        placement={"MGS_32834e": ["oss1-a.lfs.example"], "OST0000_4a7e91": ["oss1-b.lfs.example"]},
        preferred={"MGS_32834e": "oss1-a.lfs.example", "OST0000_4a7e91": "oss1-b.lfs.example"},
    )
    assert report["pair"] == "oss1"
    assert report["completed"] is True
    assert [p["name"] for p in report["phases"]] == list(upgrade_ledger.PHASE_NAMES)
    assert {k: report["phases"][0][k] for k in ("start", "end", "result")} == {
        "start": 1000,
        "end": 1005,
        "result": "done",
    }
    assert report["targets"] == {
        "MGS_32834e": {
            "node": "oss1-a.lfs.example",
            "preferred": "oss1-a.lfs.example",
            "outages_seconds": [2.25, 1.5],
            "outages": [
                {"phase": "cutover", "seconds": 2.25},
                {"phase": "rebalance", "seconds": 1.5},
            ],
        },
        "OST0000_4a7e91": {
            "node": "oss1-b.lfs.example",
            "preferred": "oss1-b.lfs.example",
            "outages_seconds": [],
            "outages": [],
        },
    }


def test_the_text_report_names_misplaced_and_doubly_served_targets():
    ledger = finished_ledger()
    ledger["completed"] = False
    report = upgrade_report.build(
        ledger,
        placement={"MGS_32834e": ["oss1-b.lfs.example"], "X_1": ["a", "b"]},
        preferred={"MGS_32834e": "oss1-a.lfs.example"},
        left_for_admin=["remove the old backups from /root on oss1-a"],
    )
    text = upgrade_report.render(report)
    assert text.startswith("Upgrade of pair oss1: not completed\n")
    assert (
        "  MGS_32834e: on oss1-b.lfs.example (prefers oss1-a.lfs.example); outages: 2.2 s, 1.5 s"
        in text
    )
    assert "  X_1: on a and b; outages: none" in text
    assert text.endswith("Left for you:\n  - remove the old backups from /root on oss1-a\n")
