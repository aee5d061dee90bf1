"""Load and validate a site YAML file with errors that name file, line and field.

Every problem is reported as ``FILE:LINE: field.path: what was expected; got
what came``. Problems of one file are collected and raised together as one
:class:`heatreuse.errors.SiteConfigError` so that a user fixes them in one go.

The YAML reader is safe and bounded, so a hostile or broken file is refused
quickly with its line, never crashes or stalls the loader:

* only plain data: the standard tags ``!!str``, ``!!int``, ``!!float``,
  ``!!bool``, ``!!null``, ``!!timestamp`` (and ``!!seq``, ``!!map``); any other
  tag is refused, and so is an explicit tag whose value does not parse
  (``!!int "abc"``, ``!!bool maybe``);
* merge keys (``<<: *defaults``) are refused with a hint (YAML 1.2 dropped them);
  anchors and aliases for whole values work;
* one document per file; an anchor name used once;
* bounded work: at most :data:`MAX_SITE_FILE_BYTES` read, nesting at most
  :data:`MAX_NESTING_DEPTH` levels, at most :data:`MAX_EXPANDED_VALUES` values
  once aliases are expanded (checked on the alias graph *before* expanding, so
  a "billion laughs" document costs as much as its text), no alias cycles,
  scalars at most :data:`MAX_SCALAR_CHARS` and numbers at most
  :data:`MAX_NUMBER_CHARS` characters.

What the numbers may be (finite, not a boolean, in a plausible range for the
unit in the field name) is decided by the models (:mod:`heatreuse.site.base`).

A value written ``TODO(...)`` is a placeholder that a site template
(:mod:`heatreuse.site.template`) left for the site to fill in, the brackets
holding the template's example: every placeholder is reported as ``FILE:LINE:
field.path: to fill in ...`` (and no other error is reported for that field),
so a site made with ``heatreuse site new`` is refused until it is filled in.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from heatreuse.errors import SiteConfigError
from heatreuse.units import STANDARD_PRESSURE_BAR, UNIT_SUFFIXES, split_unit_suffix

if TYPE_CHECKING:  # pydantic and the model load when a file is loaded, not at import
    from pydantic import ValidationError

    from heatreuse.site.model import Site

Path_ = tuple[str | int, ...]

#: Largest site file read [bytes]; the examples are under 10 KB.
MAX_SITE_FILE_BYTES = 262_144
#: Deepest nesting of mappings and sequences, aliases expanded (site files use fewer than 10).
MAX_NESTING_DEPTH = 32
#: Most values (mapping keys, values, sequence items) once aliases are expanded.
MAX_EXPANDED_VALUES = 20_000
#: Longest scalar [characters].
MAX_SCALAR_CHARS = 10_000
#: Longest number [characters] (Python refuses integers of more than 4,300 digits).
MAX_NUMBER_CHARS = 64
#: Most problems listed in one error; the rest are counted.
MAX_PROBLEMS = 100

_YAML = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP = (
    _YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp")
)
_SEQ, _MAP, _MERGE = _YAML + "seq", _YAML + "map", _YAML + "merge"
#: What an explicitly tagged scalar must look like, for the error message.
_EXPECTED_BY_TAG = {
    _INT: "an integer",
    _FLOAT: "a number",
    _BOOL: "true or false",
    _NULL: "null (or nothing)",
    _TIMESTAMP: "a date or date-time such as 2026-01-31 or 2026-01-31T06:00:00Z",
}
_NULLS = ("", "~", "null", "Null", "NULL")
#: A placeholder for a site-specific value: ``TODO(<the template's example>)``.
PLACEHOLDER = re.compile(r"^TODO\((?P<example>.*)\)$", re.DOTALL)
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_BAD = object()  # a scalar that could not be constructed (its problem is recorded)


class _LineMap:
    """Line numbers (1-based) of every mapping key and sequence item in a YAML document."""

    def __init__(self) -> None:
        self.lines: dict[Path_, int] = {}

    def line_of(self, path: Path_) -> int:
        """Line of the deepest part of ``path`` that exists in the document."""
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return self.lines[path[:cut]]
        return 1


class _Refused(yaml.MarkedYAMLError):
    """The reader refuses a document it could parse (a bound hit, an anchor reused...)."""


def _event_source(text: str) -> Any:
    """A YAML event parser over ``text``: libyaml's when PyYAML has it (10x faster)."""
    if getattr(yaml, "__with_libyaml__", False):
        from yaml._yaml import CParser

        return CParser(text)
    return yaml.SafeLoader(text)  # PyYAML's pure-Python reader, scanner and parser


