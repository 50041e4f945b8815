"""Helpers of the lab tests that do what the product does around the lab's hooks."""

import json
import time


def key_lists(lab):
    """{"minions": [...], "minions_pre": [...], "minions_denied": [...], ...} of the master."""
    result = lab.salt_key("-L", "--out=json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def fingerprint(lab, minion, status="accepted"):
    """The fingerprint of `minion`'s key in one of the master's lists, or None."""
    result = lab.salt_key("--finger", minion, "--out=json")
    data = json.loads(result.stdout or "{}")
    wanted = {
        "accepted": "minions",
        "pending": "minions_pre",
        "denied": "minions_denied",
        "rejected": "minions_rejected",
    }[status]
    return (data.get(wanted) or {}).get(minion)


def wait_for(predicate, timeout=120, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def rebuild_like_the_product(lab, minion, timeout=180):
    """The rebuild hook, with what the product does around it: a reinstalled node comes
    back with a new minion key, so the old one is deleted before the node is handed over,
    and the new one -- waiting, pending, with another fingerprint -- is accepted."""
    old = fingerprint(lab, minion)
    deleted = lab.salt_key("-y", "-d", minion)
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    lab.rebuild(minion)
    new = wait_for(lambda: fingerprint(lab, minion, "pending"), timeout=timeout)
    assert new and new != old, (old, new)
    accepted = lab.salt_key("-y", "-a", minion)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    return lab.wait_minions(minions=[minion], timeout=timeout)
