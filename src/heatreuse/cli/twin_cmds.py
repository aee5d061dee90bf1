"""``heatreuse drill``, ``heatreuse twin`` (live and offline) and ``heatreuse twin-inject``."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from heatreuse.cli.options import (
    MQTT_CA_OPT,
    MQTT_CERT_OPT,
    MQTT_HELP,
    MQTT_KEY_OPT,
    MQTT_PASSWORD_FILE_OPT,
    SITE_ARG,
    STORE_OPT,
)
from heatreuse.cli.output import make_console
from heatreuse.errors import TwinError
from heatreuse.simulation.scenario_catalog import SCENARIO_NAMES

if TYPE_CHECKING:
    from heatreuse.site import Site

console = make_console()
err_console = make_console(stderr=True)

SCENARIO_HELP = (
    "Scenario NAME@START+DURATION:SEVERITY (@START, +DURATION and :SEVERITY optional), e.g. "
    "pump_failure@2026-01-10T06:00+5h (START without offset is UTC). Repeat to combine. "
    "Names: " + ", ".join(SCENARIO_NAMES)
)


def _step(text: str) -> int:
    from heatreuse.simulation.scenarios import parse_duration_s

    seconds = parse_duration_s(text, "--step")
    if not float(seconds).is_integer() or seconds <= 0:
        raise TwinError(f"--step: expected whole seconds, got {text!r}")
    return int(seconds)


def _with_weather(site: Site, weather: str | None) -> Site:
    if not weather:
        return site
    spec = weather
    path = Path(weather).expanduser()
    if ":" not in weather.split("/")[0] and path.exists():
        spec = str(path.resolve())
    return site.model_copy(update={"location": site.location.model_copy(update={"weather": spec})})


# --------------------------------------------------------------------------- drill
def drill(
    site_file: Path = SITE_ARG,
    scenario: list[str] = typer.Option(
        [], "--scenario", "-s", help=SCENARIO_HELP, show_default=False
    ),
    all_: bool = typer.Option(
        False, "--all", help="Run the standard drill set, one drill per scenario."
    ),
    out: Path = typer.Option(
        Path("drill"), "--out", "-o", help="Output folder (drill.json, drill.html)."
    ),
    weather: str | None = typer.Option(
        None, "--weather", help="Weather spec instead of the site's (path, pvlib:..., dwd-try:NN)."
    ),
    step: str = typer.Option("60s", "--step", help="Simulation step (e.g. 60s, 10s, 5min)."),
    year: int | None = typer.Option(
        None,
        "--year",
        help="Year of the default drill start (06:00 local, 2nd Tuesday of January) for "
        "scenarios without @START; default this year.",
        show_default=False,
    ),
    record: bool = typer.Option(
        False,
        "--record",
        help="Keep the result in the store as evidence (the quarterly drill of `heatreuse "
        "review`), with an audit entry; needs --by.",
    ),
    by: str | None = typer.Option(
        None, "--by", help="With --record: who ran the drill (audit trail).", show_default=False
    ),
    store: str | None = STORE_OPT,
) -> None:
    """Run failure drills and write reports (JSON + self-contained HTML)."""
    from heatreuse.services.drill import run_drill, run_drill_set, write_drill
    from heatreuse.simulation.scenarios import parse_scenarios
    from heatreuse.site import load_site

    site = _with_weather(load_site(site_file), weather)
    step_s = _step(step)
    scen = parse_scenarios(scenario)
    if record and not (by or "").strip():
        raise TwinError("--record: give --by NAME (who ran the drill, for the audit trail)")
    if all_:
        if scen:
            raise TwinError("--all runs the standard set; give either --all or --scenario")
        results = run_drill_set(site, step_s=step_s, year=year)
        summary = []
        for r in results:
            name = r.report["scenario_details"][0]["name"]
            json_path, html_path = write_drill(r, out / name)
            typer.echo(r.line)
            summary.append(
                {
                    "scenario": r.report["scenarios"][0],
                    "verdict": r.verdict,
                    "summary": r.line,
                    "json": str(json_path),
                    "html": str(html_path),
                }
            )
        out.mkdir(parents=True, exist_ok=True)
        (out / "drills.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        err_console.print(f"reports in {out}/<scenario>/drill.html; summary {out / 'drills.json'}")
        if record:
            _record(site, [r.report for r in results], [r.line for r in results], by, store)
        return
    if not scen:
        raise TwinError("drill: give --scenario NAME@START+DURATION:SEVERITY or --all")
    result = run_drill(site, scen, step_s=step_s, year=year)
    json_path, html_path = write_drill(result, out)
    typer.echo(result.line)
    err_console.print(f"report: {html_path}  data: {json_path}")
    if record:
        _record(site, [result.report], [result.line], by, store)


def _record(
    site: Site, reports: list[dict[str, Any]], lines: list[str], by: str | None, store: str | None
) -> None:
    """Store the drill result(s) as evidence with an audit entry (``drill --record``)."""
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.maintenance import drill_evidence, record_drill

    verdicts = {str(r.get("verdict")) for r in reports}
    verdict = verdicts.pop() if len(verdicts) == 1 else "mixed"
    summary = lines[0] if len(lines) == 1 else f"{len(lines)} drills: " + "; ".join(lines)
    with opened_store(store, create=True) as opened:
        rec = record_drill(
            site,
            opened,
            verdict=verdict,
            summary=summary,
            evidence=drill_evidence(reports),
            by=by or "",
        )
    err_console.print(f"recorded as drill {rec['id']} ({rec['verdict']}) at {rec['drilled_at']}")


# --------------------------------------------------------------------------- twin
def twin(
    site_file: Path = SITE_ARG,
    scenario: list[str] = typer.Option(
        [], "--scenario", "-s", help=SCENARIO_HELP, show_default=False
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Offline twin: write every reading to this .parquet/.csv/.csv.gz file (needs "
        "--start and --end) instead of running live.",
        show_default=False,
    ),
    start: str | None = typer.Option(
        None,
        "--start",
        help="Simulated start: date (00:00 UTC) or date-time with offset. Live default: now "
        "(speed 1) or one day ago (faster).",
        show_default=False,
    ),
    end: str | None = typer.Option(
        None, "--end", help="Offline twin: end (exclusive).", show_default=False
    ),
    step: str | None = typer.Option(
        None, "--step", help="Simulation step; default 60s offline, 10s live.", show_default=False
    ),
    speed: float = typer.Option(60.0, "--speed", help="Live: simulated seconds per wall second."),
    mqtt: str | None = typer.Option(
        None, "--mqtt", help="Live: publish to this " + MQTT_HELP, show_default=False
    ),
    mqtt_password_file: Path | None = MQTT_PASSWORD_FILE_OPT,
    mqtt_ca: Path | None = MQTT_CA_OPT,
    mqtt_cert: Path | None = MQTT_CERT_OPT,
    mqtt_key: Path | None = MQTT_KEY_OPT,
    modbus: str | None = typer.Option(
        None,
        "--modbus",
        help="Live: serve heat meter and pump controller over Modbus TCP on HOST:PORT.",
        show_default=False,
    ),
    control: str | None = typer.Option(
        None,
        "--control",
        help="Live: HTTP control endpoint on PORT or HOST:PORT (POST /faults to inject a "
        "scenario); loopback (127.0.0.1) unless --control-allow-remote; every request needs "
        "the token the twin writes at start (path printed).",
        show_default=False,
    ),
    control_token_file: Path | None = typer.Option(
        None,
        "--control-token-file",
        help="Live: the control token: read from FILE if it exists, else a new random token "
        "written there (mode 0600). Default: a new token in "
        "$HEATREUSE_HOME/twin-control-<port>.token.",
        show_default=False,
    ),
    control_allow_remote: bool = typer.Option(
        False,
        "--control-allow-remote",
        help="Live: allow --control on a non-loopback address (the token is still required).",
    ),
    topic_prefix: str | None = typer.Option(
        None,
        "--topic-prefix",
        help="MQTT topic prefix (default heatreuse/<site id>).",
        show_default=False,
    ),
    ha_discovery: bool = typer.Option(
        False, "--ha-discovery", help="Live: publish Home Assistant discovery configs."
    ),
    duration: str | None = typer.Option(
        None,
        "--duration",
        help="Live: stop after this wall time (e.g. 10min).",
        show_default=False,
    ),
    no_clamp: bool = typer.Option(
        False,
        "--no-clamp",
        help="Live: let simulated time run ahead of the wall clock (ingest would quarantine "
        "such readings as ts_future).",
    ),
    weather: str | None = typer.Option(
        None, "--weather", help="Weather spec instead of the site's.", show_default=False
    ),
) -> None:
    """Run the digital twin: live over MQTT/Modbus, or offline into a readings file."""
    from heatreuse.services.addresses import BrokerFiles, parse_broker_url
    from heatreuse.services.twin import parse_time_utc
    from heatreuse.simulation.scenarios import parse_duration_s, parse_scenarios
    from heatreuse.site import load_site

    files = BrokerFiles(mqtt_password_file, mqtt_ca, mqtt_cert, mqtt_key)
    if mqtt is None and files.any_given():
        raise TwinError("--mqtt-password-file/-ca/-cert/-key need --mqtt (the broker)")
    if control is None and (control_token_file is not None or control_allow_remote):
        raise TwinError("--control-token-file and --control-allow-remote need --control")
    site = _with_weather(load_site(site_file), weather)
    scen = parse_scenarios(scenario)
    if out is not None:
        from heatreuse.services.twin import run_offline_twin

        if start is None or end is None:
            raise TwinError("offline twin (--out): give --start and --end")
        step_s = _step(step or "60s")
        t0 = parse_time_utc(start, "--start")
        for s in scen:
            if s.start is None:
                raise TwinError(
                    f"--scenario {s.text}: the offline twin needs a start (name@START+DURATION)"
                )
        report = run_offline_twin(
            site,
            start=t0,
            end=parse_time_utc(end, "--end"),
            out=out,
            scenarios=scen,
            step_s=step_s,
        )
        typer.echo(
            f"wrote {report.readings} readings of {report.points} points "
            f"({report.start.isoformat()} .. {report.end.isoformat()}, {report.step_s} s) to "
            f"{report.path} in {report.duration_s:.1f} s"
        )
        if report.scenarios:
            typer.echo("scenarios: " + ", ".join(report.scenarios))
        return
    _run_live(
        site,
        scen=scen,
        start=parse_time_utc(start, "--start") if start else None,
        step_s=_step(step or "10s"),
        speed=speed,
        mqtt=parse_broker_url(mqtt, "--mqtt", files) if mqtt else None,
        modbus=modbus,
        control=control,
        control_token_file=control_token_file,
        control_allow_remote=control_allow_remote,
        topic_prefix=topic_prefix,
        ha_discovery=ha_discovery,
        duration_s=parse_duration_s(duration, "--duration") if duration else None,
        clamp=not no_clamp,
    )


def _run_live(
    site: Site,
    *,
    scen: list[Any],
    start: Any,
    step_s: int,
    speed: float,
    mqtt: Any,
    modbus: str | None,
    control: str | None,
    control_token_file: Path | None,
    control_allow_remote: bool,
    topic_prefix: str | None,
    ha_discovery: bool,
    duration_s: float | None,
    clamp: bool,
) -> None:
    from heatreuse.services.twin import TwinControlServer, build_live_twin

    live = build_live_twin(
        site,
        scenarios=scen,
        start=start,
        step_s=step_s,
        speed=speed,
        mqtt=mqtt,
        modbus=modbus,
        control=control,
        control_token_file=control_token_file,
        control_allow_remote=control_allow_remote,
        topic_prefix=topic_prefix,
        ha_discovery=ha_discovery,
        clamp=clamp,
    )
    live.start_sinks()
    ctl = next((s for s in live.sinks if isinstance(s, TwinControlServer)), None)
    ctl_text = ""
    if ctl is not None:
        host, port = ctl.address
        ctl_text = f"; control http://{host}:{port}/faults (token in {ctl.token_file})"
    err_console.print(
        f"twin of site {site.id}: simulated from {live.start.isoformat()} at {speed:g}x, "
        f"{step_s} s steps"
        + (f"; MQTT {mqtt.url}" if mqtt else "")
        + (f"; Modbus {modbus}" if modbus else "")
        + ctl_text
        + (f"; faults: {', '.join(s.label() for s in live.scenarios)}" if live.scenarios else ""),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: live.stop())
    try:
        live.run(duration_s=duration_s)
    except KeyboardInterrupt:
        live.close()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    err_console.print(
        f"twin stopped at {live.next_step_start().isoformat()}: {live.steps_done} steps, "
        f"{live.readings_published} readings"
    )


def twin_inject(
    control: str = typer.Argument(
        ..., help="The twin's control endpoint HOST:PORT.", show_default=False
    ),
    scenario: str = typer.Argument(..., help=SCENARIO_HELP, show_default=False),
    token_file: Path | None = typer.Option(
        None,
        "--token-file",
        help="The twin's control token file (printed when the twin starts). Default: "
        "$HEATREUSE_TWIN_TOKEN, else $HEATREUSE_HOME/twin-control-<port>.token.",
        show_default=False,
    ),
) -> None:
    """Inject a fault into a running live twin (without @START: from its next step)."""
    from heatreuse.services.twin import control_token, inject_remote

    token = control_token(control, token_file)
    typer.echo(f"injected {inject_remote(control, scenario, token=token)}")


def register(app: typer.Typer) -> None:
    """Register ``drill``, ``twin`` and ``twin-inject`` on the main app."""
    app.command("drill")(drill)
    app.command("twin")(twin)
    app.command("twin-inject")(twin_inject)