class _Composer:
    """Events to a node graph, like PyYAML's composer, within the reader's bounds.

    Aliases stay shared nodes (the graph is as big as the text); nesting and the
    number of nodes are bounded as they are read, and the field path of the
    current node is kept for messages.
    """

    def __init__(self, text: str) -> None:
        self.events = _event_source(text)
        self.resolver: Any = yaml.resolver.Resolver()  # untyped in types-PyYAML
        self.anchors: dict[str, yaml.Node] = {}
        self.path: list[str | int] = []
        self.count = 0

    def close(self) -> None:
        """Free the parser."""
        self.events.dispose()

    def document(self) -> yaml.Node | None:
        """The root node of the only document, ``None`` for an empty stream."""
        events = self.events
        events.get_event()  # stream start
        if events.check_event(yaml.StreamEndEvent):
            return None
        events.get_event()  # document start
        node = self.node()
        events.get_event()  # document end
        if not events.check_event(yaml.StreamEndEvent):
            raise _Refused(
                problem="a second YAML document ('---'); expected one site per file",
                problem_mark=events.get_event().start_mark,
            )
        return node

    def _where(self) -> str:
        shown = _dotted(tuple(self.path[:6]))
        return (shown + ("..." if len(self.path) > 6 else "")) or "<top>"

    def node(self) -> yaml.Node:
        events = self.events
        if events.check_event(yaml.AliasEvent):
            event = events.get_event()
            if event.anchor not in self.anchors:
                raise yaml.composer.ComposerError(
                    None, None, f"found undefined alias {event.anchor!r}", event.start_mark
                )
            return self.anchors[event.anchor]
        event = events.peek_event()
        if len(self.path) > MAX_NESTING_DEPTH:
            raise _Refused(
                problem=f"{self._where()}: nested deeper than {MAX_NESTING_DEPTH} levels; "
                "expected a site description (a few levels)",
                problem_mark=event.start_mark,
            )
        self.count += 1
        if self.count > MAX_EXPANDED_VALUES:
            raise _Refused(
                problem=f"{self._where()}: the file holds more than {MAX_EXPANDED_VALUES:,} "
                "values; expected a site description (a few thousand)",
                problem_mark=event.start_mark,
            )
        anchor = event.anchor
        if anchor is not None and anchor in self.anchors:
            first = self.anchors[anchor].start_mark.line + 1
            raise _Refused(
                problem=f"{self._where()}: anchor &{anchor} defined again (first on line "
                f"{first}); give each anchor its own name",
                problem_mark=event.start_mark,
            )
        if events.check_event(yaml.ScalarEvent):
            return self._scalar(anchor)
        if events.check_event(yaml.SequenceStartEvent):
            return self._sequence(anchor)
        return self._mapping(anchor)

    def _tag(self, kind: type[yaml.Node], tag: str | None, value: Any, implicit: Any) -> str:
        if tag is None or tag == "!":
            return str(self.resolver.resolve(kind, value, implicit))
        return tag

    def _scalar(self, anchor: str | None) -> yaml.ScalarNode:
        event = self.events.get_event()
        tag = self._tag(yaml.ScalarNode, event.tag, event.value, event.implicit)
        node = yaml.ScalarNode(
            tag, event.value, event.start_mark, event.end_mark, style=event.style
        )
        if anchor is not None:
            self.anchors[anchor] = node
        return node

    def _sequence(self, anchor: str | None) -> yaml.SequenceNode:
        start = self.events.get_event()
        tag = self._tag(yaml.SequenceNode, start.tag, None, start.implicit)
        node = yaml.SequenceNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
        if anchor is not None:
            self.anchors[anchor] = node
        while not self.events.check_event(yaml.SequenceEndEvent):
            self.path.append(len(node.value))
            node.value.append(self.node())
            self.path.pop()
        node.end_mark = self.events.get_event().end_mark
        return node

    def _mapping(self, anchor: str | None) -> yaml.MappingNode:
        start = self.events.get_event()
        tag = self._tag(yaml.MappingNode, start.tag, None, start.implicit)
        node = yaml.MappingNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
        if anchor is not None:
            self.anchors[anchor] = node
        while not self.events.check_event(yaml.MappingEndEvent):
            self.path.append("?")
            key = self.node()
            self.path[-1] = str(key.value)[:64] if isinstance(key, yaml.ScalarNode) else "?"
            value = self.node()
            self.path.pop()
            node.value.append((key, value))
        node.end_mark = self.events.get_event().end_mark
        return node


