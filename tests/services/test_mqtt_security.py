"""MQTT credentials, ACLs and TLS against a real Mosquitto that these tests start.

The broker runs on two free loopback ports with ``allow_anonymous false`` and the
password file and ACL written by ``heatreuse mqtt credentials`` for two sites: a
plain listener and a TLS listener whose server certificate (subject alt name
127.0.0.1 only) is signed by a CA made here with ``cryptography``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import ipaddress
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pandas as pd
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from heatreuse.cli.main import run
from heatreuse.errors import IngestError, MqttConnectionError, TwinError
from heatreuse.monitoring.receivers import ReceiverError, publish_mqtt
from heatreuse.mqttconf import MqttConnection
from heatreuse.services.addresses import BrokerFiles, parse_broker_url
from heatreuse.services.mqtt_access import write_credentials
from heatreuse.services.serve import IngestService, ServeConfig
from heatreuse.site import Site, expand_points, load_site
from heatreuse.telemetry.edge import BufferedBatch, MqttTransport
from heatreuse.telemetry.mqtt import MqttSettings, MqttSubscriber, TopicLayout, batch_payload
from heatreuse.telemetry.mqtt_publish import MqttPublisher
from heatreuse.telemetry.twin_points import TwinReadings
from heatreuse.telemetry.validate import RawReading

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
POOL = EXAMPLES / "pool.yaml"
GREENHOUSE = EXAMPLES / "greenhouse.yaml"
WAIT_S = 10.0


# --------------------------------------------------------------------------- the broker
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _make_pki(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 (no DNS name) signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "heatreuse test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(_pem_cert(ca))
    paths[1].write_bytes(_pem_cert(server))
    paths[2].write_bytes(_pem_key(key))
    paths[2].chmod(0o600)
    return paths


@dataclass
class Broker:
    """The test broker: ports, files, and connections for each principal."""

    plain_port: int
    tls_port: int
    folder: Path
    ca: Path

    def cred(self, user: str) -> Path:
        return self.folder / "credentials" / f"{user}.cred"

    def conn(self, user: str | None, *, tls: bool = False, ca: bool = True) -> MqttConnection:
        """Parse the URL a user would type (the one parser), with the user's credentials file."""
        port = self.tls_port if tls else self.plain_port
        url = f"{'mqtts' if tls else 'mqtt'}://127.0.0.1:{port}"
        files = BrokerFiles(
            password_file=self.cred(user) if user else None,
            ca_file=self.ca if tls and ca else None,
        )
        return parse_broker_url(url, "--mqtt", files, environ={})


@contextlib.contextmanager
def _mosquitto(folder: Path, plain: int, tls: int | None = None) -> Iterator[None]:
    """Run Mosquitto with the folder's password file and ACL (and TLS on ``tls``)."""
    conf = folder / f"mosquitto-{plain}.conf"
    text = (
        "per_listener_settings false\n"
        "allow_anonymous false\n"
        f"password_file {folder / 'mosquitto.passwd'}\n"
        f"acl_file {folder / 'mosquitto.acl'}\n"
        "persistence false\n"
        f"user {getpass.getuser()}\n"  # run as root, Mosquitto would switch to 'mosquitto'
        "log_type all\n"
        f"log_dest file {folder / f'mosquitto-{plain}.log'}\n"
        f"listener {plain} 127.0.0.1\n"
    )
    if tls is not None:
        text += (
            f"listener {tls} 127.0.0.1\n"
            f"cafile {folder / 'ca.pem'}\ncertfile {folder / 'server.pem'}\n"
            f"keyfile {folder / 'server.key'}\ntls_version tlsv1.2\n"
        )
    conf.write_text(text)
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 10
        for port in (plain, tls) if tls is not None else (plain,):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        err = proc.stderr.read().decode() if proc.stderr else ""
                        raise RuntimeError(f"mosquitto did not start: {err}") from None
                    time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    folder = tmp_path_factory.mktemp("broker")
    write_credentials(load_site(POOL), folder, edges=["gw1"])
    write_credentials(load_site(GREENHOUSE), folder, edges=["gw1"])
    ca, _, _ = _make_pki(folder)
    plain, tls = _free_port(), _free_port()
    with _mosquitto(folder, plain, tls):
        yield Broker(plain, tls, folder, ca)


@pytest.fixture(scope="module")
def pool() -> Site:
    return load_site(POOL)


@pytest.fixture(scope="module")
def greenhouse() -> Site:
    return load_site(GREENHOUSE)


# --------------------------------------------------------------------------- helpers
class Sink:
    """A reading sink for a subscriber (what the Ingestor or the edge buffer would be)."""

    def __init__(self) -> None:
        self.readings: list[RawReading] = []
        self.lock = threading.Lock()

    def ingest(self, readings: Sequence[RawReading]) -> int:
        with self.lock:
            self.readings.extend(readings)
        return len(readings)

    def reject(self, source: str, raw: str, reason: str = "", detail: str = "", **_: Any) -> None:
        raise AssertionError(f"unexpected reject {source}: {detail}")

    def values(self) -> list[Any]:
        with self.lock:
            return [r.value for r in self.readings]


