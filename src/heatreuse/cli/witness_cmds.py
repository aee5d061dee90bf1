"""``heatreuse witness``: the heat customer's or auditor's own cosigner of ledger checkpoints.

``heatreuse witness init --name NAME --out DIR``
    Make a witness folder with a new Ed25519 cosigner key; print the public key
    (C2SP vkey, type 0x04) that verifiers pass to ``heatreuse verify --witness``.
``heatreuse witness cosign EXPORT_DIR --state DIR [--log-vkey KEY] [--json]``
    Verify the export, check that its newest checkpoint extends the one this witness
    cosigned last for that log (consistency proof), record it and write the
    cosignature into ``EXPORT_DIR/checkpoints/<size>.txt``. A rollback or a fork is
    refused with exit 3.

Logic lives in :mod:`heatreuse.ledger.witness`; this module only parses and prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from heatreuse.cli.output import make_console

console = make_console()
witness_app = typer.Typer(
    help="Witness ledger checkpoints with your own key (rollbacks and forks refused).",
    no_args_is_help=True,
)


@witness_app.command("init")
def init_cmd(
    name: str = typer.Option(
        ..., "--name", help="Witness key name, e.g. witness.example.org/pool-customer."
    ),
    out: Path = typer.Option(..., "--out", help="Witness folder (created, mode 0700)."),
) -> None:
    """Make a witness key pair; print the public key to give to verifiers."""
    from heatreuse.ledger.witness import PUBLIC_KEY_FILE, init_witness

    key = init_witness(name, out)
    console.print(f"witness key written to {out} (private: witness.key, mode 0600)")
    console.print(f"public key ({out / PUBLIC_KEY_FILE}); verifiers pass it to --witness:")
    typer.echo(key.vkey())


@witness_app.command("cosign")
def cosign_cmd(
    export_dir: Path = typer.Argument(..., help="Ledger export folder (`ledger export`)."),
    state: Path = typer.Option(..., "--state", help="Witness folder (`witness init --out`)."),
    log_vkey: str | None = typer.Option(
        None,
        "--log-vkey",
        help="The log's public key as the operator published it; pinned on first use "
        "(default: the export's own key, pinned on first use).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check consistency with the last checkpoint this witness saw, then cosign. Exit 3 if not."""
    from heatreuse.ledger.witness import cosign_export

    result = cosign_export(export_dir, state, log_vkey=log_vkey)
    if json_output:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    seen = (
        "first checkpoint this witness sees of this log (its key is now pinned)"
        if result.previous_size is None
        else f"consistent with size {result.previous_size} cosigned before"
    )
    console.print(
        f"cosigned {result.origin} at size {result.size} ({seen}); cosignature written "
        f"to {result.checkpoint_path}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Register ``heatreuse witness`` on ``app`` (idempotent)."""
    if any(group.name == "witness" for group in app.registered_groups):
        return
    app.add_typer(witness_app, name="witness")
