"""Load and validate a site YAML file with errors that name file, line and field.

Every problem is reported as ``FILE:LINE: field.path: what was expected; got
what came``. Problems of one file are collected and raised together as one
:class:`heatreuse.errors.SiteConfigError` so that a user fixes them in one go.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from heatreuse.errors import SiteConfigError
from heatreuse.units import STANDARD_PRESSURE_BAR, UNIT_SUFFIXES, split_unit_suffix

if TYPE_CHECKING:  # pydantic and the model load when a file is loaded, not at import
    from pydantic import ValidationError

    from heatreuse.site.model import Site

Path_ = tuple[str | int, ...]


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
        for key_node, value_node in node.value:
            key = scalars.construct_object(key_node)  # scalars only; complex keys rejected below
            if not isinstance(key, str):
                problems.append(
                    f"{file}:{key_node.start_mark.line + 1}: {_dotted(path) or '<top>'}: "
                    f"expected text keys, got {key!r}"
                )
                continue
            if key in out:
                problems.append(
                    f"{file}:{key_node.start_mark.line + 1}: {_dotted((*path, key))}: "
                    "key given twice (the second would silently win); remove one"
                )
            lines.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, (*path, key), lines, problems, file, scalars)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(item, (*path, i), lines, problems, file, scalars)
            for i, item in enumerate(node.value)
        ]
    return scalars.construct_object(node)


def _compose(text: str) -> yaml.Node | None:
    """YAML text to its node tree: with libyaml when PyYAML has it (about 40x faster).

    A document libyaml refuses is composed again by PyYAML's own parser, so that the
    error (and its message) is the same with or without libyaml.
    """
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.compose(text, Loader=fast)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def parse_yaml_with_lines(text: str, file: str) -> tuple[Any, _LineMap]:
    """Parse YAML text into plain Python data plus a map of field paths to lines.

    Raises
    ------
    SiteConfigError
        Malformed YAML (with line and column), duplicate keys, non-text keys.
    """
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        raise SiteConfigError(f"{where}: malformed YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise SiteConfigError(f"{file}: malformed YAML: {exc}") from None
    lines = _LineMap()
    if node is None:
        raise SiteConfigError(f"{file}:1: the file is empty; expected a site description")
    problems: list[str] = []
    data = _construct(node, (), lines, problems, file, yaml.SafeLoader(""))
    if problems:
        raise SiteConfigError(problems)
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


def _format_errors(exc: ValidationError, data: Any, lines: _LineMap, file: str) -> list[str]:
    from heatreuse.site.model import CUSTOMER_KINDS

    problems: list[str] = []
    for err in exc.errors(include_url=False):
        path = _resolve_loc(data, tuple(err["loc"]))
        line = lines.line_of(path)
        where = f"{file}:{line}: {_dotted(path) or '<top>'}"
        kind = err["type"]
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
            name = str(path[-1]) if path else ""
            split = split_unit_suffix(name)
            unit = UNIT_SUFFIXES[split[1]] if split else None
            problems.append(
                f"{where}: expected a plain number"
                + (f" in {unit} (the unit is in the field name)" if unit else "")
                + f"; got {got!r}"
            )
        else:
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            shown = "" if isinstance(got, dict | list) or got is None else f"; got {got!r}"
            problems.append(f"{where}: {msg}{shown}")
    return problems


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
    try:
        site = Site.model_validate(data)
    except ValidationError as exc:
        raise SiteConfigError(_format_errors(exc, data, lines, file)) from None
    problems = _boiling_problems(site, data, lines, file)
    if problems:
        raise SiteConfigError(problems)
    site._source_path = source_path
    # The points section is only meaningful once expanded against the plant: check it now,
    # so that `heatreuse validate` catches its problems too.
    from heatreuse.site.points import expand_points

    expand_points(site)
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
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SiteConfigError(f"{p}: no such site file") from None
    except IsADirectoryError:
        raise SiteConfigError(f"{p}: is a directory; expected a site YAML file") from None
    except UnicodeDecodeError as exc:
        raise SiteConfigError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return load_site_text(text, str(p), source_path=p.resolve())