def _until(predicate: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _subscriber(site: Site, conn: MqttConnection, sink: Sink) -> MqttSubscriber:
    layout = TopicLayout(site.id)
    sub = MqttSubscriber(
        layout,
        sink,
        MqttSettings(
            connection=conn,
            client_id=f"hrtest-{uuid.uuid4().hex[:10]}",
            session_expiry_s=30,
            availability_topic=layout.service_status_topic("ingest"),
            connect_wait_s=5,
        ),
    )
    sub.start()
    return sub


class RawClient:
    """A plain MQTT 5 paho client logged in through MqttConnection.configure."""

    def __init__(self, conn: MqttConnection) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"hrtest-raw-{uuid.uuid4().hex[:10]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        conn.configure(self.client)
        self.messages: list[mqtt.MQTTMessage] = []
        self.pubacks: dict[int, Any] = {}
        self.connack: list[Any] = []
        self.subacks: list[Any] = []
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.append(rc)
        self.client.on_message = lambda c, u, m: self.messages.append(m)
        self.client.on_publish = lambda c, u, mid, rc, p: self.pubacks.__setitem__(mid, rc)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.extend(rcs)
        self.client.connect(conn.host, conn.port)
        self.client.loop_start()
        assert _until(lambda: bool(self.connack)) and not self.connack[0].is_failure

    def publish(self, topic: str, payload: bytes) -> Any:
        """QoS 1 publish; returns the PUBACK reason code once it came."""
        info = self.client.publish(topic, payload, qos=1)
        assert _until(lambda: info.mid in self.pubacks)
        return self.pubacks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _readings(site: Site, values: dict[str, float], ts: pd.Timestamp) -> TwinReadings:
    ids = tuple(values)
    return TwinReadings(
        index=pd.DatetimeIndex([ts]),
        step_s=60,
        point_ids=ids,
        values=np.array([[values[p]] for p in ids], dtype=float),
        sampled=np.ones((len(ids), 1), dtype=bool),
    )


# --------------------------------------------------------------------------- the tests
def test_serve_stores_what_the_twin_and_the_edge_publish_each_with_its_own_user_over_tls(
    broker: Broker, pool: Site, tmp_path: Path
) -> None:
    service = IngestService(
        pool,
        ServeConfig(
            store_url=f"sqlite:///{tmp_path / 's.db'}",
            mqtt=broker.conn("serve-pool-potsdam", tls=True),
            http=None,
            client_id=f"hrtest-ingest-{uuid.uuid4().hex[:8]}",
            session_expiry_s=30,
        ),
    )
    twin = MqttPublisher(
        "",
        0,
        expand_points(pool),
        connection=broker.conn("twin-pool-potsdam", tls=True),
        client_id=f"hrtest-twin-{uuid.uuid4().hex[:8]}",
        connect_timeout_s=5,
    )
    layout = TopicLayout(pool.id)
    edge = MqttTransport(
        "",
        0,
        layout.batch_topic,
        connection=broker.conn("edge-pool-potsdam-gw1", tls=True),
        client_id=f"hrtest-edge-{uuid.uuid4().hex[:8]}",
        timeout_s=5,
    )
    now = pd.Timestamp.now(tz="UTC").floor("min") - pd.Timedelta(minutes=1)
    service.start()
    try:
        assert service.wait_ready(WAIT_S)
        assert (
            service.subscriber.broker.url
            == f"mqtts://serve-pool-potsdam@127.0.0.1:{broker.tls_port}"
        )
        twin.start()
        twin.publish(_readings(pool, {"hx.secondary_supply_temp_c": 41.25}, now))
        edge.open()
        stamp = (now - pd.Timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = batch_payload([("hx.secondary_return_temp_c", stamp, 30.5)])
        edge.send(BufferedBatch(1, 1, 1, body))  # a successful PUBACK: serve subscribes
        store = service.store

        def stored() -> bool:
            return (
                store.count_readings(pool.id, "hx.secondary_supply_temp_c") == 1
                and store.count_readings(pool.id, "hx.secondary_return_temp_c") == 1
            )

        assert _until(stored), service.ingestor.counters()
        assert service.ingestor.counters()["quarantined_total"] == 0
    finally:
        edge.close()
        twin.close()
        service.stop()


def test_wrong_password_or_no_user_is_a_clear_error_and_exit_2(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong.pw"
    wrong.write_text("not-the-password-4711\n")
    url = f"mqtt://serve-pool-potsdam@127.0.0.1:{broker.plain_port}"
    store = f"sqlite:///{tmp_path / 's.db'}"
    code = run(
        [
            *("serve", str(POOL), "--mqtt", url, "--mqtt-password-file", str(wrong)),
            *("--http", "off", "--store", store),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"MQTT broker {url} (--mqtt) refused user 'serve-pool-potsdam'" in err
    assert "--mqtt-password-file" in err and "not-the-password-4711" not in err
    assert "Traceback" not in err
    # no user at all: the broker refuses anonymous clients, and the message says how to log in
    plain = f"127.0.0.1:{broker.plain_port}"
    assert run(["serve", str(POOL), "--mqtt", plain, "--http", "off", "--store", store]) == 2
    assert "refuses anonymous clients" in capsys.readouterr().err
    # the twin and the edge's MQTT upstream refuse the same way
    twin_url = f"mqtt://twin-pool-potsdam@127.0.0.1:{broker.plain_port}"
    code = run(
        [
            *("twin", str(POOL), "--mqtt", twin_url, "--mqtt-password-file", str(wrong)),
            *("--speed", "600", "--duration", "1s"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "refused user 'twin-pool-potsdam'" in err, err
    up = f"mqtt://edge-pool-potsdam-gw1@127.0.0.1:{broker.plain_port}/heatreuse/pool-potsdam"
    code = run(
        [
            *("edge", str(POOL), "--upstream", up, "--upstream-password-file", str(wrong)),
            *("--modbus-poll", "--buffer", str(tmp_path / "edge.db")),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "(--upstream) refused user 'edge-pool-potsdam-gw1'" in err, err
    # the MQTT notification receiver uses the same client setup and says the same
    with pytest.raises(ReceiverError, match="refused user 'twin-pool-potsdam'"):
        publish_mqtt(
            {"x": 1},
            topic="heatreuse/pool-potsdam/_alerts",
            connection=MqttConnection(
                "127.0.0.1", broker.plain_port, username="twin-pool-potsdam", password="wrong"
            ),
        )
    publish_mqtt(  # the same receiver with the twin's real credentials: acknowledged
        {"x": 1},
        topic="heatreuse/pool-potsdam/_alerts",
        connection=broker.conn("twin-pool-potsdam"),
    )


def test_an_edge_cannot_publish_under_another_sites_prefix_nor_read(
    broker: Broker, pool: Site, greenhouse: Site
) -> None:
    sink_b = Sink()
    serve_b = _subscriber(greenhouse, broker.conn("serve-greenhouse-niederrhein"), sink_b)
    sink_a = Sink()
    serve_a = _subscriber(pool, broker.conn("serve-pool-potsdam"), sink_a)
    edge_a = RawClient(broker.conn("edge-pool-potsdam-gw1"))
    twin_b = RawClient(broker.conn("twin-greenhouse-niederrhein"))
    twin_a = RawClient(broker.conn("twin-pool-potsdam"))
    try:
        assert serve_a.wait_connected(WAIT_S) and serve_b.wait_connected(WAIT_S)
        ts = "2026-01-10T06:00:00Z"
        # site A's edge publishes a reading under site B's prefix: the broker refuses it
        forged = b'{"ts": "2026-01-10T06:00:00Z", "value": 666.0}'
        topic_b = "heatreuse/greenhouse-niederrhein/hx/secondary_supply_temp_c"
        reason = edge_a.publish(topic_b, forged)
        assert reason.is_failure and reason.value == 0x87, reason  # Not authorized
        # ... and the edge transport reports it instead of advancing its watermark
        transport = MqttTransport(
            "",
            0,
            TopicLayout(greenhouse.id).batch_topic,
            connection=broker.conn("edge-pool-potsdam-gw1"),
            client_id=f"hrtest-edge-{uuid.uuid4().hex[:8]}",
            timeout_s=5,
        )
        try:
            with pytest.raises(IngestError, match="refused the batch"):
                transport.send(
                    BufferedBatch(1, 1, 1, batch_payload([("hx.heat_power_w", ts, 666.0)]))
                )
        finally:
            transport.close()
        # then site B's own twin publishes: serve B gets that one, never the forged ones
        # (the broker handled them first, so they would have arrived first)
        ok = b'{"ts": "2026-01-10T06:01:00Z", "value": 41.0}'
        assert not twin_b.publish(topic_b, ok).is_failure
        assert _until(lambda: 41.0 in sink_b.values())
        assert 666.0 not in sink_b.values() and len(sink_b.values()) == 1
        # site A's edge may not read its own site either: it subscribes, site A's twin
        # publishes, serve A receives it; a later round trip of the edge proves nothing came
        edge_a.client.subscribe("heatreuse/pool-potsdam/#", qos=1)
        assert _until(lambda: bool(edge_a.subacks))
        msg = b'{"ts": "2026-01-10T06:02:00Z", "value": 42.0}'
        topic_a = "heatreuse/pool-potsdam/hx/secondary_supply_temp_c"
        assert not twin_a.publish(topic_a, msg).is_failure
        assert _until(lambda: 42.0 in sink_a.values())
        assert not edge_a.publish("heatreuse/pool-potsdam/_probe", b"x").is_failure
        assert edge_a.messages == []
    finally:
        for c in (edge_a, twin_b, twin_a):
            c.close()
        serve_a.stop(2)
        serve_b.stop(2)


def test_tls_needs_the_ca_and_the_right_host_name(
    broker: Broker, pool: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # with the CA (the main case above does the full path): connected
    sub = _subscriber(pool, broker.conn("serve-pool-potsdam", tls=True), Sink())
    try:
        assert sub.wait_connected(WAIT_S)
    finally:
        sub.stop(2)
    # without the CA: the system trust store does not know the test CA
    no_ca = broker.conn("serve-pool-potsdam", tls=True, ca=False)
    with pytest.raises(MqttConnectionError) as err:
        _subscriber(pool, no_ca, Sink())
    text = str(err.value)
    assert f"MQTT broker mqtts://serve-pool-potsdam@127.0.0.1:{broker.tls_port}" in text
    assert "TLS handshake failed: certificate verify failed" in text
    assert "give the broker's CA with --mqtt-ca FILE" in text
    # the CA but another host name than the certificate's (127.0.0.1 only)
    wrong_host = MqttConnection(
        "localhost", broker.tls_port, tls=True, ca_file=str(broker.ca), option="--mqtt"
    )
    with pytest.raises(MqttConnectionError, match=r"certificate verify failed.*localhost"):
        _subscriber(pool, wrong_host, Sink())
    with pytest.raises(TwinError, match="TLS handshake failed"):
        MqttPublisher("", 0, expand_points(pool), connection=no_ca, connect_timeout_s=5).start()
    edge = MqttTransport(
        "",
        0,
        "heatreuse/pool-potsdam/batch",
        connection=broker.conn("edge-pool-potsdam-gw1", tls=True, ca=False),
        client_id=f"hrtest-edge-{uuid.uuid4().hex[:8]}",
    )
    with pytest.raises(MqttConnectionError, match="certificate verify failed"):
        edge.open()
    edge.close()
    # the command line: exit 2, the message names --mqtt-ca
    code = run(
        [
            *("serve", str(POOL), "--mqtt", f"mqtts://127.0.0.1:{broker.tls_port}"),
            *("--mqtt-password-file", str(broker.cred("serve-pool-potsdam"))),
            *("--http", "off", "--store", f"sqlite:///{tmp_path / 's.db'}"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "certificate verify failed" in err and "--mqtt-ca" in err, err
    # plain MQTT to the TLS port: the broker hangs up without a CONNACK; said, not retried
    code = run(
        [
            *("serve", str(POOL), "--mqtt", f"mqtt://127.0.0.1:{broker.tls_port}"),
            *("--mqtt-password-file", str(broker.cred("serve-pool-potsdam"))),
            *("--http", "off", "--store", f"sqlite:///{tmp_path / 's.db'}"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "closed the connection without answering the CONNECT" in err, err
    assert "use mqtts://" in err
    edge = MqttTransport(
        "",
        0,
        "heatreuse/pool-potsdam/batch",
        connection=MqttConnection("127.0.0.1", broker.tls_port, option="--upstream"),
        client_id=f"hrtest-edge-{uuid.uuid4().hex[:8]}",
    )
    with pytest.raises(MqttConnectionError, match="without answering the CONNECT"):
        edge.open()


def test_a_broker_that_comes_up_later_and_refuses_is_logged_every_time_not_silent(
    broker: Broker, pool: Site, caplog: pytest.LogCaptureFixture
) -> None:
    port = _free_port()  # nothing listens yet: serve starts and retries in the background
    conn = MqttConnection("127.0.0.1", port, username="serve-pool-potsdam", password="wrong")
    layout = TopicLayout(pool.id)
    sub = MqttSubscriber(
        layout,
        Sink(),
        MqttSettings(
            connection=conn,
            client_id=f"hrtest-{uuid.uuid4().hex[:10]}",
            reconnect_min_delay_s=1,
            reconnect_max_delay_s=1,
        ),
    )
    caplog.set_level("ERROR", logger="heatreuse.telemetry.mqtt")
    sub.start()
    try:
        with _mosquitto(broker.folder, port):

            def refusals() -> int:
                return sum("refused user 'serve-pool-potsdam'" in r.message for r in caplog.records)

            assert _until(lambda: refusals() >= 2), caplog.text  # each attempt, as an error
            stats = sub.stats()
            assert not stats["connected"]
            assert "refused user 'serve-pool-potsdam'" in stats["last_error"]
    finally:
        sub.stop(2)
