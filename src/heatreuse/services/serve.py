"""The long-running ingest service of a site (``heatreuse serve``).

One process runs, into one store and one :class:`~heatreuse.telemetry.Ingestor`:

* the MQTT subscriber (:mod:`heatreuse.telemetry.mqtt`), QoS 1 acknowledged
  after the store committed;
* optionally the Modbus TCP poller (:mod:`heatreuse.telemetry.modbus`);
* the HTTP push endpoint (:mod:`heatreuse.telemetry.http`) on uvicorn, plus
  ``GET /healthz`` (JSON: state of every ingest path and the counters; 503
  while stopping or when ingest is *stalled*, see :meth:`IngestService.health`)
  and ``GET /metrics`` (Prometheus text: ingest counters, MQTT and Modbus
  state);
* periodic jobs (:class:`JobScheduler`: retention, ledger updates, ... added by
  later features) on an injectable clock.

:class:`IngestService` has ``start()``/``stop()`` so later features can hang
the API, alerting and the ledger schedule on the same process (``service.app``
is the FastAPI app, ``service.jobs`` the scheduler). ``stop()`` (SIGTERM,
SIGINT) stops accepting (HTTP listener closed, in-flight requests finish;
MQTT messages not yet received stay on the broker), stores and acknowledges
everything already accepted, makes the store durable and returns.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from heatreuse.errors import HeatreuseError
from heatreuse.mqttconf import MqttConnection, as_connection
from heatreuse.services.addresses import is_loopback_host
from heatreuse.services.ingest import make_ingestor
from heatreuse.services.lifecycle import run_until_signal
from heatreuse.site import Site, expand_points
from heatreuse.telemetry import Ingestor

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------- periodic jobs
@dataclass
class PeriodicJob:
    """A job run every ``interval_s`` seconds of the scheduler's clock.

    ``func`` receives the scheduler's current time (aware UTC).
    """

    name: str
    interval_s: float
    func: Callable[[dt.datetime], None]
    next_due: dt.datetime | None = None
    runs: int = 0
    failures: int = 0
    last_run: dt.datetime | None = None
    last_error: str = ""


class JobScheduler:
    """Hook list of periodic jobs (retention, ledger update, ...) with an injectable clock.

    Parameters
    ----------
    clock
        Returns the current time (aware UTC); tests pass a fake one and call
        :meth:`run_due` directly.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or _utc_now
        self.jobs: list[PeriodicJob] = []
        self._lock = threading.Lock()

    def add(
        self,
        name: str,
        interval_s: float,
        func: Callable[[dt.datetime], None],
        first_due: dt.datetime | None = None,
    ) -> PeriodicJob:
        """Register a job; it first runs at ``first_due`` (default: one interval from now).

        Raises
        ------
        HeatreuseError
            Non-positive interval or a duplicate name.
        """
        if not interval_s > 0:
            raise HeatreuseError(f"periodic job '{name}': interval_s must be > 0, got {interval_s}")
        with self._lock:
            if any(j.name == name for j in self.jobs):
                raise HeatreuseError(f"periodic job '{name}' is already registered")
            due = first_due or self.clock() + dt.timedelta(seconds=interval_s)
            job = PeriodicJob(name=name, interval_s=float(interval_s), func=func, next_due=due)
            self.jobs.append(job)
        return job

    def run_due(self, now: dt.datetime | None = None) -> list[str]:
        """Run every job that is due; return their names. A failing job is logged, not fatal."""
        now = now or self.clock()
        with self._lock:
            due = [j for j in self.jobs if j.next_due is not None and j.next_due <= now]
        ran: list[str] = []
        for job in due:
            try:
                job.func(now)
            except Exception as exc:
                job.failures += 1
                job.last_error = f"{type(exc).__name__}: {exc}"
                log.error("periodic job '%s' failed: %s", job.name, job.last_error)
            else:
                job.last_error = ""
            job.runs += 1
            job.last_run = now
            # next slot after now (skips missed slots instead of running them in a burst)
            step = dt.timedelta(seconds=job.interval_s)
            nxt = job.next_due or now
            while nxt <= now:
                nxt += step
            job.next_due = nxt
            ran.append(job.name)
        return ran

    def as_dict(self) -> dict[str, Any]:
        """State of every job."""

        def iso(t: dt.datetime | None) -> str | None:
            return None if t is None else t.isoformat().replace("+00:00", "Z")

        return {
            j.name: {
                "interval_s": j.interval_s,
                "runs": j.runs,
                "failures": j.failures,
                "last_run": iso(j.last_run),
                "next_due": iso(j.next_due),
                "last_error": j.last_error,
            }
            for j in self.jobs
        }


