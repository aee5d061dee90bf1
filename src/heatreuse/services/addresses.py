"""``HOST:PORT`` as typed on the command line (``--mqtt``, ``--modbus``, ``--http``, ...)."""

from __future__ import annotations

from heatreuse.errors import AddressError


def parse_host_port(text: str, what: str, default_port: int | None = None) -> tuple[str, int]:
    """Parse ``HOST:PORT``; IPv6 in brackets (``[::1]:1883``); a bare ``HOST`` takes the default.

    Parameters
    ----------
    text
        What the user typed.
    what
        The option, for the error message (``--mqtt``).
    default_port
        Port used when ``text`` has none; ``None`` makes the port required.

    Raises
    ------
    AddressError
        Naming the option, what was expected and what came.
    """
    t = text.strip()
    example = f"127.0.0.1:{default_port or 1883}"
    if t.startswith("[") and "]" in t:  # [v6]:port or [v6]
        host, _, rest = t[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif t.count(":") == 1:
        host, _, port_text = t.partition(":")
    elif ":" not in t:
        host, port_text = t, ""
    else:  # a bare IPv6 address without brackets is ambiguous
        host, port_text = "", ""
    if not port_text and default_port is not None:
        port_text = str(default_port)
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise AddressError(f"{what}: expected HOST:PORT such as {example}, got {text!r}")
    return host, int(port_text)
