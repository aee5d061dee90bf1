"""Operations reviews: ``heatreuse review weekly`` and ``heatreuse review monthly``.

Commands
--------
``heatreuse review weekly SITE.yaml --week 2026-W03 --out DIR [--weather FILE] [--store URL]``
    The weekly operations review as Markdown, HTML, PDF (and the figures as JSON).
``heatreuse review monthly SITE.yaml --period 2026-01 --out DIR [--store URL]``
    The monthly report (the same as ``heatreuse report monthly``).

Logic lives in :mod:`heatreuse.services.review`; heavy modules are imported inside the
commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

from heatreuse.cli.options import SITE_ARG, STORE_OPT

review_app = typer.Typer(
    help="Operations reviews: weekly pack, monthly report.", no_args_is_help=True
)


@review_app.command("weekly")
def weekly_cmd(
    site_file: Path = SITE_ARG,
    week: str = typer.Option(..., "--week", help="ISO week YYYY-Www, e.g. 2026-W03."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    weather: str | None = typer.Option(
        None,
        "--weather",
        help="Weather file or source for measured vs model and the coming week's outlook.",
        show_default=False,
    ),
    at: str | None = typer.Option(
        None, "--at", help="Evaluate as of this time instead of now.", show_default=False
    ),
    store: str | None = STORE_OPT,
) -> None:
    """The weekly operations review: SLA, stability, alerts, maintenance, model, next week."""
    from heatreuse.services.ingest import opened_store
    from heatreuse.services.review import weekly_review, write_weekly
    from heatreuse.services.twin import parse_time_utc
    from heatreuse.site import load_site

    site = load_site(site_file)
    now = parse_time_utc(at, "--at") if at else None
    with opened_store(store) as opened:
        review = weekly_review(site, opened, week, weather=weather, now=now)
    paths = write_weekly(review, out)
    typer.echo(f"weekly review written: {paths['md']}, {paths['html']}, {paths['pdf']}")


@review_app.command("monthly")
def monthly_cmd(
    site_file: Path = SITE_ARG,
    period: str = typer.Option(..., "--period", help="Month YYYY-MM (UTC)."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    checkpoints: Path | None = typer.Option(
        None, "--checkpoints", help="Checkpoint folder (as `report monthly`).", show_default=False
    ),
    store: str | None = STORE_OPT,
) -> None:
    """The monthly report (`heatreuse report monthly`): HTML and PDF."""
    from heatreuse.services.ledger import monthly_report
    from heatreuse.site import load_site

    html_path, pdf_path = monthly_report(
        load_site(site_file), period, out, store, checkpoint_dir=checkpoints
    )
    typer.echo(f"monthly report written: {html_path} and {pdf_path}")


def register(app: typer.Typer) -> None:
    """Add ``review`` to the main app."""
    if any(g.name == "review" for g in app.registered_groups):
        return
    app.add_typer(review_app, name="review")