# --------------------------------------------------------------------------- loop thread
class LoopThread:
    """An asyncio event loop in a background thread running a set of coroutines."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._tasks: list[asyncio.Future[Any]] = []

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Schedule a coroutine; returns a concurrent future."""
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        self._tasks.append(fut)  # type: ignore[arg-type]
        return fut

    def call(self, fn: Callable[[], Any]) -> None:
        """Run a plain function in the loop thread."""
        self.loop.call_soon_threadsafe(fn)

    def join(self, timeout_s: float) -> bool:
        """Wait for the submitted coroutines, then stop the loop; True if all finished."""
        deadline = time.monotonic() + timeout_s
        ok = True
        for fut in self._tasks:
            try:
                fut.result(max(0.0, deadline - time.monotonic()))  # type: ignore[call-arg]
            except Exception as exc:
                if not isinstance(exc, asyncio.CancelledError):
                    log.error("%s: task ended with %s: %s", self.name, type(exc).__name__, exc)
                ok = ok and not isinstance(exc, TimeoutError)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(max(0.1, deadline - time.monotonic()))
        if not self._thread.is_alive():
            self.loop.close()
        return ok


# --------------------------------------------------------------------------- config
@dataclass(frozen=True)
class ServeConfig:
    """What ``heatreuse serve`` runs.

    Attributes
    ----------
    store_url
        Store URL (None: :func:`heatreuse.store.default_store_url`).
    mqtt
        The broker to subscribe to: a :class:`heatreuse.mqttconf.MqttConnection`
        (credentials, TLS; :func:`heatreuse.services.addresses.parse_broker_url`)
        or a plain ``(host, port)``; None for no MQTT subscriber.
    http
        Listen ``(host, port)`` of the HTTP endpoint, or None for none.
    modbus_poll
        Poll the site's Modbus devices.
    modbus_default
        ``(host, port)`` for devices without a host in the site file.
    modbus_poll_interval_s
        Overrides the devices' poll interval [s].
    topic_prefix
        The site's MQTT topic prefix (None: ``heatreuse/<site>``; see
        :class:`heatreuse.telemetry.mqtt.TopicLayout`).
    client_id
        MQTT client id (the persistent session's name); default
        ``heatreuse-ingest-<site>``.
    session_expiry_s
        How long the broker keeps the session while we are down [s].
    watch
        Run the fault rules live (:class:`heatreuse.services.watch.LiveWatch`): woken
        by each commit, at least every ``watch_interval_s`` [s].
    job_tick_s
        How often due periodic jobs are checked [s].
    stop_timeout_s
        Longest a graceful stop waits for each ingest path [s].
    retention_raw_days, retention_quarantine_days, retention_rollup_days
        When set, a periodic job ``retention`` applies
        :meth:`heatreuse.store.Store.apply_retention` with these horizons [d]
        (rollups: ``{"1min": 90, ...}``)
        (first at start, then every ``retention_interval_s``).
    retention_interval_s
        Period of the retention job [s].
    compaction, compaction_interval_s
        Periodic job ``compaction`` (first at start, then every
        ``compaction_interval_s`` [s]): seal the whole UTC days older than the store's
        hot window into compressed blocks (:meth:`heatreuse.store.Store.seal`; the
        hot window is ``heatreuse store compact --hot-days``, default 2 d). Freed
        pages are reused by new rows; ``heatreuse store compact`` gives them back to
        the file system.
    http_max_body_bytes
        Largest HTTP push request body [bytes]; larger ones get 413 before
        they are read (see :mod:`heatreuse.telemetry.http`).
    stall_after_s
        Ingest counts as *stalled* (``/healthz`` 503) when an MQTT message
        received this long ago is still not acknowledged, or a store write has
        been running this long [s].
        Period of the retention job [s]. Before deleting, the job seals the site's
        closed SLA periods into its ledger (``ledger update`` without intervals), and
        it keeps raw and 1-min data of periods still unsealed (logged as a warning;
        :func:`heatreuse.services.retention.apply_retention_guarded` with ``clamp``).
    checkpoint_dir, key_path
        Ledger checkpoint folder and signing key for that sealing (default under
        ``$HEATREUSE_HOME``, as ``heatreuse ledger update``).
    allow_anonymous_ingest
        Accept HTTP readings without a device token (loopback labs only: refused for
        any other listen address; logged as a warning at start). Default: the push
        route answers 401 without a device token of the site
        (:func:`heatreuse.services.people.verify_device_token`).
    token_secret_path
        The token HMAC secret (default ``$HEATREUSE_HOME/keys/token-hmac.key``).
    """

    store_url: str | None = None
    mqtt: MqttConnection | tuple[str, int] | None = None
    http: tuple[str, int] | None = ("127.0.0.1", 8080)
    modbus_poll: bool = False
    modbus_default: tuple[str, int] | None = None
    modbus_poll_interval_s: float | None = None
    topic_prefix: str | None = None
    client_id: str | None = None
    session_expiry_s: int = 7 * 86_400
    job_tick_s: float = 1.0
    watch: bool = True
    watch_interval_s: float = 5.0
    stop_timeout_s: float = 30.0
    retention_raw_days: float | None = None
    retention_quarantine_days: float | None = None
    retention_rollup_days: Mapping[str, float] | None = None
    retention_interval_s: float = 86_400.0
    compaction: bool = True
    compaction_interval_s: float = 86_400.0
    http_max_body_bytes: int = 8 * 1024 * 1024
    stall_after_s: float = 120.0
    checkpoint_dir: str | None = None
    key_path: str | None = None
    allow_anonymous_ingest: bool = False
    token_secret_path: str | None = None


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _record(site: Site, store: Any, watch: Any, transitions: list[Any]) -> None:
    """Record the live watch's final transitions: alert rows, incidents, corrective actions
    (the one recording path ``heatreuse detect`` uses), in one store transaction."""
    from heatreuse.services.monitoring import AlertRecorder

    recorder = AlertRecorder(site, store, watch.active)
    with store.transaction():
        recorder.apply(transitions)


