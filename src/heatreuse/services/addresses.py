"""Addresses as typed on the command line: ``HOST:PORT`` (``--mqtt``, ``--modbus``, ``--http``,
``--control``) and MQTT broker URLs (``--mqtt``, ``--upstream``), with their secrets.

Broker URLs (:func:`parse_broker_url`, the one parser of them)
------------------------------------------------------------------
======================================  ===================================================
``HOST:PORT`` (``HOST``: port 1883)     plain MQTT, anonymous (or the user of a
                                        credentials file)
``mqtt://[USER[:PASSWORD]@]HOST[:PORT]``  plain MQTT with a user; port 1883
``mqtts://[USER@]HOST[:PORT]``          TLS 1.2+, the broker's certificate verified against
                                        ``--mqtt-ca FILE`` (or the system trust store) and
                                        its host name checked; port 8883
``.../TOPIC-PREFIX``                    only where a prefix belongs in the URL (the edge's
                                        ``--upstream``)
======================================  ===================================================

The password should not be typed into the URL (it lands in the shell history
and in ``ps``): give ``--mqtt-password-file FILE`` (a file holding the
password on one line, or the credentials file ``heatreuse mqtt credentials``
writes, which also names the user), or the environment variable
``HEATREUSE_MQTT_PASSWORD`` (``HEATREUSE_UPSTREAM_PASSWORD`` for
``--upstream``). Option names follow the URL's option: ``--mqtt-ca``,
``--mqtt-cert``, ``--mqtt-key``; ``--upstream-ca``, ...
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from heatreuse.errors import AddressError
from heatreuse.locations import redact_url
from heatreuse.mqttconf import MQTT_PORT, MQTTS_PORT, MqttConnection

log = logging.getLogger(__name__)


def parse_host_port(text: str, what: str, default_port: int | None = None) -> tuple[str, int]:
    """Parse ``HOST:PORT``; IPv6 in brackets (``[::1]:1883``); a bare ``HOST`` takes the default.

    Parameters
    ----------
    text
        What the user typed.
    what
        The option, for the error message (``--mqtt``).
    default_port
        Port used when ``text`` has none; ``None`` makes the port required.

    Raises
    ------
    AddressError
        Naming the option, what was expected and what came.
    """
    t = text.strip()
    example = f"127.0.0.1:{default_port or 1883}"
    if t.startswith("[") and "]" in t:  # [v6]:port or [v6]
        host, _, rest = t[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif t.count(":") == 1:
        host, _, port_text = t.partition(":")
    elif ":" not in t:
        host, port_text = t, ""
    else:  # a bare IPv6 address without brackets is ambiguous
        host, port_text = "", ""
    if not port_text and default_port is not None:
        port_text = str(default_port)
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise AddressError(f"{what}: expected HOST:PORT such as {example}, got {text!r}")
    return host, int(port_text)


# --------------------------------------------------------------------------- listeners
def parse_listen_address(text: str, what: str) -> tuple[str, int]:
    """A listen address: ``HOST:PORT``, or a bare ``PORT`` meaning ``127.0.0.1:PORT``.

    Port 0 is allowed (any free port).

    Raises
    ------
    AddressError
        Naming the option, what was expected and what came.
    """
    t = text.strip()
    if t.isdigit():
        if not 0 <= int(t) < 65536:
            raise AddressError(f"{what}: expected PORT 0..65535 or HOST:PORT, got {text!r}")
        return "127.0.0.1", int(t)
    if t.endswith(":0"):
        host, _ = parse_host_port(t[:-2] + ":1", what)
        return host, 0
    return parse_host_port(t, what)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    h = host.strip().strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- broker URLs
@dataclass(frozen=True)
class BrokerFiles:
    """The files given beside a broker URL (``--mqtt-password-file``, ``--mqtt-ca``, ...).

    Attributes
    ----------
    password_file
        A file holding the password on one line, or a credentials file of
        ``heatreuse mqtt credentials`` (``username=...`` and ``password=...``).
    ca_file
        PEM CA file for ``mqtts`` (None: the system trust store).
    cert_file, key_file
        Client certificate and key (PEM), for brokers that ask for one.
    """

    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def any_given(self) -> bool:
        """True when any file is given."""
        files = (self.password_file, self.ca_file, self.cert_file, self.key_file)
        return any(f is not None for f in files)


_MOSQUITTO_HASH = re.compile(r"^[^:\s]+:\$[67]\$")
_KEY_LINE = re.compile(r"^(username|password|topic_prefix|access|principal|site)=(.*)$")


def env_password_name(option: str) -> str:
    """Environment variable holding the password of a broker option.

    ``--mqtt`` -> ``HEATREUSE_MQTT_PASSWORD``; ``--upstream`` -> ``HEATREUSE_UPSTREAM_PASSWORD``.
    """
    return "HEATREUSE_" + option.lstrip("-").upper().replace("-", "_") + "_PASSWORD"


def read_password_file(path: Path, what: str) -> tuple[str | None, str]:
    """Read a password file: ``(user name or None, password)``.

    Two forms: one line holding the password (trailing newline dropped), or
    the credentials file written by ``heatreuse mqtt credentials``
    (``username=NAME`` and ``password=SECRET`` lines, ``#`` comments).

    Raises
    ------
    AddressError
        The file is missing, unreadable, empty, Mosquitto's own password file
        (hashes, not passwords), or has more than one line without being a
        credentials file.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise AddressError(
            f"{what} {p}: no such file; expected a file holding the password"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AddressError(f"{what} {p}: cannot read it ({exc})") from None
    if mode & 0o077:
        log.warning(
            "%s %s: readable by group or others (mode %o); chmod 600 it", what, p, mode & 0o777
        )
    lines = text.splitlines()
    if any(_MOSQUITTO_HASH.match(line) for line in lines):
        raise AddressError(
            f"{what} {p}: this is the broker's password file (user:$7$... hashes), not a "
            "password; expected the principal's credentials file (DIR/credentials/NAME.cred "
            "from `heatreuse mqtt credentials`) or a file holding the password"
        )
    if any(_KEY_LINE.match(line) for line in lines):
        values: dict[str, str] = {}
        for n, line in enumerate(lines, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = _KEY_LINE.match(line)
            if m is None:
                raise AddressError(
                    f"{what} {p}:{n}: expected KEY=VALUE (username, password, ...) in a "
                    f"credentials file; got {line[:40]!r}"
                )
            values[m.group(1)] = m.group(2)
        if not values.get("password"):
            raise AddressError(f"{what} {p}: a credentials file without a password= line")
        return values.get("username") or None, values["password"]
    body = text[:-1] if text.endswith("\n") else text
    body = body[:-1] if body.endswith("\r") else body
    if not body:
        raise AddressError(f"{what} {p}: the file is empty; expected the password on one line")
    if "\n" in body or "\r" in body:
        raise AddressError(
            f"{what} {p}: expected the password on one line (or a credentials file with "
            f"username= and password=); got {len(lines)} lines"
        )
    return None, body


def _check_file(path: Path, what: str, expected: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise AddressError(f"{what} {p}: no such file; expected {expected}")
    return str(p)


def parse_broker_url(
    text: str,
    option: str = "--mqtt",
    files: BrokerFiles | None = None,
    *,
    allow_prefix: bool = False,
    environ: Mapping[str, str] | None = None,
) -> MqttConnection:
    """Parse a broker address with its secrets into a :class:`~heatreuse.mqttconf.MqttConnection`.

    Parameters
    ----------
    text
        ``HOST:PORT``, ``mqtt://[USER[:PASSWORD]@]HOST[:PORT]`` or ``mqtts://...``
        (see the module docstring).
    option
        The option it came from (``--mqtt``, ``--upstream``): names the file
        options (``--mqtt-ca``, ...), the environment variable and every message.
    files
        Password file, CA file, client certificate and key.
    allow_prefix
        Accept a topic prefix as the URL's path (``--upstream``).
    environ
        Environment to read the password variable from (default ``os.environ``).

    Raises
    ------
    AddressError
        A malformed URL, another scheme, a query or fragment, a path where none
        belongs, two passwords, a password without a user, user names that
        disagree, TLS files with a plain ``mqtt://`` URL, a missing file: one
        line naming the option, what was expected and what came.
    """
    files = files or BrokerFiles()
    env = os.environ if environ is None else environ
    raw = text.strip()
    scheme = raw.partition("://")[0].lower() if "://" in raw else ""
    username: str | None = None
    password: str | None = None
    prefix: str | None = None
    example = "mqtts://USER@HOST:8883" + ("/TOPIC-PREFIX" if allow_prefix else "")
    if scheme:
        if scheme not in ("mqtt", "mqtts"):
            raise AddressError(
                f"{option}: expected HOST:PORT, mqtt://... or mqtts://... such as {example}; "
                f"got scheme {scheme!r}"
            )
        if "?" in raw or "#" in raw:
            raise AddressError(
                f"{option}: expected {example} without '?' or '#' (no query; no wildcard in a "
                "topic prefix; percent-encode them in a user name, or give the password with "
                f"{option}-password-file); got {redact_url(raw)!r}"
            )
        parts = urlsplit(raw)
        try:
            port = parts.port
        except ValueError:
            port = -1
        host = parts.hostname or ""
        if port is None:
            port = MQTTS_PORT if scheme == "mqtts" else MQTT_PORT
        if not host or not 0 < port < 65536:
            raise AddressError(
                f"{option}: expected {example} (HOST and PORT 1..65535); got {redact_url(raw)!r}"
            )
        if parts.username is not None:
            username = unquote(parts.username)
            if not username:
                raise AddressError(f"{option}: an empty user name in {redact_url(raw)!r}")
        if parts.password is not None:
            password = unquote(parts.password)
            log.warning(
                "%s: the password is in the URL (visible in ps and the shell history); "
                "prefer %s-password-file or %s",
                option,
                option,
                env_password_name(option),
            )
        path = unquote(parts.path).strip("/")
        if path:
            if not allow_prefix:
                raise AddressError(
                    f"{option}: expected {example} without a path; the topic prefix goes in "
                    f"--topic-prefix; got {redact_url(raw)!r}"
                )
            prefix = path
        tls = scheme == "mqtts"
    else:
        host, port = parse_host_port(raw, option, MQTT_PORT)
        tls = False
    if files.password_file is not None:
        if password is not None:
            raise AddressError(
                f"{option}: a password in the URL and {option}-password-file; expected one of them"
            )
        file_user, password = read_password_file(files.password_file, f"{option}-password-file")
        if file_user is not None and username is not None and file_user != username:
            raise AddressError(
                f"{option}: the URL names user {username!r} but {option}-password-file "
                f"{files.password_file} holds the credentials of {file_user!r}; expected the same "
                "user (or leave the user out of the URL)"
            )
        username = username or file_user
    elif password is None and username is not None:
        password = env.get(env_password_name(option)) or None
    if password is not None and username is None:
        raise AddressError(
            f"{option}: a password without a user; expected mqtt(s)://USER@HOST:PORT or a "
            "credentials file that names the user"
        )
    tls_files = [
        (f"{option}-ca", files.ca_file),
        (f"{option}-cert", files.cert_file),
        (f"{option}-key", files.key_file),
    ]
    given = [name for name, f in tls_files if f is not None]
    if given and not tls:
        raise AddressError(
            f"{', '.join(given)} need a TLS broker URL: expected mqtts://HOST:PORT for {option}; "
            f"got {redact_url(raw)!r}"
        )
    if files.key_file is not None and files.cert_file is None:
        raise AddressError(f"{option}-key needs {option}-cert (the client certificate)")
    return MqttConnection(
        host=host,
        port=port,
        username=username,
        password=password,
        tls=tls,
        ca_file=_check_file(files.ca_file, f"{option}-ca", "a PEM file of the broker's CA")
        if files.ca_file is not None
        else None,
        cert_file=_check_file(files.cert_file, f"{option}-cert", "a PEM client certificate")
        if files.cert_file is not None
        else None,
        key_file=_check_file(files.key_file, f"{option}-key", "the PEM key of the certificate")
        if files.key_file is not None
        else None,
        topic_prefix=prefix,
        option=option,
    )