def _children(node: yaml.Node, path: Path_) -> Iterator[tuple[Path_, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = str(key.value)[:64] if isinstance(key, yaml.ScalarNode) else "?"
            yield path, key
            yield (*path, name), value
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield (*path, i), item


def _check_expansion(root: yaml.Node, file: str) -> None:
    """Refuse alias cycles, and documents that aliases make too big or too deep.

    Works on the node graph (aliases are shared nodes), each node once: the cost
    is that of the text, however large the expansion would be.
    """
    sizes: dict[int, int] = {}
    heights: dict[int, int] = {}
    active: set[int] = set()

    def refuse(node: yaml.Node, path: Path_, what: str) -> SiteConfigError:
        return SiteConfigError(
            f"{file}:{node.start_mark.line + 1}: {_dotted(path) or '<top>'}: {what}"
        )

    def too_deep(node: yaml.Node, path: Path_) -> SiteConfigError:
        return refuse(
            node,
            path,
            f"aliases nest this value deeper than {MAX_NESTING_DEPTH} levels; expected a site "
            "description (a few levels)",
        )

    def visit(node: yaml.Node, path: Path_, depth: int) -> None:
        key = id(node)
        if key in active:
            raise refuse(
                node,
                path,
                "an alias refers to a value that contains it (a recursive structure); "
                "expected plain data",
            )
        if key in sizes:
            if depth + heights[key] > MAX_NESTING_DEPTH:
                raise too_deep(node, path)
            return
        if depth > MAX_NESTING_DEPTH:
            raise too_deep(node, path)
        active.add(key)
        size, height = 1, 0
        for child_path, child in _children(node, path):
            visit(child, child_path, depth + 1)
            size += sizes[id(child)]
            height = max(height, heights[id(child)] + 1)
            if size > MAX_EXPANDED_VALUES:
                raise refuse(
                    node,
                    path,
                    f"aliases expand this value to more than {MAX_EXPANDED_VALUES:,} values "
                    "(an alias bomb?); expected a site description (a few thousand); write "
                    "the values out",
                )
        active.discard(key)
        sizes[key], heights[key] = size, height

    visit(root, (), 0)


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML) :] if tag.startswith(_YAML) else tag


def _shown(text: str) -> str:
    """A user's text for a message: quoted, and cut when long."""
    if len(text) <= 60:
        return repr(text)
    return f"{text[:40]!r}... ({len(text):,} characters)"


def _problem(file: str, node: yaml.Node, path: Path_, what: str) -> str:
    return f"{file}:{node.start_mark.line + 1}: {_dotted(path) or '<top>'}: {what}"


