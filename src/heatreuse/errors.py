"""Exception hierarchy of heatreuse.

Every error a user can cause derives from :class:`HeatreuseError`. Its message
says *where* (file, line, field path, topic, register), *what was expected*
and *what came*. The CLI maps :class:`HeatreuseError` to exit code 2 and prints
the message without a traceback; the API maps it to HTTP 4xx. Anything else is
an internal error (exit code 1).
"""

from __future__ import annotations


class HeatreuseError(Exception):
    """Base class of all errors a user can cause (bad input, bad config)."""

    exit_code: int = 2


class DomainError(HeatreuseError, ValueError):
    """A physics, KPI or carbon function got input outside its domain.

    Example: a PUE with IT energy 0, a negative volume, a temperature outside
    liquid water.
    """


class UnitError(HeatreuseError, ValueError):
    """A quantity came in a unit other than the one expected."""


class SiteConfigError(HeatreuseError):
    """The site YAML is malformed or invalid.

    Parameters
    ----------
    problems
        One line per problem, each already naming file, line and field path.
    """

    def __init__(self, problems: list[str] | str) -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class WeatherError(HeatreuseError):
    """A weather source is unknown, unreadable, has gaps or the wrong length."""


class SimulationError(HeatreuseError):
    """The simulation was asked for something it cannot do (bad step, bad sweep)."""


class StoreError(HeatreuseError):
    """The store URL is invalid or the store cannot be opened."""


class StoreNotFoundError(StoreError):
    """There is no heatreuse store at a URL that was opened for use, not for creation.

    Commands that only read (``store info``, ``sla report``, ``kpi``, ...) never create
    a store: a typo in ``--store`` must not turn into an empty store whose figures look
    like a site that delivered nothing.

    Parameters
    ----------
    url
        The store URL, password already masked (:func:`heatreuse.locations.redact_url`).
    found
        What is at the URL instead: no file, a file that is not a heatreuse store, a
        PostgreSQL schema without heatreuse tables, ... (one clause, no final period).
    """

    def __init__(self, url: str, found: str) -> None:
        import shlex

        self.url = url
        self.found = found
        super().__init__(
            f"no heatreuse store at {url}: {found}. Commands that only read never create "
            f"one; create it with `heatreuse store init {shlex.quote(url)}` (or let a "
            "writer create it: `heatreuse ingest`, `heatreuse serve`, `heatreuse ledger "
            "update`)"
        )


class StoreVersionError(StoreError):
    """A store opened for use (not creation) is not at this heatreuse's schema version.

    Attributes
    ----------
    component
        The component whose tables are versioned (``"store"``).
    current
        Its version in the database.
    newest
        The version this heatreuse knows.
    """

    def __init__(self, message: str, component: str, current: int, newest: int) -> None:
        super().__init__(message)
        self.component = component
        self.current = current
        self.newest = newest


class IngestError(HeatreuseError):
    """An input file or message cannot be ingested at all."""


class LedgerError(HeatreuseError):
    """The ledger cannot be built or exported."""


class LedgerConflictError(LedgerError):
    """Another writer appended to the same ledger log first (the append was refused whole)."""


class LedgerIntegrityError(LedgerError):
    """The stored ledger is not what its signed checkpoints say.

    Rows rewritten or deleted under a published checkpoint, or rows beyond the last
    signed checkpoint that ``ledger update`` did not write (a direct ``INSERT``). The
    CLI exits with code 3, as for a failed verification.
    """

    exit_code: int = 3


class VerificationError(HeatreuseError):
    """An exported ledger failed verification; the message says which entry.

    The CLI exits with code 3 for it (0 ok, 1 internal error, 2 user error), so scripts
    can tell "the ledger does not verify" from "the command was used wrongly".
    """

    exit_code: int = 3


class SLAError(HeatreuseError):
    """An SLA definition or period is invalid."""


class SLABreachedError(SLAError):
    """``heatreuse sla report --fail-on-breach`` found a breached SLA term.

    The CLI exits with code 4 for it, so scripts can tell "the SLA is breached"
    from a user error (2); without ``--fail-on-breach`` a breached report exits 0.
    """

    exit_code: int = 4


class ScenarioError(SimulationError):
    """A drill scenario text (``name@START+DURATION[:severity]``) cannot be parsed."""


class TwinError(HeatreuseError):
    """The twin cannot run: bad address, port in use, broker unreachable, bad fault request."""


class CompareError(HeatreuseError):
    """Measured vs model: a period without measurements, a bad weather file or period."""


class MaintenanceError(HeatreuseError):
    """Maintenance, drill records or the weekly review got something they cannot use."""


class AddressError(HeatreuseError, ValueError):
    """A HOST:PORT given on the command line is malformed."""


class RetentionBlockedError(StoreError):
    """Retention would delete raw or 1-minute data of SLA periods that are not sealed.

    The message lists the periods per site and how to proceed (seal them, wait until
    they close, or ``--force``).
    """


class MqttConnectionError(HeatreuseError):
    """An MQTT broker refused us for good (credentials, authorisation) or TLS failed.

    The message names the broker (``mqtts://user@host:port``, never the password), the
    option it came from, the user, what the broker answered and what to check.
    """


class AccessDeniedError(HeatreuseError):
    """A state-changing endpoint refused a request: no token or a wrong one (HTTP 401)."""


class FleetConfigError(SiteConfigError):
    """The fleet YAML of ``heatreuse plan-fleet`` is malformed or invalid.

    One problem per line, each naming file, line and field path (like
    :class:`SiteConfigError`, whose problems a listed site file brings along).
    """


class ClusterError(HeatreuseError):
    """A Dask scheduler cannot be reached, has no workers, or runs another heatreuse."""


class UpstreamAuthError(IngestError):
    """The upstream refused the edge's credentials (HTTP 401/403): retrying cannot help.

    The edge forwarder stops forwarding on it (the buffer keeps every reading) instead of
    retrying in a loop; the message names the upstream and what to check.
    """
