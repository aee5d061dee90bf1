"""How heatreuse reaches an MQTT broker: one description and one client setup for every adapter.

:class:`MqttConnection` is the broker as parsed from what the user typed
(``HOST:PORT``, ``mqtt://USER@HOST:PORT``, ``mqtts://...`` with a CA file; the
one parser is :func:`heatreuse.services.addresses.parse_broker_url`).
:meth:`MqttConnection.configure` sets up a paho-mqtt 2 client from it: user
name and password (``username_pw_set``) and, for ``mqtts``, TLS 1.2 or newer
with the CA file (or the system trust store), certificate verification and a
host name check, and optionally a client certificate. Every adapter that talks
to a broker uses it: ``serve``'s subscriber and the edge's local subscriber
(:mod:`heatreuse.telemetry.mqtt`), the edge's MQTT upstream
(:mod:`heatreuse.telemetry.edge`), the twin's publisher
(:mod:`heatreuse.telemetry.mqtt_publish`) and the MQTT notification receiver
(:mod:`heatreuse.monitoring.receivers`). The adapters do not import each other;
this module sits below all of them and imports paho only inside functions.

A broker that refuses the CONNECT for good (bad user name or password, not
authorised, banned, ...; :func:`is_fatal_refusal`) is a configuration error:
the messages built here name the broker, the user and what to check, and the
adapters stop instead of retrying silently.

References
----------
MQTT Version 5.0, OASIS Standard, 7 March 2019, section 3.2.2.2 (CONNACK reason
codes); MQTT 3.1.1 section 3.2.2.3 (return codes, mapped by paho to the same
reason codes); Python ``ssl`` (``create_default_context``, ``minimum_version``).
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from typing import Any

from heatreuse.errors import MqttConnectionError

log = logging.getLogger(__name__)

#: Default ports of ``mqtt://`` and ``mqtts://`` (IANA).
MQTT_PORT = 1883
MQTTS_PORT = 8883

#: CONNACK reason codes that retrying cannot cure (MQTT 5.0 section 3.2.2.2; paho maps
#: the MQTT 3.1.1 return codes 1, 2, 4 and 5 to 0x84, 0x85, 0x86 and 0x87).
FATAL_CONNACK_CODES = {
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x8A: "banned",
    0x8C: "bad authentication method",
}


@dataclass(frozen=True)
class MqttConnection:
    """One broker and how to log in to it.

    Attributes
    ----------
    host, port
        The broker.
    username, password
        Credentials (None: anonymous). The password never appears in
        :attr:`url`, ``repr`` or messages.
    tls
        ``mqtts``: TLS 1.2 or newer, the broker's certificate verified against
        ``ca_file`` (None: the system trust store) and its host name checked.
    ca_file
        PEM file of the CA(s) that signed the broker's certificate.
    cert_file, key_file
        Client certificate and key (PEM) for brokers that ask for one.
    topic_prefix
        The URL's path, for forms that carry one (``--upstream``); else None.
    option
        The command-line option the connection came from (``--mqtt``,
        ``--upstream``), named in every message.
    """

    host: str
    port: int = MQTT_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    topic_prefix: str | None = None
    option: str = "--mqtt"

    @property
    def scheme(self) -> str:
        """``mqtts`` with TLS, else ``mqtt``."""
        return "mqtts" if self.tls else "mqtt"

    @property
    def url(self) -> str:
        """``SCHEME://[USER@]HOST:PORT``: for messages and logs, never with the password."""
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.username}@" if self.username else ""
        return f"{self.scheme}://{user}{netloc}:{self.port}"

    @property
    def who(self) -> str:
        """``user 'NAME'`` or ``an anonymous client``, for messages."""
        return f"user {self.username!r}" if self.username else "an anonymous client"

    # ----------------------------------------------------------------- client setup
    def tls_context(self) -> ssl.SSLContext:
        """The TLS context of an ``mqtts`` connection: TLS 1.2+, verified, host name checked.

        Raises
        ------
        MqttConnectionError
            The CA file or the client certificate/key cannot be read.
        """
        try:
            ctx = ssl.create_default_context(
                ssl.Purpose.SERVER_AUTH, cafile=self.ca_file if self.ca_file else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise MqttConnectionError(
                f"{self.option}-ca {self.ca_file}: expected a readable PEM file of the CA that "
                f"signed the broker's certificate; got {_reason(exc)}"
            ) from None
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        if self.cert_file:
            try:
                ctx.load_cert_chain(self.cert_file, self.key_file or None)
            except (OSError, ssl.SSLError) as exc:
                raise MqttConnectionError(
                    f"{self.option}-cert {self.cert_file}"
                    + (f" / {self.option}-key {self.key_file}" if self.key_file else "")
                    + f": expected a PEM client certificate and its key; got {_reason(exc)}"
                ) from None
        return ctx

    def configure(self, client: Any) -> None:
        """Set credentials and TLS on a paho client (before ``connect``/``connect_async``).

        Raises
        ------
        MqttConnectionError
            The CA file or the client certificate/key cannot be read.
        """
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set_context(self.tls_context())

    # ----------------------------------------------------------------- messages
    def refusal_message(self, reason_code: Any, what: str = "") -> str:
        """What to say when the broker answered the CONNECT with a failure reason code."""
        code = _code(reason_code)
        head = f"{what + ': ' if what else ''}MQTT broker {self.url} ({self.option}) refused "
        head += f"{self.who}: {reason_code} (CONNACK 0x{code:02x})"
        if code in (0x86, 0x87):
            hint = (
                f"check the user name and password ({self.option}-password-file: the "
                "credentials file written by `heatreuse mqtt credentials`, or a file holding "
                "the password) against the broker's password file"
                if self.username
                else "the broker refuses anonymous clients (allow_anonymous false): give "
                f"mqtt(s)://USER@HOST:PORT to {self.option} and the password with "
                f"{self.option}-password-file"
            )
        else:
            hint = "retrying cannot help; check the broker's configuration for this client"
        return f"{head}; {hint}"

    def tls_failure_message(self, exc: BaseException, what: str = "") -> str:
        """What to say when the TLS handshake with the broker failed."""
        ca = f"{self.option}-ca {self.ca_file}" if self.ca_file else "the system trust store"
        if isinstance(exc, ssl.SSLCertVerificationError):
            expected = (
                f"expected a broker certificate for host {self.host!r} signed by a CA in {ca}"
                + ("" if self.ca_file else f" (give the broker's CA with {self.option}-ca FILE)")
            )
        else:
            expected = (
                f"expected a TLS listener at {self.host}:{self.port} (TLS 1.2 or newer) whose "
                f"certificate is signed by a CA in {ca}"
            )
        return (
            f"{what + ': ' if what else ''}MQTT broker {self.url} ({self.option}): TLS handshake "
            f"failed: {_reason(exc)}; {expected}"
        )

    def no_connack_message(self, reason: Any, what: str = "") -> str:
        """What to say when the broker closed the connection before answering the CONNECT."""
        hint = (
            "a TLS listener? then use mqtts:// (or is it not an MQTT broker?)"
            if not self.tls
            else "is it a TLS listener that accepts this client?"
        )
        return (
            f"{what + ': ' if what else ''}MQTT broker {self.url} ({self.option}) closed the "
            f"connection without answering the CONNECT ({reason}); expected an MQTT listener "
            f"at {self.host}:{self.port}: {hint}"
        )

    def unreachable_message(self, exc: BaseException, what: str = "") -> str:
        """What to say when the broker cannot be reached at all (TCP)."""
        return (
            f"{what + ': ' if what else ''}MQTT broker {self.url} ({self.option}) unreachable: "
            f"{_reason(exc)}"
        )


def _code(reason_code: Any) -> int:
    value = getattr(reason_code, "value", reason_code)
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def is_fatal_refusal(reason_code: Any) -> bool:
    """True for CONNACK failures that retrying cannot cure (see :data:`FATAL_CONNACK_CODES`)."""
    return _code(reason_code) in FATAL_CONNACK_CODES


def as_connection(
    broker: MqttConnection | tuple[str, int] | None, option: str = "--mqtt"
) -> MqttConnection | None:
    """A :class:`MqttConnection` from a connection or a plain ``(host, port)`` (anonymous)."""
    if broker is None or isinstance(broker, MqttConnection):
        return broker
    host, port = broker
    return MqttConnection(str(host), int(port), option=option)


def try_first_connect(client: Any, conn: MqttConnection, what: str = "") -> bool:
    """Open the TCP (and TLS) connection now, after ``connect_async`` stored its parameters.

    A TLS failure is a configuration error and raised; a broker that cannot be
    reached is not (the caller keeps retrying in the background).

    Returns
    -------
    bool
        True when the connection is open and the CONNECT sent (a CONNACK will
        follow); False when the broker was unreachable.

    Raises
    ------
    MqttConnectionError
        The TLS handshake failed (certificate not trusted, host name mismatch,
        not a TLS listener).
    """
    try:
        client.reconnect()
    except ssl.SSLError as exc:
        raise MqttConnectionError(conn.tls_failure_message(exc, what)) from None
    except ssl.CertificateError as exc:  # host name mismatch (a ValueError)
        raise MqttConnectionError(conn.tls_failure_message(exc, what)) from None
    except OSError as exc:
        log.warning("%s; retrying in the background", conn.unreachable_message(exc, what))
        return False
    return True