def _scalar(node: yaml.ScalarNode, path: Path_, problems: list[str], file: str) -> Any:
    """Construct one scalar by its tag; a problem (and ``_BAD``) when it does not parse."""
    tag, text = node.tag, node.value
    if len(text) > MAX_SCALAR_CHARS:
        problems.append(
            _problem(
                file,
                node,
                path,
                f"expected a value of at most {MAX_SCALAR_CHARS:,} characters; got "
                f"{len(text):,} characters",
            )
        )
        return _BAD
    if tag == _STR:
        return text
    if tag in (_INT, _FLOAT) and len(text) > MAX_NUMBER_CHARS:
        problems.append(
            _problem(
                file,
                node,
                path,
                f"expected a number of at most {MAX_NUMBER_CHARS} characters; got a number of "
                f"{len(text):,} characters",
            )
        )
        return _BAD
    if tag not in _EXPECTED_BY_TAG:
        problems.append(
            _problem(
                file,
                node,
                path,
                f"unsupported tag {_short_tag(tag)}; expected plain data (site files allow the "
                "tags !!str, !!int, !!float, !!bool, !!null, !!timestamp)",
            )
        )
        return _BAD
    try:
        if tag == _NULL:
            if text not in _NULLS:
                raise ValueError(text)
            return None
        if tag == _BOOL:
            return _CONSTRUCTOR.bool_values[text.lower()]
        if tag == _INT:
            return _CONSTRUCTOR.construct_yaml_int(node)
        if tag == _FLOAT:
            return _CONSTRUCTOR.construct_yaml_float(node)
        return _CONSTRUCTOR.construct_yaml_timestamp(node)
    except (ValueError, KeyError, AttributeError, TypeError, IndexError, OverflowError):
        problems.append(
            _problem(
                file,
                node,
                path,
                f"expected {_EXPECTED_BY_TAG[tag]} (tag {_short_tag(tag)}); got {_shown(text)}",
            )
        )
        return _BAD


def _construct(
    node: yaml.Node,
    path: Path_,
    lines: _LineMap,
    problems: list[str],
    file: str,
    scalars: yaml.SafeLoader,
) -> Any:
    lines.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        if node.tag != _MAP:
            problems.append(
                _problem(file, node, path, f"unsupported tag {_short_tag(node.tag)} on a mapping")
            )
            return out
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                problems.append(
                    _problem(
                        file,
                        key_node,
                        (*path, "<<"),
                        "merge keys are not supported in site files (YAML 1.2 dropped them); "
                        "write the fields out (an alias such as '*name' for a whole value works)",
                    )
                )
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(
                    _problem(file, key_node, path, "expected text keys, got a mapping or list")
                )
                continue
            key = _scalar(key_node, path, problems, file)
            if key is _BAD:
                continue
            if not isinstance(key, str):
                problems.append(_problem(file, key_node, path, f"expected text keys, got {key!r}"))
                continue
            if key in out:
                problems.append(
                    _problem(
                        file,
                        key_node,
                        (*path, key),
                        "key given twice (the second would silently win); remove one",
                    )
                )
            lines.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, (*path, key), lines, problems, file, scalars)
        return out
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ:
            problems.append(
                _problem(file, node, path, f"unsupported tag {_short_tag(node.tag)} on a list")
            )
            return []
        return [
            _construct(item, (*path, i), lines, problems, file, scalars)
            for i, item in enumerate(node.value)
        ]
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node, path, problems, file)


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _raise(problems: list[str]) -> SiteConfigError:
    """One error for all problems, the list cut at :data:`MAX_PROBLEMS`."""
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        problems = [*problems[:MAX_PROBLEMS], f"... and {more:,} more problems"]
    return SiteConfigError(problems)


