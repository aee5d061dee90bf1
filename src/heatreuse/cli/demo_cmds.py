"""``heatreuse demo``: the main job on the embedded default."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from heatreuse.cli.site_cmds import summary_tables
from heatreuse.site import load_site

console = Console()


def _examples_dir() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "examples"
        if (candidate / "pool.yaml").is_file():
            return candidate
    raise FileNotFoundError("examples/pool.yaml not found next to the heatreuse source tree")


def demo(
    site_file: Path = typer.Option(
        None, "--site", help="Site file to use (default: examples/pool.yaml)."
    ),
) -> None:
    """Validate and summarise the example sites."""
    paths = [site_file] if site_file else sorted(_examples_dir().glob("*.yaml"))
    for path in paths:
        site = load_site(path)
        console.rule(f"[bold]{path.name}[/]: valid")
        for table in summary_tables(site):
            console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the root app."""
    app.command("demo")(demo)
