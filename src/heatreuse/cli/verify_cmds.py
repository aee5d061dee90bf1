"""``heatreuse verify DIR``: independent verification of a ledger export folder.

Needs nothing but the folder (entries, signed checkpoints, public key, totals), and
with ``--witness VKEY`` a witness's cosignature on the newest checkpoint. Exit codes:
0 verified; 3 verification failed (each problem is printed, naming file, line and
entry); 2 bad usage; 1 internal error. Also registers ``heatreuse witness``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from heatreuse.cli.output import Table, make_console
from heatreuse.errors import VerificationError

#: Default cap of entries.jsonl [MiB]: heatreuse.ledger.verify.MAX_ENTRIES_BYTES (a test
#: keeps the two equal; the ledger module is not imported for --help).
MAX_ENTRIES_MB = 512

if TYPE_CHECKING:  # the ledger (cryptography) is imported by the command that uses it
    from heatreuse.ledger.verify import VerifyReport

_console = make_console()


def _print_summary(report: VerifyReport, pinned: bool, witnesses: int) -> None:
    table = Table(title=f"ledger export {report.directory}", show_header=False)
    table.add_column("item")
    table.add_column("value")
    table.add_row("origin", str(report.origin))
    table.add_row(
        "public key",
        f"{report.key_name} ({'pinned with --vkey' if pinned else 'taken from the folder'})",
    )
    table.add_row("entries", str(report.entry_count))
    table.add_row(
        "entries by type",
        ", ".join(f"{t or '(none)'} {n}" for t, n in sorted(report.entry_types.items())) or "-",
    )
    verified = len(report.checkpoints_verified)
    table.add_row(
        "checkpoints verified",
        f"{verified} of {len(report.checkpoint_sizes)} (sizes "
        f"{', '.join(str(s) for s in report.checkpoint_sizes) or '-'})",
    )
    table.add_row("consistency proofs verified", str(report.consistency_proofs_verified))
    table.add_row(
        "totals recomputed", f"{report.totals_matched} of {report.totals_recomputed} match"
    )
    table.add_row("inclusion proofs verified", str(report.inclusion_proofs_verified))
    if witnesses == 0:
        table.add_row(
            "witnessed",
            "not checked (no --witness): a log rolled back and rebuilt by whoever holds "
            "the signing key would verify too",
        )
    for w in report.witnessed:
        table.add_row("witnessed", f"size {w.size} by {w.witness} at {w.cosigned_at_iso()}")
    _console.print(table, highlight=False)


def verify_command(
    directory: Path = typer.Argument(..., help="Ledger export folder (from `ledger export`)."),
    json_output: bool = typer.Option(
        False, "--json", help="Print the report as JSON on stdout instead of a table."
    ),
    vkey: str | None = typer.Option(
        None,
        "--vkey",
        help="Pin the verifier key (name+id+base64) published by the operator; without "
        "it the key in DIR is trusted, which proves consistency but not who signed.",
    ),
    witness: list[str] | None = typer.Option(
        None,
        "--witness",
        help="A witness's public key (from `heatreuse witness init`); the newest "
        "checkpoint must carry its valid cosignature, so a rolled-back or forked log "
        "fails. Repeat for several witnesses (all required).",
    ),
    max_entries_mb: int = typer.Option(
        MAX_ENTRIES_MB,
        "--max-entries-mb",
        min=1,
        help="Largest entries.jsonl read [MiB]; a larger file fails.",
    ),
) -> None:
    """Verify a ledger export: signatures, roots, consistency, totals. Exit 3 if it fails."""
    from heatreuse.ledger.verify import verify_export

    witnesses = list(witness or [])
    report = verify_export(
        directory,
        expected_vkey=vkey,
        witnesses=witnesses,
        max_entries_bytes=max_entries_mb * 1024 * 1024,
    )
    if json_output:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_summary(report, pinned=vkey is not None, witnesses=len(witnesses))
        if report.ok:
            _console.print("[bold green]verified[/]: every checkpoint, entry and total checks out")
        else:
            _console.print(f"[bold red]FAILED[/]: {len(report.problems)} problem(s)")
            for problem in report.problems:
                _console.print(f"  - {problem}", highlight=False, markup=False, soft_wrap=True)
    if not report.ok:
        first = report.problems[0]
        raise VerificationError(
            f"{directory}: ledger export failed verification with "
            f"{len(report.problems)} problem(s); first: {first}"
        )


def register(app: typer.Typer) -> None:
    """Register ``heatreuse verify`` and ``heatreuse witness`` on ``app`` (idempotent)."""
    from heatreuse.cli import witness_cmds

    witness_cmds.register(app)
    if any(cmd.name == "verify" for cmd in app.registered_commands):
        return
    app.command("verify")(verify_command)
