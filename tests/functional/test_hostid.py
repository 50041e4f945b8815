"""hostid in Salt's loader, running the real `hostid` command on files in a tmp dir."""

import subprocess
import sys


def test_current_hostid_is_what_the_hostid_command_prints(modules):
    expected = subprocess.run(["hostid"], capture_output=True, text=True, check=True).stdout
    assert modules.hostid.current() == expected.strip()


def test_read_reports_no_persistent_hostid_when_the_file_is_absent(modules, tmp_path):
    ret = modules.hostid.read(path=str(tmp_path / "hostid"))
    assert ret["persistent"] is None
    assert len(ret["current"]) == 8


def test_persistent_state_writes_the_current_hostid_once(states, modules, tmp_path, testmode):
    path = tmp_path / "hostid"
    current = modules.hostid.current()

    ret = states.hostid.persistent(name=str(path), test=testmode)
    assert (ret.result is None) is testmode
    assert ret.changes == {"hostid": {"old": None, "new": current}}
    if testmode:
        assert not path.exists()
        return
    assert path.read_bytes() == int(current, 16).to_bytes(4, sys.byteorder)
    assert oct(path.stat().st_mode & 0o777) == "0o644"

    again = states.hostid.persistent(name=str(path))
    assert again.result is True
    assert again.changes == {}


def test_an_existing_different_hostid_is_never_replaced(states, tmp_path, testmode):
    path = tmp_path / "hostid"
    path.write_bytes(b"\x78\x56\x34\x12")
    ret = states.hostid.persistent(name=str(path), test=testmode)
    assert ret.result is True
    assert ret.changes == {}
    assert path.read_bytes() == b"\x78\x56\x34\x12"


def test_a_malformed_hostid_file_fails_the_state_and_is_left_alone(states, tmp_path):
    path = tmp_path / "hostid"
    path.write_bytes(b"junk-junk")
    ret = states.hostid.persistent(name=str(path))
    assert ret.result is False
    assert str(path) in ret.comment
    assert path.read_bytes() == b"junk-junk"


def test_persistent_state_writes_the_hostid_it_is_given_when_there_is_none(
    states, tmp_path, testmode
):
    path = tmp_path / "hostid"
    ret = states.hostid.persistent(name=str(path), hostid="0x12345678", test=testmode)
    assert (ret.result is None) is testmode
    assert ret.changes == {"hostid": {"old": None, "new": "12345678"}}
    assert path.exists() is not testmode
    if not testmode:
        assert path.read_bytes() == (0x12345678).to_bytes(4, sys.byteorder)


def test_persistent_state_never_replaces_a_hostid_that_differs_from_the_one_given(
    states, tmp_path, testmode
):
    path = tmp_path / "hostid"
    path.write_bytes((0x12345678).to_bytes(4, sys.byteorder))
    ret = states.hostid.persistent(name=str(path), hostid="c0a8000a", test=testmode)
    assert ret.result is False
    assert ret.changes == {}
    assert "12345678" in ret.comment and "c0a8000a" in ret.comment
    assert "never replaced" in ret.comment
    assert path.read_bytes() == (0x12345678).to_bytes(4, sys.byteorder)
