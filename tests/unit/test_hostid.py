import sys

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from lustre_upgrade_lib import hostid_value

# 192.168.0.10 as a hostid, and how each byte order stores it in /etc/hostid.
HOSTID = "c0a8000a"
LITTLE_ENDIAN = b"\x0a\x00\xa8\xc0"
BIG_ENDIAN = b"\xc0\xa8\x00\x0a"


@pytest.mark.parametrize(
    ("data", "byteorder", "expected"),
    [
        (LITTLE_ENDIAN, "little", HOSTID),
        (BIG_ENDIAN, "big", HOSTID),
        # The same bytes read in the other order are another hostid.
        (LITTLE_ENDIAN, "big", "0a00a8c0"),
        (BIG_ENDIAN, "little", "0a00a8c0"),
        (b"\x78\x56\x34\x12", "little", "12345678"),
        (b"\x00\x00\x00\x00", "little", "00000000"),
        (b"\xff\xff\xff\xff", "big", "ffffffff"),
    ],
)
def test_hostid_file_bytes_read_as_the_hex_hostid_prints(data, byteorder, expected):
    assert hostid_value.from_bytes(data, byteorder) == expected


@pytest.mark.parametrize(
    ("hostid", "byteorder", "expected"),
    [
        (HOSTID, "little", LITTLE_ENDIAN),
        (HOSTID, "big", BIG_ENDIAN),
        ("0x12345678", "little", b"\x78\x56\x34\x12"),
        ("a8c0", "big", b"\x00\x00\xa8\xc0"),
    ],
)
def test_a_hostid_is_stored_in_the_byte_order_asked_for(hostid, byteorder, expected):
    assert hostid_value.to_bytes(hostid, byteorder) == expected
    assert hostid_value.from_bytes(expected, byteorder) == hostid_value.normalize(hostid)


def test_the_file_written_by_default_is_in_this_hosts_byte_order():
    # gethostid() reads the file in host byte order: the default must be that order.
    native = LITTLE_ENDIAN if sys.byteorder == "little" else BIG_ENDIAN
    assert hostid_value.to_bytes(HOSTID) == native
    assert hostid_value.from_bytes(native) == HOSTID


@pytest.mark.parametrize("data", [b"", b"\x01\x02\x03", b"\x01\x02\x03\x04\x05"])
def test_a_hostid_file_not_four_bytes_long_is_rejected(data):
    with pytest.raises(ValueError, match=f"holds {len(data)} bytes.*exactly 4"):
        hostid_value.from_bytes(data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("c0a8000a", "c0a8000a"), ("0xC0A8000A\n", "c0a8000a"), ("a8c0", "0000a8c0")],
)
def test_normalize_accepts_what_hostid_and_people_write(text, expected):
    assert hostid_value.normalize(text) == expected


@pytest.mark.parametrize("text", ["", "xyz", "123456789", "-1"])
def test_normalize_rejects_what_is_not_a_hostid(text):
    with pytest.raises(SaltInvocationError, match="not a hostid"):
        hostid_value.normalize(text)


@pytest.mark.parametrize(
    ("stdout", "expected"), [("c0a8000a\n", "c0a8000a"), ("  C0A8000A ", "c0a8000a")]
)
def test_the_hostid_commands_output_is_read(stdout, expected):
    assert hostid_value.parse_command_output(stdout) == expected


@pytest.mark.parametrize("stdout", ["", "c0a8000", "hostid: c0a8000a", "c0a8000a0"])
def test_hostid_output_that_is_not_eight_hex_digits_is_an_error(stdout):
    with pytest.raises(CommandExecutionError, match="not 8 hex digits"):
        hostid_value.parse_command_output(stdout)


def test_a_malformed_hostid_file_is_an_error_that_says_what_to_do():
    with pytest.raises(CommandExecutionError) as err:
        hostid_value.parse_file(b"abc", "/etc/hostid")
    assert "/etc/hostid holds 3 bytes" in str(err.value)
    assert "od -An -tx /etc/hostid" in str(err.value)
    assert "never overwritten" in str(err.value)


def test_a_hostid_file_that_appears_while_writing_is_kept(tmp_path, monkeypatch):
    """The module wrapper: another writer wins the race and its file is left as it is."""
    from _modules import hostid

    path = tmp_path / "hostid"

    def hostid_command_while_someone_writes(argv, **_kwargs):
        path.write_bytes(b"\x78\x56\x34\x12")
        return {"retcode": 0, "stdout": "c0a8000a\n", "stderr": ""}

    monkeypatch.setattr(
        hostid, "__salt__", {"cmd.run_all": hostid_command_while_someone_writes}, raising=False
    )
    with pytest.raises(CommandExecutionError, match="appeared while the hostid was being written"):
        hostid.make_persistent(str(path))
    assert path.read_bytes() == b"\x78\x56\x34\x12"
    assert [p.name for p in tmp_path.iterdir()] == ["hostid"]


def test_an_expected_hostid_that_is_not_one_is_a_bad_argument(tmp_path, monkeypatch):
    from _modules import hostid

    monkeypatch.setattr(hostid, "__salt__", {}, raising=False)
    with pytest.raises(SaltInvocationError, match="not a hostid"):
        hostid.make_persistent(str(tmp_path / "hostid"), hostid="xyz")
    assert list(tmp_path.iterdir()) == []
