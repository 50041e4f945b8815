import sys

import pytest
from salt.exceptions import CommandExecutionError

from _modules import hostid


@pytest.mark.parametrize(
    ("data", "byteorder", "expected"),
    [
        (b"\x0a\x00\xa8\xc0", "little", "c0a8000a"),
        (b"\xc0\xa8\x00\x0a", "big", "c0a8000a"),
        (b"\x00\x00\x00\x00", "little", "00000000"),
        (b"\xff\xff\xff\xff", "little", "ffffffff"),
    ],
)
def test_hostid_file_bytes_are_read_in_host_byte_order(data, byteorder, expected):
    assert hostid._parse_hostid_bytes(data, byteorder) == expected
    assert hostid._hostid_to_bytes(expected, byteorder) == data


@pytest.mark.parametrize("data", [b"", b"\x01\x02\x03", b"\x01\x02\x03\x04\x05"])
def test_a_hostid_file_not_four_bytes_long_is_rejected(data):
    with pytest.raises(ValueError, match="exactly 4"):
        hostid._parse_hostid_bytes(data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("c0a8000a", "c0a8000a"), ("0xC0A8000A\n", "c0a8000a"), ("a8c0", "0000a8c0")],
)
def test_normalize_accepts_what_hostid_and_people_write(text, expected):
    assert hostid._normalize(text) == expected


@pytest.mark.parametrize("text", ["", "xyz", "123456789", "-1"])
def test_normalize_rejects_what_is_not_a_hostid(text):
    with pytest.raises(ValueError, match="not a hostid"):
        hostid._normalize(text)


def test_a_malformed_hostid_file_is_an_error_that_says_what_to_do(tmp_path):
    bad = tmp_path / "hostid"
    bad.write_bytes(b"abc")
    with pytest.raises(CommandExecutionError) as err:
        hostid._read_file(str(bad))
    assert str(bad) in str(err.value)
    assert "never overwritten" in str(err.value)


@pytest.mark.parametrize("byteorder", ["little", "big"])
def test_the_file_written_is_what_glibc_reads_on_this_host(byteorder):
    # gethostid() reads the file in host byte order: only the native order round-trips.
    data = hostid._hostid_to_bytes("c0a8000a", byteorder)
    native = int.from_bytes(data, sys.byteorder) == 0xC0A8000A
    assert native is (byteorder == sys.byteorder)