# --------------------------------------------------------------------------- the service
class IngestService:
    """The ingest process of one site (or of a fleet): MQTT + Modbus + HTTP into one store.

    Parameters
    ----------
    site
        The site (the first one of a central serve).
    more_sites
        Further sites of a central ``heatreuse serve`` (one store, one HTTP listener):
        each gets its own ingest pipeline (``ingestors``), the HTTP push of
        ``/sites/{id}/readings`` goes to that site's pipeline (device tokens are per
        site), with ``mqtt`` one subscriber per site on its prefix ``heatreuse/<site id>``
        (client id ``heatreuse-ingest-<site id>``). With several sites ``topic_prefix``
        and ``modbus_poll`` are refused (they name one site's inputs: poll Modbus on the
        site's edge), and the live watch does not run (one site only; the fleet's alerts
        come from ``heatreuse detect`` per site).
    config
        What to run.
    store
        An open store to use (the caller closes it); default: open
        ``config.store_url`` on :meth:`start` and close it on :meth:`stop`.
    clock
        Injectable time source (aware UTC) for the pipeline, the poller and
        the job scheduler.
    app_factory
        Builds the HTTP app from the started service (the API layer's
        :func:`heatreuse.api.app.app_for_service`; services do not import the API).
        None: the ingest routes, ``/healthz`` and ``/metrics`` only.
    """

    def __init__(
        self,
        site: Site,
        config: ServeConfig | None = None,
        store: Any = None,
        clock: Clock | None = None,
        app_factory: Callable[[IngestService], Any] | None = None,
        more_sites: Sequence[Site] = (),
    ) -> None:
        self.site = site
        self.sites: list[Site] = [site, *more_sites]
        seen: dict[str, int] = {}
        for s in self.sites:
            seen[s.id] = seen.get(s.id, 0) + 1
        dup = sorted(k for k, n in seen.items() if n > 1)
        if dup:
            raise HeatreuseError(
                f"heatreuse serve: site id(s) {', '.join(dup)} given more than once "
                "(every site file of a central serve needs its own site id)"
            )
        self.app_factory = app_factory
        self.config = config or ServeConfig()
        self.clock: Clock = clock or _utc_now
        self.jobs = JobScheduler(self.clock)
        self.store: Any = store
        self._own_store = store is None
        # seconds for ages of pending work: the injected clock in tests, else monotonic
        self._seconds: Callable[[], float] = (
            time.monotonic if clock is None else (lambda: self.clock().timestamp())
        )
        self.ingestor: Ingestor | None = None
        self.ingestors: dict[str, Ingestor] = {}
        self.subscriber: Any = None
        self.subscribers: list[Any] = []
        self.poller: Any = None
        self._loop: LoopThread | None = None
        self._uvicorn: Any = None
        self._app: Any = None
        self._started_at: float | None = None
        self._stopping = False
        self._stop_jobs = threading.Event()
        self._jobs_thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self.watch: Any = None
        self._watch_wake = threading.Event()
        self._watch_thread: threading.Thread | None = None
        self._record_alerts: Callable[[list[Any]], None] = lambda _t: None

    # ----------------------------------------------------------------- app
    @property
    def app(self) -> Any:
        """The FastAPI app, built on first use: ``app_factory(self)`` when given (``heatreuse
        serve`` passes :func:`heatreuse.api.app.app_for_service`: the whole API), else the
        ingest routes, ``/healthz`` and ``/metrics`` alone."""
        if self._app is None:
            if self.ingestor is None:
                raise HeatreuseError("IngestService.app: start() the service first (no store yet)")
            self._app = (
                self.app_factory(self) if self.app_factory is not None else self._build_app()
            )
        return self._app

    def _build_app(self) -> Any:
        from fastapi import FastAPI
        from fastapi.responses import JSONResponse, PlainTextResponse

        from heatreuse.telemetry.http import (
            PROMETHEUS_CONTENT_TYPE,
            CloseAfter413,
            ingest_router,
        )

        if self.ingestor is None:
            raise HeatreuseError("IngestService.app: start() the service first (no store yet)")
        app = FastAPI(
            title=f"heatreuse serve: {self.site.id}",
            description="Ingest endpoint, health and metrics of one site.",
        )

        def healthz() -> Any:
            body = self.health()
            code = 503 if body["status"] in ("stopping", "stalled") else 200
            return JSONResponse(body, status_code=code)

        def metrics() -> Any:
            return PlainTextResponse(self.prometheus_text(), media_type=PROMETHEUS_CONTENT_TYPE)

        # Annotated Any with the classes given here: with postponed annotations FastAPI
        # cannot resolve a locally imported response class and /openapi.json failed
        # (PydanticUserError: ForwardRef('JSONResponse')). This /metrics is a superset
        # of the ingest router's, which is left out.
        app.add_api_route(
            "/healthz",
            healthz,
            methods=["GET"],
            response_class=JSONResponse,
            response_model=None,
            responses={503: {"description": "Stopping, or ingest stalled."}},
        )
        app.add_api_route(
            "/metrics",
            metrics,
            methods=["GET"],
            response_class=PlainTextResponse,
            response_model=None,
        )
        app.include_router(
            ingest_router(
                self.ingestors or self.ingestor,
                max_body_bytes=self.config.http_max_body_bytes,
                metrics=False,
                verify_device_token=self._device_check(),
            )
        )
        app.add_middleware(CloseAfter413)
        app.state.ingestor = self.ingestor
        app.state.service = self
        return app

    def device_check(self) -> Callable[[str, str], Any] | None:
        """``(site_id, token) -> principal or None`` for the push route, or None with
        ``allow_anonymous_ingest`` (refused unless the listener is on loopback; logged)."""
        return self._device_check()

    def _device_check(self) -> Callable[[str, str], Any] | None:
        """The device-token check of the push route (None: anonymous ingest, loopback only)."""
        if self.config.allow_anonymous_ingest:
            host = self.config.http[0] if self.config.http else "127.0.0.1"
            if not is_loopback_host(host):
                raise HeatreuseError(
                    f"--allow-anonymous-ingest: refused with --http {host}: anonymous "
                    "readings are for loopback labs only (listen on 127.0.0.1, or give the "
                    "edges device tokens: heatreuse devices add SITE.yaml NAME)"
                )
            log.warning(
                "ANONYMOUS INGEST: HTTP readings of site %s are accepted WITHOUT a device "
                "token (--allow-anonymous-ingest); anyone who reaches %s can write readings",
                ", ".join(s.id for s in self.sites),
                host,
            )
            return None
        from heatreuse.services import people

        secret_path = self.config.token_secret_path
        secrets: list[bytes] = []  # loaded on first use; no file: no device exists yet
        store = self.store

        def verify(site_id: str, token: str) -> Any:
            if not secrets:
                try:
                    secrets.append(people.load_token_secret(secret_path))
                except HeatreuseError as exc:
                    log.warning("HTTP ingest: device token refused: %s", exc)
                    return None
            return people.verify_device_token(
                store, site_id, token, secret=secrets[0], now=self.clock()
            )

        return verify

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Open the store and start every configured ingest path (returns at once)."""
        from heatreuse.store import default_store_url, open_store

        if self._started_at is not None:
            return
        if len(self.sites) > 1:
            if self.config.topic_prefix is not None:
                raise HeatreuseError(
                    "heatreuse serve: --topic-prefix names one site's prefix; with several "
                    "sites each is subscribed under heatreuse/<site id>"
                )
            if self.config.modbus_poll:
                raise HeatreuseError(
                    "heatreuse serve: --modbus-poll serves one site; with several sites poll "
                    "each site's Modbus devices on its edge (heatreuse edge --modbus-poll)"
                )
        if self.store is None:
            self.store = open_store(self.config.store_url or default_store_url(), create=True)
        self.ingestors = {s.id: make_ingestor(s, self.store, clock=self.clock) for s in self.sites}
        self.ingestor = self.ingestors[self.site.id]
        self._started_at = time.monotonic()
        self._loop = LoopThread(f"serve-{self.site.id}")
        self._loop.start()
        try:
            if self.config.mqtt is not None:
                self._start_mqtt()
            if self.config.modbus_poll:
                self._start_modbus()
            if self.config.http is not None:
                self._start_http()
        except BaseException:
            self.stop()
            raise
        self._add_retention_job()
        self._add_compaction_job()
        self._start_watch()
        self._jobs_thread = threading.Thread(
            target=self._jobs_main, name=f"jobs-{self.site.id}", daemon=True
        )
        self._jobs_thread.start()
        log.info("heatreuse serve: site %s started", ", ".join(s.id for s in self.sites))

    def _start_mqtt(self) -> None:
        from heatreuse.telemetry.mqtt import (
            MqttSettings,
            MqttSubscriber,
            TopicLayout,
            check_point_topics,
        )

        assert self.config.mqtt is not None and self.ingestors
        broker = as_connection(self.config.mqtt)
        assert broker is not None
        layouts = []
        for site in self.sites:
            layout = TopicLayout(site.id, self.config.topic_prefix)
            points = self.ingestors[site.id].registry.points
            check_point_topics(layout, [p.mqtt_topic for p in points])
            layouts.append(layout)
        for site, layout in zip(self.sites, layouts, strict=True):
            client_id = self.config.client_id or f"heatreuse-ingest-{site.id}"
            if self.config.client_id and len(self.sites) > 1:
                client_id = f"{self.config.client_id}-{site.id}"
            settings = MqttSettings(
                host=broker.host,
                port=broker.port,
                connection=broker,
                client_id=client_id,
                session_expiry_s=self.config.session_expiry_s,
                availability_topic=layout.service_status_topic("ingest"),
            )
            subscriber = MqttSubscriber(
                layout,
                self.ingestors[site.id],
                settings,
                durable=self.store.flush,
                clock=self._seconds,
            )
            self.subscribers.append(subscriber)
            if self.subscriber is None:
                self.subscriber = subscriber
            subscriber.start()

    def _start_modbus(self) -> None:
        from heatreuse.telemetry.modbus import ModbusPoller, device_targets

        assert self._loop is not None and self.ingestor is not None
        host, port = self.config.modbus_default or (None, None)
        targets = device_targets(
            expand_points(self.site),
            default_host=host,
            default_port=port,
            poll_interval_s=self.config.modbus_poll_interval_s,
        )
        if not targets:
            log.warning("heatreuse serve: --modbus-poll given but the site has no Modbus points")
            return
        self.poller = ModbusPoller(targets, self.ingestor, clock=self.clock)
        self._loop.submit(self.poller.run())

    def _start_http(self) -> None:
        import uvicorn

        assert self._loop is not None and self.config.http is not None
        host, port = self.config.http
        cfg = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=max(1, round(self.config.stop_timeout_s)),
        )
        self._uvicorn = uvicorn.Server(cfg)
        server = self._uvicorn

        async def serve_http() -> None:
            try:
                await server.serve()
            except SystemExit:  # uvicorn exits when it cannot bind
                raise HeatreuseError(
                    f"--http {host}:{port}: cannot listen (address in use or not local?)"
                ) from None

        fut = self._loop.submit(serve_http())
        deadline = time.monotonic() + 15.0
        while not self._uvicorn.started:
            if fut.done():
                exc = fut.exception()
                raise HeatreuseError(
                    f"--http {host}:{port}: the HTTP endpoint could not start "
                    f"({exc or 'address in use?'})"
                )
            if time.monotonic() > deadline:
                raise HeatreuseError(f"--http {host}:{port}: the HTTP endpoint did not start")
            time.sleep(0.01)

    def _add_retention_job(self) -> None:
        raw_days = self.config.retention_raw_days
        q_days = self.config.retention_quarantine_days
        rollup_days = dict(self.config.retention_rollup_days or {})
        if raw_days is None and q_days is None and not rollup_days:
            return
        store = self.store
        sites = list(self.sites)

        def retention(now: dt.datetime) -> None:
            from heatreuse.services.ledger import update_ledger
            from heatreuse.services.retention import apply_retention_guarded

            # seal the sites' closed SLA periods first: their data may go once sealed
            for site in sites:
                try:
                    upd = update_ledger(
                        site,
                        store.url,
                        now=now,
                        store=store,
                        intervals=False,
                        checkpoint_dir=self.config.checkpoint_dir,
                        key_path=self.config.key_path,
                    )
                except HeatreuseError as exc:
                    log.error(
                        "retention: sealing closed SLA periods of %s failed: %s", site.id, exc
                    )
                else:
                    for seal in upd.seals:
                        log.info(
                            "retention: sealed SLA %s of %s: %s (ledger entry %s)",
                            seal["period"],
                            site.id,
                            seal["verdict"],
                            seal["index"],
                        )
            res, blocks = apply_retention_guarded(
                store,
                raw_days=raw_days,
                rollup_days=rollup_days,
                quarantine_days=q_days,
                now=now,
                clamp=True,
            )
            if blocks:
                log.warning(
                    "retention: kept raw/1-min data of SLA periods that are not sealed: %s",
                    "; ".join(b.describe() for b in blocks),
                )
            log.info(
                "retention: %d raw reading(s), %s, %d quarantine row(s) deleted",
                res.raw_deleted,
                ", ".join(f"{n} {r} rollup row(s)" for r, n in res.rollups_deleted.items())
                or "no rollups",
                res.quarantine_deleted,
            )

        self.jobs.add(
            "retention", self.config.retention_interval_s, retention, first_due=self.clock()
        )

    def _add_compaction_job(self) -> None:
        if not self.config.compaction:
            return
        store = self.store

        def compaction(now: dt.datetime) -> None:
            res = store.seal(now=now)
            log.info(
                "compaction: %d reading(s) of %d series-day(s) sealed",
                res.readings_sealed,
                res.days_sealed,
            )

        self.jobs.add(
            "compaction", self.config.compaction_interval_s, compaction, first_due=self.clock()
        )

    def _add_change_expiry_job(self) -> None:
        """Record change requests past their expiry as ``expired`` (audited), every minute."""
        store, site = self.store, self.site

        def change_expiry(now: dt.datetime) -> None:
            from heatreuse.services.changes import expire_due

            for change_id in expire_due(site, store, now=now):
                log.info("change request %s of %s expired unapproved", change_id, site.id)

        self.jobs.add(
            "change-expiry",
            60.0,
            change_expiry,
            first_due=self.clock() + dt.timedelta(seconds=60.0),
        )

    def _start_watch(self) -> None:
        if not self.config.watch or self.ingestor is None:
            return
        if len(self.sites) > 1:
            log.info(
                "heatreuse serve: %d sites: the live watch runs for a single site only "
                "(run heatreuse detect per site)",
                len(self.sites),
            )
            return
        from heatreuse.services.monitoring import escalate_due, site_silences
        from heatreuse.services.watch import LiveWatch

        store, site = self.store, self.site
        self.watch = LiveWatch(
            site,
            store,
            self.clock,
            silences=lambda: site_silences(site, store),
        )
        self._record_alerts = lambda transitions: _record(site, store, self.watch, transitions)
        self.ingestor.on_commit = self._watch_wake.set

        def escalation(now: dt.datetime) -> None:
            for step in escalate_due(site, store, now=now):
                log.warning("escalation: %s", step)

        self.jobs.add("escalation", 30.0, escalation, first_due=self.clock())
        self._add_change_expiry_job()
        self._watch_thread = threading.Thread(
            target=self._watch_main, name=f"watch-{self.site.id}", daemon=True
        )
        self._watch_thread.start()

    def _watch_main(self) -> None:
        while not self._stop_jobs.is_set():
            woke = self._watch_wake.wait(self.config.watch_interval_s)
            if self._stop_jobs.is_set():
                return
            if woke:
                # let the rest of a burst of commits land, then evaluate once
                self._stop_jobs.wait(0.1)
            self._watch_wake.clear()
            try:
                final = self.watch.tick()
                if final:
                    self._record_alerts(final)
            except Exception as exc:
                self.watch.tick_errors += 1
                log.error("live monitoring tick failed: %s: %s", type(exc).__name__, exc)

    def _jobs_main(self) -> None:
        while not self._stop_jobs.wait(self.config.job_tick_s):
            self.jobs.run_due()

    def wait_ready(self, timeout_s: float = 10.0) -> bool:
        """Block until the MQTT subscriber (if any) is subscribed; True when ready."""
        deadline = time.monotonic() + timeout_s
        return all(
            bool(sub.wait_connected(max(0.0, deadline - time.monotonic())))
            for sub in self.subscribers
        )

    def stop(self) -> bool:
        """Stop accepting, store and acknowledge what was accepted, close. True: nothing left."""
        if self._stopping:
            self._stopped.wait(self.config.stop_timeout_s * 3)
            return True
        self._stopping = True
        ok = True
        timeout = self.config.stop_timeout_s
        self._stop_jobs.set()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True  # listener closes; in-flight requests complete
        if self.poller is not None and self._loop is not None:
            self._loop.call(self.poller.request_stop)
        for sub in self.subscribers:
            log.info(
                "heatreuse serve: storing and acknowledging %d MQTT message(s) received and not "
                "yet stored",
                sub.pending(),
            )
            ok = sub.stop(timeout) and ok
        if self._loop is not None:
            ok = self._loop.join(timeout) and ok
        if self._jobs_thread is not None:
            self._jobs_thread.join(timeout)
        if self._watch_thread is not None:
            self._watch_wake.set()
            self._watch_thread.join(timeout)
        if self.store is not None:
            try:
                self.store.flush()
            finally:
                if self._own_store:
                    self.store.close()
        log.info(
            "heatreuse serve: site %s stopped (%s)",
            ", ".join(s.id for s in self.sites),
            "everything accepted is stored" if ok else "some paths did not finish in time",
        )
        self._stopped.set()
        return ok

    def run_until_signal(self, on_ready: Callable[[IngestService], None] | None = None) -> int:
        """Start, wait for SIGTERM/SIGINT (main thread), stop; return the exit code (0 ok)."""

        def start() -> None:
            self.start()
            if on_ready is not None:
                on_ready(self)

        return run_until_signal("serve", start, self.stop)

    # ----------------------------------------------------------------- state
    def health(self) -> dict[str, Any]:
        """State of every ingest path and the ingest counters (JSON-ready).

        ``status`` is ``stopping``, ``stalled``, ``degraded`` or ``ok``.
        *Stalled* (the HTTP answer is 503) means accepted work is not getting
        stored: the oldest MQTT message not yet acknowledged was received more
        than ``stall_after_s`` ago (``pending_acks``,
        ``oldest_unacked_age_s``), or a store write has been running longer
        than that (``store_write_age_s``); ``stall_reason`` says which.
        *Degraded* (200): the broker is not connected or a Modbus device did
        not answer its last poll.
        """
        fleet = len(self.sites) > 1
        all_mqtt = [sub.stats() for sub in self.subscribers]
        mqtt = all_mqtt[0] if all_mqtt else None
        modbus = self.poller.stats() if self.poller is not None else None
        threshold = float(self.config.stall_after_s)
        pending = sum(int(m["pending_acks"]) for m in all_mqtt)
        ages = [
            m["oldest_unacked_age_s"] for m in all_mqtt if m["oldest_unacked_age_s"] is not None
        ]
        oldest = max(ages) if ages else None
        writes = [
            a for a in (p.store_call_age_s() for p in self.ingestors.values()) if a is not None
        ]
        writing = max(writes) if writes else None
        reasons: list[str] = []
        if oldest is not None and oldest > threshold:
            reasons.append(
                f"{pending} MQTT message(s) not acknowledged, the oldest received "
                f"{oldest:.0f} s ago (threshold {threshold:g} s)"
            )
        if writing is not None and writing > threshold:
            reasons.append(
                f"a store write has been running for {writing:.0f} s (threshold {threshold:g} s)"
            )
        status = "ok"
        if self._stopping:
            status = "stopping"
        elif reasons:
            status = "stalled"
        elif any(not m["connected"] for m in all_mqtt) or (
            modbus is not None and not all(d["ok"] for d in modbus.values())
        ):
            status = "degraded"
        out = {
            "status": status,
            "site_id": self.site.id,
            "uptime_s": 0.0
            if self._started_at is None
            else round(time.monotonic() - self._started_at, 3),
            "pending_acks": pending,
            "oldest_unacked_age_s": oldest,
            "store_write_age_s": None if writing is None else round(writing, 3),
            "stall_after_s": threshold,
            "stall_reason": "; ".join(reasons) or None,
            "mqtt": mqtt,
            "modbus": modbus,
            "ingest": self.ingestor.counters() if self.ingestor is not None else None,
            "jobs": self.jobs.as_dict(),
        }
        if fleet:
            # a central serve: every site's own ingest counters and MQTT state
            by_site = {sub_site.id: m for sub_site, m in zip(self.sites, all_mqtt, strict=False)}
            out["site_ids"] = [x.id for x in self.sites]
            out["sites"] = {
                sid: {"ingest": p.counters(), "mqtt": by_site.get(sid)}
                for sid, p in sorted(self.ingestors.items())
            }
        return out

    def prometheus_text(self) -> str:
        """Ingest counters plus MQTT and Modbus state in Prometheus text format 0.0.4
        (a central serve: every site's, labelled ``site``, one family block per metric)."""
        if len(self.sites) == 1:
            return self._site_prometheus_text(self.site.id, self.ingestor, self.subscriber)
        subs = dict(zip([x.id for x in self.sites], self.subscribers, strict=False))
        return _merge_prometheus(
            [
                self._site_prometheus_text(sid, self.ingestors.get(sid), subs.get(sid))
                for sid in sorted(self.ingestors)
            ]
        )

    def _site_prometheus_text(self, site_id: str, ingestor: Any, subscriber: Any) -> str:
        site = _esc(site_id)
        lines: list[str] = []
        text = ingestor.prometheus_text() if ingestor is not None else ""
        if subscriber is not None:
            s = subscriber.stats()
            lines += [
                "# HELP heatreuse_mqtt_connected 1 while the MQTT subscriber is connected.",
                "# TYPE heatreuse_mqtt_connected gauge",
                f'heatreuse_mqtt_connected{{site="{site}"}} {int(s["connected"])}',
                "# HELP heatreuse_mqtt_messages_total MQTT messages by outcome.",
                "# TYPE heatreuse_mqtt_messages_total counter",
            ]
            for outcome in ("received", "stored", "acked", "rejected", "ignored"):
                lines.append(
                    f'heatreuse_mqtt_messages_total{{site="{site}",outcome="{outcome}"}} '
                    f"{s[outcome + '_messages']}"
                )
            oldest = s["oldest_unacked_age_s"]
            lines += [
                "# HELP heatreuse_mqtt_pending_messages Received, not yet stored.",
                "# TYPE heatreuse_mqtt_pending_messages gauge",
                f'heatreuse_mqtt_pending_messages{{site="{site}"}} {s["pending_messages"]}',
                "# HELP heatreuse_mqtt_oldest_unacked_age_seconds Age of the oldest message "
                "received and not yet acknowledged (0: none pending).",
                "# TYPE heatreuse_mqtt_oldest_unacked_age_seconds gauge",
                f'heatreuse_mqtt_oldest_unacked_age_seconds{{site="{site}"}} '
                f"{0.0 if oldest is None else oldest}",
                "# HELP heatreuse_mqtt_dead_lettered_messages_total Messages the store refused, "
                "kept in quarantine as store_refused so later ones were not blocked.",
                "# TYPE heatreuse_mqtt_dead_lettered_messages_total counter",
                f'heatreuse_mqtt_dead_lettered_messages_total{{site="{site}"}} '
                f"{s['dead_lettered_messages']}",
            ]
        if self.poller is not None:
            devices = self.poller.stats()
            lines += [
                "# HELP heatreuse_modbus_device_up 1 if the last poll of the device succeeded.",
                "# TYPE heatreuse_modbus_device_up gauge",
            ]
            for dev, st in devices.items():
                lines.append(
                    f'heatreuse_modbus_device_up{{site="{site}",device="{_esc(dev)}"}} '
                    f"{int(st['ok'])}"
                )
            lines += [
                "# HELP heatreuse_modbus_polls_total Modbus polls by outcome.",
                "# TYPE heatreuse_modbus_polls_total counter",
            ]
            for dev, st in devices.items():
                d = _esc(dev)
                lines.append(
                    f'heatreuse_modbus_polls_total{{site="{site}",device="{d}",outcome="ok"}} '
                    f"{st['polls'] - st['failures']}"
                )
                lines.append(
                    f'heatreuse_modbus_polls_total{{site="{site}",device="{d}",outcome="failed"}} '
                    f"{st['failures']}"
                )
        if self.watch is not None:
            try:
                lines += self.watch.prometheus_lines()
            except Exception as exc:  # metrics never fail because the watch did
                log.error("live monitoring metrics failed: %s", exc)
        return text + ("\n".join(lines) + "\n" if lines else "")


def _merge_prometheus(texts: Sequence[str]) -> str:
    """Prometheus texts of several sites as one: each metric family's ``# HELP``/``# TYPE``
    once, followed by the samples of every site (the format wants a family in one block)."""
    families: dict[str, tuple[list[str], list[str]]] = {}
    for text in texts:
        current = ""
        for line in text.splitlines():
            if not line.strip():
                continue
            if line.startswith(("# HELP ", "# TYPE ")):
                current = line.split(" ", 3)[2]
                head, _ = families.setdefault(current, ([], []))
                if line not in head:
                    head.append(line)
            else:
                name = line.split("{", 1)[0].split(" ", 1)[0]
                fam = current if name.startswith(current) and current else name
                families.setdefault(fam, ([], []))[1].append(line)
    out = [line for head, samples in families.values() for line in (*head, *samples)]
    return "\n".join(out) + ("\n" if out else "")
