"""HOST:PORT parsing shared by every command that takes an address."""

from __future__ import annotations

import pytest

from heatreuse.errors import AddressError
from heatreuse.services.addresses import parse_host_port


def test_parse_host_port() -> None:
    assert parse_host_port("127.0.0.1:1884", "--mqtt", 1883) == ("127.0.0.1", 1884)
    assert parse_host_port("broker", "--mqtt", 1883) == ("broker", 1883)
    assert parse_host_port("[::1]:1883", "--mqtt") == ("::1", 1883)
    assert parse_host_port("[::1]", "--modbus", 502) == ("::1", 502)
    with pytest.raises(AddressError, match="--mqtt: expected HOST:PORT"):
        parse_host_port("broker:x", "--mqtt", 1883)
    with pytest.raises(AddressError, match="--http"):
        parse_host_port(":80", "--http", 8080)
    with pytest.raises(AddressError, match="HOST:PORT"):
        parse_host_port("localhost", "--mqtt")  # port required
    with pytest.raises(AddressError, match="got '::1'"):
        parse_host_port("::1", "--mqtt", 1883)  # bare IPv6: ambiguous
    with pytest.raises(AddressError, match="65536"):
        parse_host_port("h:65536", "--mqtt")
