"""Arguments and options shared by the command modules (one definition, one help text)."""

from __future__ import annotations

import typer

SITE_ARG = typer.Argument(..., help="The site YAML file.", show_default=False)
STORE_OPT = typer.Option(
    None,
    "--store",
    help="Store URL: sqlite:///PATH or postgresql://... "
    "(default sqlite:///$HEATREUSE_HOME/heatreuse.db).",
    show_default=False,
)

MQTT_HELP = (
    "MQTT broker: HOST:PORT, mqtt://USER@HOST:PORT or mqtts://USER@HOST:8883 (TLS). Give the "
    "password with --mqtt-password-file or $HEATREUSE_MQTT_PASSWORD, not in the URL."
)
MQTT_PASSWORD_FILE_OPT = typer.Option(
    None,
    "--mqtt-password-file",
    help="File holding the MQTT password on one line, or the credentials file of "
    "`heatreuse mqtt credentials` (it also names the user).",
    show_default=False,
)
MQTT_CA_OPT = typer.Option(
    None,
    "--mqtt-ca",
    help="mqtts: PEM file of the CA that signed the broker's certificate (default: the system "
    "trust store).",
    show_default=False,
)
MQTT_CERT_OPT = typer.Option(
    None,
    "--mqtt-cert",
    help="mqtts: client certificate (PEM), if the broker asks for one.",
    show_default=False,
)
MQTT_KEY_OPT = typer.Option(
    None, "--mqtt-key", help="mqtts: the client certificate's key (PEM).", show_default=False
)