def parse_yaml_with_lines(text: str, file: str) -> tuple[Any, _LineMap]:
    """Parse YAML text into plain Python data plus a map of field paths to lines.

    Raises
    ------
    SiteConfigError
        Malformed YAML (with line and column), duplicate keys, non-text keys,
        unsupported tags or tagged values that do not parse, merge keys, and
        documents beyond the reader's bounds (size, nesting, alias expansion,
        scalar length); see the module docstring.
    """
    if len(text) > MAX_SITE_FILE_BYTES:
        raise SiteConfigError(
            f"{file}: expected a site file of at most {MAX_SITE_FILE_BYTES:,} characters; got "
            f"{len(text):,}"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # text handed in by a caller, not read from a file
        line = text.count("\n", 0, exc.start) + 1
        raise SiteConfigError(
            f"{file}:{line}: not valid Unicode text ({exc.reason} at character {exc.start})"
        ) from None
    composer: _Composer | None = None
    try:
        composer = _Composer(text)
        node = composer.document()
    except _Refused as exc:
        mark = exc.problem_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        raise SiteConfigError(f"{where}: {exc.problem}") from None
    except yaml.reader.ReaderError as exc:  # a control character
        line = text.encode("utf-8", "surrogatepass").count(b"\n", 0, max(exc.position, 0)) + 1
        what = (
            f"unacceptable character {chr(exc.character)!r}"
            if isinstance(exc.character, int)
            else "unacceptable character"
        )
        raise SiteConfigError(
            f"{file}:{line}: malformed YAML: {what} (control characters are not allowed)"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        raise SiteConfigError(f"{where}: malformed YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise SiteConfigError(f"{file}: malformed YAML: {exc}") from None
    finally:
        if composer is not None:
            composer.close()
    lines = _LineMap()
    if node is None:
        raise SiteConfigError(f"{file}:1: the file is empty; expected a site description")
    _check_expansion(node, file)
    problems: list[str] = []
    data = _construct(node, (), lines, problems, file, yaml.SafeLoader(""))
    if problems:
        raise _raise(problems)
    return data, lines


def _resolve_loc(data: Any, loc: tuple[str | int, ...]) -> Path_:
    """Map a pydantic error location onto the YAML path (drop union tags)."""
    from heatreuse.site.model import CUSTOMER_KINDS

    out: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part in CUSTOMER_KINDS:
            continue  # discriminator tag inserted by pydantic
        else:
            out.append(part)
            node = None
    return tuple(out)


def _expected_unit_hint(model_fields: set[str], bad_key: str) -> str | None:
    """If ``bad_key`` is a known field with another unit suffix, say so."""
    split = split_unit_suffix(bad_key)
    if split is None:
        return None
    stem, suffix = split
    for field in model_fields:
        fsplit = split_unit_suffix(field)
        if fsplit and fsplit[0] == stem and fsplit[1] != suffix:
            return (
                f"wrong unit: '{bad_key}' is in {UNIT_SUFFIXES[suffix]}, heatreuse expects "
                f"'{field}' in {UNIT_SUFFIXES[fsplit[1]]}; convert the value and rename the field"
            )
    return None


def _siblings(data: Any, path: Path_) -> dict[str, Any] | None:
    node = data
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node if isinstance(node, dict) else None


def _model_fields_at(path: Path_, data: Any) -> set[str]:
    """Names of the fields that the model expects at the parent of ``path``."""
    from pydantic import BaseModel

    from heatreuse.site import model as m

    cls: Any = m.Site
    node = data
    for part in path[:-1]:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
            return set()
        field = cls.model_fields.get(part)
        node = node.get(part) if isinstance(node, dict) else None
        if field is None:
            return set()
        cls = _first_model(field.annotation, node, m)
        if cls is None:
            return set()
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return set(cls.model_fields)
    return set()


def _first_model(annotation: Any, node: Any, m: Any) -> Any:
    import typing

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = typing.get_args(annotation)
    if annotation is not None and "Customer" in str(annotation) and isinstance(node, dict):
        by_kind = {
            "pool": m.PoolCustomer,
            "dhw_preheat": m.DhwPreheatCustomer,
            "district_preheat": m.DistrictPreheatCustomer,
            "greenhouse": m.GreenhouseCustomer,
            "space_heating": m.SpaceHeatingCustomer,
        }
        return by_kind.get(str(node.get("kind")))
    for arg in args:
        found = _first_model(arg, node, m)
        if found is not None:
            return found
    return None


def placeholders(data: Any, path: Path_ = ()) -> Iterator[tuple[Path_, str]]:
    """Every ``TODO(...)`` placeholder in parsed site data: (field path, the placeholder)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from placeholders(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from placeholders(value, (*path, i))
    elif isinstance(data, str) and PLACEHOLDER.match(data):
        yield path, data


def _placeholder_problems(found: dict[Path_, str], lines: _LineMap, file: str) -> list[str]:
    return [
        f"{file}:{lines.line_of(path)}: {_dotted(path)}: to fill in: expected this site's value; "
        f"got the template's placeholder {_shown(text)} (the brackets hold its example)"
        for path, text in found.items()
    ]


def _format_errors(
    exc: ValidationError,
    data: Any,
    lines: _LineMap,
    file: str,
    skip: Collection[Path_] = (),
) -> list[str]:
    from heatreuse.site.model import CUSTOMER_KINDS

    problems: list[str] = []
    for err in exc.errors(include_url=False):
        path = _resolve_loc(data, tuple(err["loc"]))
        kind = err["type"]
        if any(
            path[: len(p)] == p  # at or below a placeholder
            or (kind == "value_error" and path and p[: len(path)] == path)  # a check above it
            for p in skip
        ):
            continue  # a placeholder (reported as "to fill in") or a check that reads it
        line = lines.line_of(path)
        where = f"{file}:{line}: {_dotted(path) or '<top>'}"
        got = err.get("input")
        if kind == "missing":
            problems.append(f"{where}: required field missing")
        elif kind == "extra_forbidden":
            hint = _expected_unit_hint(_model_fields_at(path, data), str(path[-1]))
            if hint:
                problems.append(f"{where}: {hint}")
            else:
                expected = sorted(_model_fields_at(path, data))
                problems.append(
                    f"{where}: unknown field; expected one of: {', '.join(expected)}"
                    if expected
                    else f"{where}: unknown field"
                )
        elif kind == "union_tag_invalid":
            problems.append(
                f"{where}.kind: unknown customer kind {err['ctx'].get('tag')!r}; expected one "
                f"of {', '.join(CUSTOMER_KINDS)}"
            )
        elif kind == "union_tag_not_found":
            problems.append(
                f"{where}.kind: required field missing; expected one of {', '.join(CUSTOMER_KINDS)}"
            )
        elif kind in ("float_parsing", "float_type", "int_parsing", "int_type") and isinstance(
            got, str
        ):
            unit = _unit_of(path)
            problems.append(
                f"{where}: expected a plain number"
                + (f" in {unit} (the unit is in the field name)" if unit else "")
                + f"; got {_shown(got)}"
            )
        elif kind == "finite_number":
            unit = _unit_of(path)
            problems.append(
                f"{where}: expected a finite number"
                + (f" in {unit}" if unit else "")
                + f"; got {got}"
            )
        elif kind.startswith("site_"):  # heatreuse.site.base: the message says what came
            problems.append(f"{where}: {err['msg']}")
        else:
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            shown = (
                "" if isinstance(got, dict | list) or got is None else f"; got {_shown_value(got)}"
            )
            problems.append(f"{where}: {msg}{shown}")
    return problems


def _unit_of(path: Path_) -> str | None:
    """The unit named by the last field name in ``path`` (list indices skipped)."""
    names = [part for part in path if isinstance(part, str)]
    split = split_unit_suffix(names[-1]) if names else None
    return UNIT_SUFFIXES[split[1]] if split else None


def _shown_value(value: Any) -> str:
    if isinstance(value, str):
        return _shown(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        from heatreuse.site.base import show_number

        return show_number(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + "..."


def _iter_temps(node: Any, path: Path_) -> Iterator[tuple[Path_, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _iter_temps(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _iter_temps(value, (*path, i))
    elif path and isinstance(path[-1], str) and path[-1].endswith("temp_c"):
        yield path, node


def _boiling_problems(site: Site, data: Any, lines: _LineMap, file: str) -> list[str]:
    """Water temperatures must stay below boiling at the loop pressure."""
    from heatreuse.physics.saturation import boiling_temp_c  # numpy-free: validate stays fast

    pressure_bar = max(site.plant.loop_pressure_bar, STANDARD_PRESSURE_BAR)
    t_sat_c = boiling_temp_c(pressure_bar)
    problems = []
    for section in ("compute", "plant", "customer"):
        for path, value in _iter_temps(data.get(section), (section,)):
            name = str(path[-1])
            # Air, ground and DH-network temperatures are not loop water.
            if any(w in name for w in ("air_", "ground_", "outdoor", "surroundings", "ambient")):
                continue
            if (
                section == "customer"
                and site.customer.kind == "district_preheat"
                and (name.startswith("supply_temp_at"))
            ):
                continue
            if isinstance(value, int | float) and value >= t_sat_c:
                problems.append(
                    f"{file}:{lines.line_of(path)}: {_dotted(path)}: temperature above boiling: "
                    f"water boils at {t_sat_c:.1f} C at the loop pressure of {pressure_bar:g} bar "
                    f"(plant.loop_pressure_bar); got {value} C"
                )
    return problems


def load_site_text(text: str, file: str = "<site>", source_path: Path | None = None) -> Site:
    """Validate site YAML text; see :func:`load_site`."""
    from pydantic import ValidationError

    from heatreuse.site.model import Site

    data, lines = parse_yaml_with_lines(text, file)
    if not isinstance(data, dict):
        raise SiteConfigError(
            f"{file}:1: expected a mapping of sections (site, location, compute, plant, "
            f"customer, contract, ownership), got {type(data).__name__}"
        )
    found = dict(placeholders(data))
    todo = _placeholder_problems(found, lines, file)
    try:
        site = Site.model_validate(data)
    except ValidationError as exc:
        raise _raise(todo + _format_errors(exc, data, lines, file, skip=found)) from None
    if todo:
        raise _raise(todo)
    problems = _boiling_problems(site, data, lines, file)
    if problems:
        raise _raise(problems)
    site._source_path = source_path
    # The points section is only meaningful once expanded against the plant: check it now,
    # so that `heatreuse validate` catches its problems too.
    from heatreuse.site.points import expand_points

    try:
        expand_points(site)
    except ValidationError as exc:  # a package point built from the site's own figures
        raise _raise(
            [f"{file}: points: {err['msg']}" for err in exc.errors(include_url=False)]
        ) from None
    return site


def load_site(path: str | Path) -> Site:
    """Load and validate a site YAML file.

    Parameters
    ----------
    path
        The site file.

    Returns
    -------
    Site
        The frozen, validated site model.

    Raises
    ------
    SiteConfigError
        With one line per problem: ``FILE:LINE: field.path: expected ...; got ...``.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_SITE_FILE_BYTES + 1)  # bounded: /dev/zero or a huge file
    except FileNotFoundError:
        raise SiteConfigError(f"{p}: no such site file") from None
    except IsADirectoryError:
        raise SiteConfigError(f"{p}: is a directory; expected a site YAML file") from None
    except OSError as exc:
        raise SiteConfigError(f"{p}: cannot read the site file ({exc.strerror})") from None
    if len(raw) > MAX_SITE_FILE_BYTES:
        raise SiteConfigError(
            f"{p}: expected a site file of at most {MAX_SITE_FILE_BYTES:,} bytes; got more"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SiteConfigError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return load_site_text(text, str(p), source_path=p.resolve())
