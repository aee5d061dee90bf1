"""HOST:PORT parsing shared by every command that takes an address."""

from __future__ import annotations

import re
from pathlib import Path

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


# --------------------------------------------------------------------------- broker URLs
def test_broker_url_forms() -> None:
    from heatreuse.services.addresses import parse_broker_url

    plain = parse_broker_url("127.0.0.1:1884", "--mqtt", environ={})
    assert (plain.host, plain.port, plain.username, plain.tls) == ("127.0.0.1", 1884, None, False)
    assert parse_broker_url("broker", environ={}).port == 1883
    user = parse_broker_url("mqtt://serve-a@broker", environ={"HEATREUSE_MQTT_PASSWORD": "pw1"})
    assert (user.username, user.password, user.port, user.url) == (
        "serve-a",
        "pw1",
        1883,
        "mqtt://serve-a@broker:1883",
    )
    tls = parse_broker_url("mqtts://u%40x:p%2Fw@[::1]", "--upstream", environ={})
    assert (tls.host, tls.port, tls.tls, tls.username, tls.password) == (
        "::1",
        8883,
        True,
        "u@x",
        "p/w",
    )
    assert tls.url == "mqtts://u@x@[::1]:8883" and "p/w" not in repr(tls)
    # the upstream's own environment variable, not --mqtt's
    up = parse_broker_url(
        "mqtt://e@c/heatreuse/s",
        "--upstream",
        allow_prefix=True,
        environ={"HEATREUSE_MQTT_PASSWORD": "no", "HEATREUSE_UPSTREAM_PASSWORD": "yes"},
    )
    assert (up.password, up.topic_prefix) == ("yes", "heatreuse/s")


def test_broker_url_refusals_name_the_option_and_never_echo_the_password(tmp_path: Path) -> None:
    from heatreuse.services.addresses import BrokerFiles, parse_broker_url

    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    cases: list[tuple[str, BrokerFiles, str]] = [
        ("http://u:topsecret@b:1883", BrokerFiles(), "got scheme 'http'"),
        ("mqtt://u:topsecret@b:port", BrokerFiles(), "HOST and PORT"),
        ("mqtt://u:topsecret@b:70000", BrokerFiles(), "HOST and PORT"),
        ("mqtt://u:topsecret@:1883", BrokerFiles(), "HOST and PORT"),
        ("mqtt://u:top?secret@b", BrokerFiles(), "without '\\?' or '#'"),
        ("mqtt://u:topsecret@b/heatreuse/s", BrokerFiles(), "--topic-prefix"),
        ("mqtt://u:topsecret@b", BrokerFiles(password_file=pw), "password in the URL and"),
        ("mqtt://b", BrokerFiles(ca_file=ca), "--mqtt-ca need a TLS broker URL"),
        ("b:1883", BrokerFiles(ca_file=ca), "need a TLS broker URL"),
        ("mqtts://b", BrokerFiles(ca_file=tmp_path / "nope.pem"), "--mqtt-ca .*no such file"),
        ("mqtts://b", BrokerFiles(key_file=ca), "--mqtt-key needs --mqtt-cert"),
        ("mqtt://b", BrokerFiles(password_file=pw), "a password without a user"),
        ("mqtt://:topsecret@b", BrokerFiles(), "empty user name"),
    ]
    for text, files, message in cases:
        with pytest.raises(AddressError) as err:
            parse_broker_url(text, "--mqtt", files, environ={})
        assert err.value.args[0].startswith("--mqtt"), text
        assert re.search(message, str(err.value)), (text, str(err.value))
        assert "topsecret" not in str(err.value) and "\n" not in str(err.value)


def test_password_files_plain_credentials_and_the_wrong_kinds(tmp_path: Path) -> None:
    from heatreuse.services.addresses import BrokerFiles, parse_broker_url

    plain = tmp_path / "plain"
    plain.write_text("p@ss word#1\n")  # everything on the line is the password
    conn = parse_broker_url("mqtt://u@b", files=BrokerFiles(password_file=plain), environ={})
    assert conn.password == "p@ss word#1"
    cred = tmp_path / "serve.cred"
    cred.write_text("# comment\nprincipal=serve-s\nusername=serve-s\npassword=abc=def\n")
    conn = parse_broker_url("mqtts://b", files=BrokerFiles(password_file=cred), environ={})
    assert (conn.username, conn.password) == ("serve-s", "abc=def")  # the user from the file
    with pytest.raises(AddressError, match=r"names user 'other' but .* holds the credentials of"):
        parse_broker_url("mqtts://other@b", files=BrokerFiles(password_file=cred), environ={})
    broker_file = tmp_path / "mosquitto.passwd"
    broker_file.write_text("serve-s:$7$101$c2FsdA==$aGFzaA==\n")
    with pytest.raises(AddressError, match=r"broker's password file .*hashes"):
        parse_broker_url("mqtt://serve-s@b", files=BrokerFiles(password_file=broker_file))
    two = tmp_path / "two"
    two.write_text("a\nb\n")
    with pytest.raises(AddressError, match="on one line"):
        parse_broker_url("mqtt://u@b", files=BrokerFiles(password_file=two))
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(AddressError, match="empty"):
        parse_broker_url("mqtt://u@b", files=BrokerFiles(password_file=empty))
    with pytest.raises(AddressError, match=r"--upstream-password-file .*no such file"):
        parse_broker_url(
            "mqtt://u@b", "--upstream", BrokerFiles(password_file=tmp_path / "missing")
        )
