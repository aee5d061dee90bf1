"""Standard site templates: the seed's patterns as data, reused site after site.

A template is a YAML file shipped in the package, ``heatreuse/site/templates/<name>.yaml``:

* a **site file skeleton**: every section of a site file with the pattern's standard
  values, its sources cited in comments, and a placeholder ``TODO(<example>)`` for
  each value that is the site's own (id, name, location, sizes, prices, people);
* a ``template:`` block, the file's last top-level key (:class:`TemplateSpec`): name,
  version, the reference architecture (text and the equipment chain), the sensor
  package (points package and required points), the commissioning checklist, the
  maintenance schedule, the SLA clauses (values and contract language) and the report
  template.

``heatreuse site new --template NAME --id ID --out FILE`` (:func:`render_site`) writes
the skeleton with the id filled in, the template's maintenance schedule and a
``template: {name, version}`` reference. The site loader reports every placeholder
left as ``FILE:LINE: field.path: to fill in ...`` (exit 2) until it is replaced, so a
half-made site is never planned or run. ``heatreuse validate`` on a site with a
template reference checks it against the installed template (:func:`check_site`) and
names each deviation with the field, what the template expects and what the site has:
an error where the template says the item is required, a warning otherwise.

Nothing here imports numpy or pandas: ``template list``, ``template show`` and
``site new`` stay as fast as ``validate``.
"""

from __future__ import annotations

import json
import math
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from heatreuse.errors import SiteConfigError
from heatreuse.site.base import SiteModel
from heatreuse.site.loader import (
    MAX_SITE_FILE_BYTES,
    PLACEHOLDER,
    Path_,
    _dotted,
    load_site,
    parse_yaml_with_lines,
)
from heatreuse.site.model import Identifier, MaintenanceTask, Site, SlaTerms
from heatreuse.site.points import PointId, PointsConfig, expand_points

#: Folder of the shipped templates (package data, ``<name>.yaml``).
TEMPLATE_DIR = Path(__file__).with_name("templates")

#: Sections of the monthly report (:mod:`heatreuse.ledger.report`), id -> heading.
REPORT_SECTIONS: dict[str, str] = {
    "heat_vs_use": "Heat delivered vs customer heat use",
    "sla": "SLA attainment and interruptions",
    "alerts": "Alerts, incidents and corrective actions",
    "energy_flows": "Energy flows",
    "site_modes": "Site modes",
    "kpis": "KPIs",
    "enefg": "EnEfG section 11 targets",
    "avoided_co2": "Avoided CO2",
    "checkpoint": "Checkpoint anchoring these figures",
}

CustomerKind = Literal["pool", "dhw_preheat", "district_preheat", "greenhouse", "space_heating"]
CoolingArchitecture = Literal["air", "direct_liquid", "immersion", "hybrid"]
ReportSection = Literal[
    "heat_vs_use",
    "sla",
    "alerts",
    "energy_flows",
    "site_modes",
    "kpis",
    "enefg",
    "avoided_co2",
    "checkpoint",
]
SensorPackageName = Literal["standard_hydronic", "none"]


