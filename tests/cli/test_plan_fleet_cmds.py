"""``heatreuse plan-fleet`` on a real Dask cluster: ``dask scheduler`` + two ``dask worker``.

The scheduler and the workers are the console scripts dask installs, started
on 127.0.0.1 with free ports, single-threaded, without dashboards (their HTTP
servers on loopback too: ``--dashboard-address 127.0.0.1:0``), and stopped (by
their process ids, workers first) when the module's tests are done. Every
socket they and the LocalCluster listen on is checked to be on loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from heatreuse.cli.main import run
from heatreuse.planning.fleet import load_fleet, prepare_site, run_fleet
from heatreuse.planning.sweep import LocalExecutor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DASK = Path(sys.executable).parent / "dask"

FLEET = """\
schema_version: 1
fleet:
  id: cli-test
ranking:
  metric: heat_delivered_per_capex_kwh_per_eur
sites:
  - file: sites/pool.yaml
    sweep:
      tank_volume_m3: [5, 20]
      it_power_kw: [40, 60]
  - file: sites/greenhouse.yaml
    sweep:
      tank_volume_m3: "20:40:20"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Workers first (they would wait for a scheduler that is gone), then the scheduler."""
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def listening_ips(pids: set[int]) -> set[str]:
    """Addresses the processes ``pids`` listen on (TCP)."""
    import psutil

    ips = set()
    for pid in pids:
        for conn in psutil.Process(pid).net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN:
                ips.add(conn.laddr.ip)
    return ips


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A dask scheduler with two single-threaded workers on loopback; yields its address."""
    from distributed import Client

    assert DASK.is_file(), f"dask's console script is missing: {DASK}"
    folder = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ)
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        log = (folder / "scheduler.log").open("wb")
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                 "--no-dashboard", "--dashboard-address", "127.0.0.1:0"],
                stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env,
            )
        )  # fmt: skip
        for i in range(2):
            log = (folder / f"worker-{i}.log").open("wb")
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [str(DASK), "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                     "--no-nanny", "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                     "--name", f"w{i}",
                     "--local-directory", str(folder / f"w{i}")],
                    stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env,
                )
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(2, timeout=60)
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise
                time.sleep(0.5)
        assert listening_ips({p.pid for p in procs}) == {"127.0.0.1"}
        yield address
    finally:
        _stop(procs)
        for log in logs:
            log.close()


@pytest.fixture
def fleet_file(tmp_path: Path) -> Path:
    sites = tmp_path / "sites"
    sites.mkdir()
    for name in ("pool.yaml", "greenhouse.yaml"):
        shutil.copy(EXAMPLES / name, sites / name)
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET, encoding="utf-8")
    return path


def test_plan_fleet_on_a_dask_scheduler_with_two_workers(
    scheduler: str, fleet_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = run(["plan-fleet", str(fleet_file), "--scheduler", scheduler, "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    for name in ("fleet.parquet", "fleet.html", "summary.json"):
        assert (out / name).is_file(), name
    frame = pd.read_parquet(out / "fleet.parquet")
    summary = json.loads((out / "summary.json").read_text())
    # every site x point ran as its own task, spread over both workers
    assert len(frame) == 6 and summary["points"] == 6
    assert summary["executor"] == f"dask {scheduler}"
    assert summary["workers"] == 2
    per_worker = summary["tasks_per_worker"]
    assert len(per_worker) == 2 and sum(per_worker.values()) == 6
    assert all(w.startswith("tcp://127.0.0.1:") for w in per_worker)
    # ranked by the stated metric, SLA-feasible points first
    assert summary["rank_metric"] == "heat_delivered_per_capex_kwh_per_eur"
    assert list(frame["rank"]) == list(range(1, 7))
    key = list(zip(~frame["sla_feasible"], -frame["heat_delivered_per_capex_kwh_per_eur"],
                   strict=True))  # fmt: skip
    assert key == sorted(key)
    assert "heat_delivered_per_capex_kwh_per_eur" in printed and "cli-test" in printed
    page = (out / "fleet.html").read_text()
    assert "Ranked by <b>heat_delivered_per_capex_kwh_per_eur</b>" in page
    assert "pool-potsdam" in page and "greenhouse-niederrhein" in page
    # the workers computed exactly what the local executor computes
    fleet = load_fleet(fleet_file, metric="heat_delivered_per_capex_kwh_per_eur")
    local = run_fleet(
        fleet, LocalExecutor(1), contexts=[prepare_site(fleet, s) for s in fleet.sites]
    )
    cols = [c for c in local.frame.columns if c != "site_file"]
    pd.testing.assert_frame_equal(
        frame[cols].reset_index(drop=True), local.frame[cols].reset_index(drop=True)
    )


def test_plan_fleet_on_a_local_cluster_on_loopback(
    fleet_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import heatreuse.planning.dask_executor as de

    seen: dict[str, set[str]] = {}

    class Checked(de.DaskExecutor):
        def run(self, jobs, progress=None):  # type: ignore[no-untyped-def]
            pids = {os.getpid(), *self.client.run(os.getpid).values()}
            pids |= set(self.client.run(os.getppid).values())  # the nannies
            seen["ips"] = listening_ips(pids)
            return super().run(jobs, progress)

    monkeypatch.setattr(de, "DaskExecutor", Checked)
    out = tmp_path / "out"
    code = run(
        ["plan-fleet", str(fleet_file), "--out", str(out), "--workers", "1",
         "--sweep", "tank_volume_m3=10:10:1", "--rank-by", "npv_eur"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert seen["ips"] <= {"127.0.0.1"}  # scheduler, nanny, worker: nothing on other interfaces
    summary = json.loads((out / "summary.json").read_text())
    assert summary["executor"].startswith("dask tcp://127.0.0.1:")  # LocalCluster, loopback
    assert summary["workers"] == 1 and summary["points"] == 2  # --sweep replaced the grids
    assert summary["rank_metric"] == "npv_eur"


def test_unreachable_scheduler_exits_2(
    fleet_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import heatreuse.services.fleet_plan as fp

    monkeypatch.setattr(fp, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    code = run(["plan-fleet", str(fleet_file), "--scheduler", address, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"--scheduler {address}: no Dask scheduler answers there" in err
    assert "Traceback" not in err
    assert not (tmp_path / "fleet.parquet").exists()


@pytest.mark.parametrize(
    ("address", "needle"),
    [
        ("127.0.0.1", "--scheduler: expected HOST:PORT"),
        ("http://127.0.0.1:8786", "--scheduler: expected tcp://HOST:PORT"),
        ("tcp://127.0.0.1:99999", "--scheduler: expected HOST:PORT"),
    ],
)
def test_bad_scheduler_address_exits_2_before_any_work(
    fleet_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str,
    needle: str,
) -> None:  # fmt: skip
    code = run(["plan-fleet", str(fleet_file), "--scheduler", address, "--out", str(tmp_path)])
    assert code == 2
    assert needle in capsys.readouterr().err


def test_bad_fleet_file_exits_2_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text("schema_version: 1\nfleet:\n  id: x\nsites:\n  - file: nowhere.yaml\n")
    code = run(["plan-fleet", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "fleet.yaml:5: sites[0].file" in err and "no such site file" in err
