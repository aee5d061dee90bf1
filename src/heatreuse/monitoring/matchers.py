"""Label matchers with Alertmanager semantics (``=``, ``!=``, ``=~``, ``!~``).

A regular expression is anchored at both ends, as in Alertmanager; a label that is
absent reads as the empty string (so ``team!=it`` matches an alert without ``team``
and ``team=""`` matches it too). Reference: Prometheus Alertmanager, "Configuration",
section ``<matcher>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from heatreuse.errors import HeatreuseError

Op = Literal["=", "!=", "=~", "!~"]
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


class MatcherError(HeatreuseError):
    """A matcher string or label name is malformed."""


@dataclass(frozen=True)
class Matcher:
    """One condition on one label of an alert."""

    name: str
    op: Op
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not _LABEL_NAME.match(self.name):
            raise MatcherError(
                f"matcher label name: expected [A-Za-z_][A-Za-z0-9_]*; got {self.name!r}"
            )
        if self.op in ("=~", "!~"):
            try:
                object.__setattr__(self, "_regex", re.compile(f"(?:{self.value})\\Z"))
            except re.error as exc:
                raise MatcherError(
                    f"matcher {self.name}{self.op}{self.value!r}: expected a regular "
                    f"expression; got one that does not compile ({exc})"
                ) from None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when ``labels`` satisfy this matcher (absent label = empty string)."""
        got = labels.get(self.name, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        assert self._regex is not None
        hit = self._regex.match(got) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"


def parse_matcher(text: str) -> Matcher:
    """Parse ``name=value``, ``name!=value``, ``name=~regex`` or ``name!~regex``.

    Quotes around the value are removed (``severity="critical"``).
    """
    m = _MATCHER.match(text)
    if not m:
        raise MatcherError(
            f"matcher: expected NAME=VALUE, NAME!=VALUE, NAME=~REGEX or NAME!~REGEX; got {text!r}"
        )
    name, op, value = m.group(1), m.group(2), m.group(3)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return Matcher(name, op, value)  # type: ignore[arg-type]


def matchers_from_mapping(mapping: Mapping[str, str]) -> tuple[Matcher, ...]:
    """Equality matchers from a ``{label: value}`` mapping (the site file's ``match:``)."""
    return tuple(Matcher(k, "=", str(v)) for k, v in sorted(mapping.items()))


def all_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)