class _Model(SiteModel):
    """Frozen, no unknown fields; numbers finite and plausible (:mod:`heatreuse.site.base`)."""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation admits (through Optional, unions, lists, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out += _models_in(arg)
    return out


def model_path_exists(model: type[BaseModel], dotted: str) -> bool:
    """True when ``dotted`` (``plant.heat_reject``) names a field path of ``model``.

    Through a union (the customer kinds) a part is accepted when any member has it.
    """
    models = [model]
    for part in dotted.split("."):
        fields = [m.model_fields[part] for m in models if part in m.model_fields]
        if not fields:
            return False
        models = [sub for f in fields for sub in _models_in(f.annotation)]
    return True


# --------------------------------------------------------------------------- the spec
class ArchitectureStep(_Model):
    """One link of the reference architecture's equipment chain."""

    step: Annotated[str, Field(min_length=3)]
    """What the equipment is and does."""
    site_path: str | None = None
    """Where the site file describes it (`plant.heat_reject`); the site must have it."""
    required: bool = False
    """A site without it is an error (else a warning)."""

    @model_validator(mode="after")
    def _path_in_site(self) -> ArchitectureStep:
        if self.site_path is not None and not model_path_exists(Site, self.site_path):
            raise ValueError(
                f"site_path: expected a field path of a site file; got {self.site_path!r}"
            )
        return self


class CoolingRule(_Model):
    """Cooling architectures the reference architecture is built for."""

    architectures: Annotated[list[CoolingArchitecture], Field(min_length=1)]
    """Allowed `compute.cooling.architecture` values."""
    required: bool = False
    """Another architecture is an error (else a warning)."""


class ReferenceArchitecture(_Model):
    """The pattern's plant, from the racks to the customer."""

    text: Annotated[str, Field(min_length=10)]
    """The architecture in words, with its sources."""
    cooling: CoolingRule | None = None
    """Cooling architectures it is built for."""
    chain: Annotated[list[ArchitectureStep], Field(min_length=1)]
    """The equipment chain, heat source first."""


class SensorPackage(_Model):
    """Points a site of the pattern must and should have."""

    package: SensorPackageName = "standard_hydronic"
    """The points package (`points.package`), see `heatreuse.site.points`."""
    required_points: Annotated[list[PointId], Field(min_length=1)]
    """Point ids the site's point list must hold (package points and the pattern's extra
    points, which the skeleton declares under `points.entries`)."""
    recommended_points: list[PointId] = Field(default_factory=list)
    """Point ids the site should hold (a warning when missing)."""
    note: str = ""
    """Why these points."""


class ChecklistItem(_Model):
    """One item of the commissioning checklist."""

    id: Identifier
    """Item id."""
    item: Annotated[str, Field(min_length=3)]
    """What is checked and what passes."""
    reference: str = ""
    """The standard or procedure it follows."""
    required: bool = True
    """Must pass before the site goes into operation."""


class TemplateTask(MaintenanceTask):
    """A maintenance task of the template: a site task plus whether it is required."""

    required: bool = False
    """A site schedule without it (or with a longer interval) is an error (else a warning)."""


#: Text values of the `contract.sla` terms a clause can compare (missing_data, slice_rule, period).
SlaText = Literal["bad", "excluded", "mean", "whole_minute", "month", "contract_year", "both"]
SlaValue = float | SlaText


class SlaClause(_Model):
    """One SLA clause: a term of ``contract.sla`` no weaker than the template's, and its text."""

    id: Identifier
    """Clause id."""
    field: str
    """Field path below `contract.sla` (`target_fraction`, `maintenance.notice_h`)."""
    compare: Literal["at_least", "at_most", "equal", "present"]
    """How the site's value must relate to `value` (`present`: given at all)."""
    value: SlaValue | None = None
    """The template's value (none for `present`)."""
    order: list[SlaText] = Field(default_factory=list)
    """Text values from weakest to strongest, for `at_least`/`at_most` on a text field."""
    required: bool = False
    """A weaker site value is an error (else a warning)."""
    text: Annotated[str, Field(min_length=10)]
    """The contract language of the clause."""

    @model_validator(mode="after")
    def _consistent(self) -> SlaClause:
        if not model_path_exists(SlaTerms, self.field):
            raise ValueError(f"field: expected a field path of contract.sla; got {self.field!r}")
        if self.compare == "present":
            if self.value is not None:
                raise ValueError("compare 'present' takes no value")
            return self
        if self.value is None:
            raise ValueError(f"compare '{self.compare}' needs a value")
        if isinstance(self.value, str) and self.compare != "equal" and self.value not in self.order:
            raise ValueError(
                f"a text value compared '{self.compare}' needs 'order' (weakest first) holding "
                f"{self.value!r}"
            )
        return self


class ReportTemplate(_Model):
    """What the site's periodic report shows."""

    period: Literal["month"] = "month"
    """Report period."""
    sections: Annotated[list[ReportSection], Field(min_length=1)]
    """Sections of the monthly report, in order (`heatreuse report monthly`)."""
    notes: str = ""
    """What the pattern's report must make clear."""


class TemplateSpec(_Model):
    """The ``template:`` block of a template file."""

    name: Identifier
    """Template name (the file's stem)."""
    version: Annotated[int, Field(ge=1, le=1000)]
    """Version; a site records the version it was made from."""
    title: Annotated[str, Field(min_length=3)]
    """One line."""
    description: Annotated[str, Field(min_length=10)]
    """What the pattern is and when to use it."""
    customer_kind: CustomerKind
    """The customer kind of the pattern (a different one is always an error)."""
    reference_architecture: ReferenceArchitecture
    """The plant, from the racks to the customer."""
    sensor_package: SensorPackage
    """Points the site must and should have."""
    commissioning: Annotated[list[ChecklistItem], Field(min_length=1)]
    """The commissioning checklist."""
    maintenance: Annotated[list[TemplateTask], Field(min_length=1)]
    """The maintenance schedule."""
    sla: Annotated[list[SlaClause], Field(min_length=1)]
    """SLA clauses: values and contract language."""
    report: ReportTemplate
    """The report template."""

    @model_validator(mode="after")
    def _ids_unique(self) -> TemplateSpec:
        for what, ids in (
            ("commissioning", [c.id for c in self.commissioning]),
            ("maintenance", [t.id for t in self.maintenance]),
            ("sla", [c.id for c in self.sla]),
        ):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{what}: id(s) {dupes} given twice")
        return self


# --------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class Template:
    """A shipped template: its spec and its text."""

    spec: TemplateSpec
    text: str
    """The whole template file."""
    path: Path

    @property
    def name(self) -> str:
        """Template name."""
        return self.spec.name

    @property
    def version(self) -> int:
        """Template version."""
        return self.spec.version


def template_names() -> list[str]:
    """Names of the shipped templates, sorted."""
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.yaml"))


def parse_template(text: str, file: str) -> Template:
    """Parse a template file (skeleton plus ``template:`` block).

    Raises
    ------
    SiteConfigError
        Malformed YAML, no ``template:`` block or not the last key, a spec that
        does not validate (``FILE:LINE: template.field: ...``).
    """
    data, lines = parse_yaml_with_lines(text, file)
    if not isinstance(data, dict) or "template" not in data:
        raise SiteConfigError(f"{file}:1: template: required block missing")
    if list(data)[-1] != "template":
        raise SiteConfigError(
            f"{file}:{lines.line_of(('template',))}: template: expected the last top-level key "
            "(the skeleton before it is what `site new` writes)"
        )
    try:
        spec = TemplateSpec.model_validate(data["template"])
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            path: Path_ = ("template", *err["loc"])
            where = ".".join(str(p) for p in path)
            problems.append(f"{file}:{lines.line_of(path)}: {where}: {err['msg']}")
        raise SiteConfigError(problems) from None
    if spec.name != Path(file).stem:
        raise SiteConfigError(
            f"{file}:{lines.line_of(('template', 'name'))}: template.name: expected the file's "
            f"name {Path(file).stem!r}; got {spec.name!r}"
        )
    return Template(spec=spec, text=text, path=Path(file))


def load_template(name: str, where: str = "template") -> Template:
    """The shipped template ``name``.

    Parameters
    ----------
    name
        Template name (``heatreuse template list``).
    where
        What names the template in an error (``--template``, ``FILE:LINE: template.name``).

    Raises
    ------
    SiteConfigError
        No such template: ``WHERE: expected one of ...; got 'NAME'``.
    """
    names = template_names()
    if name not in names:
        raise SiteConfigError(
            f"{where}: expected one of the installed templates ({', '.join(names)}); got {name!r}"
        )
    path = TEMPLATE_DIR / f"{name}.yaml"
    return parse_template(path.read_text(encoding="utf-8"), str(path))


def list_templates() -> list[Template]:
    """Every shipped template, by name."""
    return [load_template(n) for n in template_names()]


# --------------------------------------------------------------------------- rendering
def _scalar_spans(text: str) -> Iterator[tuple[Path_, yaml.ScalarNode]]:
    """Every scalar value node of a (trusted, packaged) YAML text with its field path."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    seen: set[int] = set()

    def walk(node: yaml.Node, path: Path_) -> Iterator[tuple[Path_, yaml.ScalarNode]]:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            yield path, node
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                yield from walk(value, (*path, str(key.value)))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                yield from walk(item, (*path, i))

    if root is not None:
        yield from walk(root, ())


def _replace(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar that reads back as that same text (quoted when needed)."""
    plain_ok = (
        value
        and value == value.strip()
        and "\n" not in value
        and not value.startswith(("TODO(", "'", '"'))
    )
    if plain_ok:
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def _yaml_number(value: Any) -> Any:
    """A whole float as an int (``365`` rather than ``365.0`` in a written file)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def fill_placeholders(text: str, values: dict[str, str] | None = None) -> str:
    """Replace every ``TODO(example)`` of a site text by its example (or a given value).

    Parameters
    ----------
    text
        Site YAML with placeholders (a template's skeleton, or what ``site new`` wrote).
    values
        Dotted field path -> text to write there instead of the example.

    Returns
    -------
    str
        The text with each placeholder replaced; a quoted placeholder stays a text value.
    """
    values = values or {}
    edits = []
    for path, node in _scalar_spans(text):
        match = PLACEHOLDER.match(str(node.value))
        if match is None:
            continue
        dotted = ".".join(str(p) for p in path)
        example = " ".join(match.group("example").split())
        if dotted in values:
            new = yaml_scalar(values[dotted])
        elif node.style is None:
            new = example  # a plain scalar: the example is YAML as it would be written
        else:
            new = json.dumps(example, ensure_ascii=False)
        edits.append((node.start_mark.index, node.end_mark.index, new))
    return _replace(text, edits)


def skeleton(template: Template) -> str:
    """The template file up to its ``template:`` block: the site file skeleton."""
    root = yaml.compose(template.text, Loader=yaml.SafeLoader)
    assert isinstance(root, yaml.MappingNode)
    key = root.value[-1][0]
    start = template.text.rfind("\n", 0, key.start_mark.index) + 1
    return template.text[:start].rstrip() + "\n"


def render_site(
    template: Template,
    site_id: str,
    name: str | None = None,
    *,
    examples: bool = False,
) -> str:
    """The site file ``heatreuse site new`` writes.

    Parameters
    ----------
    template
        The template.
    site_id
        The site's id (``site.id``); checked by the caller.
    name
        The site's name (``site.name``); ``None`` leaves its placeholder.
    examples
        Fill every other placeholder with the template's example (a site to try the
        planner on, not a real site).

    Returns
    -------
    str
        The skeleton with ``site.id`` (and ``site.name``) filled in, the template's
        maintenance schedule and a ``template: {name, version}`` reference.
    """
    values = {"site.id": site_id}
    if name is not None:
        values["site.name"] = name
    body = skeleton(template)
    edits = []
    for path, node in _scalar_spans(body):
        dotted = ".".join(str(p) for p in path)
        if dotted in values:
            edits.append((node.start_mark.index, node.end_mark.index, yaml_scalar(values[dotted])))
    body = _replace(body, edits)
    if examples:
        body = fill_placeholders(body)
    spec = template.spec
    tasks = [
        {k: _yaml_number(v) for k, v in t.model_dump(exclude={"required"}).items()}
        for t in spec.maintenance
    ]
    schedule = yaml.safe_dump(
        {"maintenance_schedule": tasks}, sort_keys=False, allow_unicode=True, width=96
    )
    header = (
        f"# Made by `heatreuse site new --template {spec.name}` (template version "
        f"{spec.version}).\n"
        "# Every TODO(...) is this site's own value, to fill in (the brackets hold the\n"
        "# template's example); `heatreuse validate` lists those left and names where the\n"
        f"# site deviates from the template (`heatreuse template show {spec.name}`).\n"
    )
    return (
        header
        + body
        + "# The template's maintenance schedule (task, longest interval in days, standard).\n"
        + schedule
        + "template:\n"
        + f"  name: {spec.name}\n"
        + f"  version: {spec.version}\n"
    )


# --------------------------------------------------------------------------- checking
@dataclass(frozen=True)
class Deviation:
    """One way a site departs from its template."""

    path: str
    """Field path in the site file."""
    line: int
    """Line of that field (or of its nearest parent present)."""
    expected: str
    got: str
    required: bool
    """An error (the template requires the item) or a warning."""
    item: str
    """The template item (`sensor package`, `SLA clause 'availability'` ...)."""

    def message(self, file: str, template: str) -> str:
        """``FILE:LINE: path: expected ...; got ... (template NAME vN, ITEM, required)``."""
        level = "required" if self.required else "recommended"
        return (
            f"{file}:{self.line}: {self.path}: expected {self.expected}; got {self.got} "
            f"({template}, {self.item}, {level})"
        )


@dataclass(frozen=True)
class TemplateCheck:
    """The result of checking a site against its template."""

    template: Template | None
    """The installed template (none when the site names an unknown one)."""
    deviations: tuple[Deviation, ...]
    own_schedule: bool
    """The site gives its own maintenance schedule (else the template's applies)."""

    @property
    def label(self) -> str:
        """``template NAME vN``."""
        if self.template is None:
            return "template"
        return f"template {self.template.name} v{self.template.version}"

    @property
    def errors(self) -> list[Deviation]:
        """Deviations from required items."""
        return [d for d in self.deviations if d.required]

    @property
    def warnings(self) -> list[Deviation]:
        """Deviations from recommended items."""
        return [d for d in self.deviations if not d.required]

    def messages(self, file: str) -> list[str]:
        """One line per deviation, errors first."""
        return [d.message(file, self.label) for d in [*self.errors, *self.warnings]]


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part, None)
    return obj


def _split(dotted: str) -> Path_:
    return tuple(dotted.split("."))


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _is_given(value: Any) -> bool:
    return value is not None and not (isinstance(value, list | tuple) and not value)


class _Checker:
    def __init__(self, site: Site, template: Template, line_of: typing.Callable[[Path_], int]):
        self.site = site
        self.spec = template.spec
        self.line_of = line_of
        self.found: list[Deviation] = []

    def add(self, path: str | Path_, expected: str, got: str, required: bool, item: str) -> None:
        parts = _split(path) if isinstance(path, str) else path
        shown = path if isinstance(path, str) else _dotted(path)
        self.found.append(Deviation(shown, self.line_of(parts), expected, got, required, item))

    def run(self) -> list[Deviation]:
        self.customer()
        self.version()
        self.architecture()
        self.sensors()
        self.sla()
        self.maintenance()
        return self.found

    def customer(self) -> None:
        kind = self.site.customer.kind
        if kind != self.spec.customer_kind:
            self.add(
                "customer.kind",
                f"{self.spec.customer_kind!r} (the template's customer)",
                repr(kind),
                True,
                "customer kind",
            )

    def version(self) -> None:
        ref = self.site.template
        if ref is not None and ref.version != self.spec.version:
            self.add(
                "template.version",
                f"{self.spec.version} (the installed version; the site is checked against it)",
                str(ref.version),
                False,
                "template version",
            )

    def architecture(self) -> None:
        arch = self.spec.reference_architecture
        cooling = self.site.compute.cooling.architecture
        if arch.cooling is not None and cooling not in arch.cooling.architectures:
            self.add(
                "compute.cooling.architecture",
                "one of " + ", ".join(arch.cooling.architectures),
                repr(cooling),
                arch.cooling.required,
                "reference architecture, cooling",
            )
        for step in arch.chain:
            if step.site_path is None or _is_given(_get(self.site, step.site_path)):
                continue
            self.add(
                step.site_path,
                f"this part of the reference architecture ({step.step})",
                "none",
                step.required,
                "reference architecture",
            )

    def sensors(self) -> None:
        pkg = self.spec.sensor_package
        cfg: PointsConfig = self.site.points
        if cfg.package != pkg.package:
            self.add(
                "points.package",
                repr(pkg.package),
                repr(cfg.package),
                True,
                "sensor package",
            )
        have = {p.id for p in expand_points(self.site).points}
        for ids, required in ((pkg.required_points, True), (pkg.recommended_points, False)):
            for pid in ids:
                if pid in have:
                    continue
                if pid in cfg.remove:
                    path: Path_ = ("points", "remove", cfg.remove.index(pid))
                    got = "removed under points.remove"
                else:
                    path = ("points",)
                    got = "no such point in the site's point list"
                self.add(path, f"point {pid!r}", got, required, "sensor package")

    def sla(self) -> None:
        sla = self.site.contract.sla
        for clause in self.spec.sla:
            value = _get(sla, clause.field)
            path = f"contract.sla.{clause.field}"
            item = f"SLA clause {clause.id!r}"
            if clause.compare == "present":
                if not _is_given(value):
                    self.add(
                        path,
                        "a value (the template's clause needs one)",
                        "none",
                        clause.required,
                        item,
                    )
                continue
            want = clause.value
            if clause.compare == "equal":
                ok = value == want
                expected = _show(want)
            elif isinstance(want, str):
                order = clause.order
                rank = order.index(value) if isinstance(value, str) and value in order else None
                goal = order.index(want)
                if clause.compare == "at_least":
                    ok = rank is not None and rank >= goal
                    stronger = order[goal:]
                else:
                    ok = rank is not None and rank <= goal
                    stronger = order[: goal + 1]
                expected = (
                    "one of "
                    + ", ".join(repr(v) for v in stronger)
                    + f" (weakest to strongest: {', '.join(order)})"
                )
            else:
                limit = float(want) if want is not None else math.nan  # set: see SlaClause
                number = (
                    float(value)
                    if isinstance(value, int | float) and not isinstance(value, bool)
                    else math.nan
                )
                if clause.compare == "at_least":
                    ok = number >= limit
                    expected = f"at least {limit:g}"
                else:
                    ok = number <= limit
                    expected = f"at most {limit:g}"
            if not ok:
                got = _show(value) + (" (no such term)" if value is None else "")
                self.add(path, expected, got, clause.required, item)

    def maintenance(self) -> None:
        schedule = self.site.maintenance_schedule
        if schedule is None:
            return  # the template's schedule applies
        index = {t.id: (i, t) for i, t in enumerate(schedule)}
        for task in self.spec.maintenance:
            item = f"maintenance task {task.id!r}"
            if task.id not in index:
                standard = f"; {task.standard}" if task.standard else ""
                self.add(
                    "maintenance_schedule",
                    f"task {task.id!r} ({task.task}; every {task.interval_d:g} d{standard})",
                    "no such task",
                    task.required,
                    item,
                )
                continue
            i, own = index[task.id]
            if own.interval_d > task.interval_d:
                self.add(
                    ("maintenance_schedule", i, "interval_d"),
                    f"at most {task.interval_d:g} d",
                    f"{own.interval_d:g} d",
                    task.required,
                    item,
                )


def check_site(
    site: Site, template: Template, line_of: typing.Callable[[Path_], int] | None = None
) -> TemplateCheck:
    """Check a site against a template and name every deviation.

    Checks: the customer kind (always required); the template version (a warning);
    the reference architecture (cooling architecture, each chain link the site must
    have); the sensor package (package, required and recommended points of the
    expanded point list); each SLA clause (the site's `contract.sla` term no weaker
    than the template's); the maintenance schedule, when the site gives its own
    (each template task present, its interval no longer). Each is an error where the
    template marks it required, else a warning.

    Parameters
    ----------
    site
        A loaded, valid site.
    template
        The template to check against.
    line_of
        Field path -> line in the site file (for messages); default: line 1.
    """
    checker = _Checker(site, template, line_of or (lambda _path: 1))
    return TemplateCheck(
        template=template,
        deviations=tuple(checker.run()),
        own_schedule=site.maintenance_schedule is not None,
    )


def check_site_file(path: str | Path) -> tuple[Site, TemplateCheck | None]:
    """Load a site file and, when it names a template, check it against that template.

    Returns
    -------
    tuple
        The site and its :class:`TemplateCheck` (``None`` without a template reference).

    Raises
    ------
    SiteConfigError
        The site file itself is invalid (:func:`heatreuse.site.load_site`).
    """
    site = load_site(path)
    return site, check_loaded_site(site, path)


def check_loaded_site(site: Site, path: str | Path) -> TemplateCheck | None:
    """Check a site loaded from ``path`` against its template (``None`` without one).

    A template name that is not installed is one required deviation at ``template.name``.
    The file is read again for the line numbers of the messages.
    """
    if site.template is None:
        return None
    file = str(path)
    text = Path(path).read_bytes()[:MAX_SITE_FILE_BYTES].decode("utf-8")
    _data, lines = parse_yaml_with_lines(text, file)
    names = template_names()
    if site.template.name not in names:
        missing = Deviation(
            "template.name",
            lines.line_of(("template", "name")),
            f"one of the installed templates ({', '.join(names)})",
            repr(site.template.name),
            True,
            "template reference",
        )
        return TemplateCheck(template=None, deviations=(missing,), own_schedule=False)
    return check_site(site, load_template(site.template.name), lines.line_of)


def maintenance_schedule(site: Site) -> list[MaintenanceTask]:
    """The site's maintenance schedule: its own, else its template's, else none."""
    if site.maintenance_schedule is not None:
        return list(site.maintenance_schedule)
    if site.template is None or site.template.name not in template_names():
        return []
    spec = load_template(site.template.name).spec
    return [
        MaintenanceTask.model_validate(t.model_dump(exclude={"required"})) for t in spec.maintenance
    ]


__all__ = [
    "REPORT_SECTIONS",
    "TEMPLATE_DIR",
    "Deviation",
    "Template",
    "TemplateCheck",
    "TemplateSpec",
    "check_loaded_site",
    "check_site",
    "check_site_file",
    "fill_placeholders",
    "list_templates",
    "load_template",
    "maintenance_schedule",
    "parse_template",
    "render_site",
    "skeleton",
    "template_names",
    "yaml_scalar",
]
