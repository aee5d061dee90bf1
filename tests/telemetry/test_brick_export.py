"""The Brick Turtle export parses, uses only current classes of the bundled Brick, and
passes brickschema's SHACL validator (the ontology is the one brickschema bundles: nothing
is fetched)."""

from __future__ import annotations

from pathlib import Path

import brickschema
import pytest
from rdflib import OWL, RDF, RDFS, Graph, Namespace

from heatreuse.site import Site, expand_points, load_site_text
from heatreuse.telemetry.brick import BRICK, QUDT, REC, UNIT, brick_turtle, site_namespace

BRICK_NS = str(BRICK)
SH = Namespace("http://www.w3.org/ns/shacl#")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"


@pytest.fixture(scope="module")
def ontology() -> brickschema.Graph:
    # The Brick version brickschema bundles (offline); 1.4+ names.
    return brickschema.Graph(load_brick=True)


def test_turtle_parses_and_uses_only_existing_current_classes(site: Site, ontology: Graph) -> None:
    sp = expand_points(site)
    g = Graph()
    g.parse(data=brick_turtle(sp, site.site.name), format="turtle")
    used = {o for o in g.objects(None, RDF.type)} - {QUDT.Unit}
    assert used
    for cls in used:
        assert (cls, RDF.type, OWL.Class) in ontology or (cls, RDF.type, RDFS.Class) in ontology, (
            f"{cls} is not a class in the bundled Brick"
        )
        deprecated = list(ontology.objects(cls, OWL.deprecated))
        assert not deprecated, f"{cls} is deprecated in the bundled Brick"
    ns = site_namespace(site.id)
    for p in sp.points:
        assert (ns[p.id], BRICK.isPointOf, ns[p.equipment]) in g or (
            ns[p.equipment],
            REC.includes,
            ns[p.id],
        ) in g, p.id
    assert (ns["meter"], RDF.type, BRICK.Thermal_Power_Meter) in g
    assert (ns["meter.heat_energy_kwh"], RDF.type, BRICK.Thermal_Energy_Usage_Sensor) in g
    assert (ns["hot-water-loop"], REC.includes, ns["hx"]) in g  # a system includes its parts
    assert (ns["it-loop"], REC.includes, ns["it_loop.supply_temp_c"]) in g
    assert (ns["meter"], BRICK.meters, ns["customer"]) in g
    assert (ns["site"], RDF.type, REC.Site) in g  # not the deprecated brick:Site
    assert (ns["site"], RDF.type, BRICK.Site) not in g


def test_export_passes_the_brickschema_validator(ontology: brickschema.Graph) -> None:
    """Every relation and unit of the model as Brick 1.5's shapes want them; a volume
    counter in m3 carries QUDT unit:M3, which Brick lists among volume units."""
    site = load_site_text(
        EXAMPLE.read_text()
        + """
points:
  entries:
    - id: meter.volume_m3
      equipment: meter
      quantity: volume
      unit: m3
      kind: counter
      brick_class: Water_Usage_Sensor
      min_value: 0
      max_value: 100000000
      sample_interval_s: 60
""",
        "pool-volume.yaml",
    )
    sp = expand_points(site)
    model = Graph()
    model.parse(data=brick_turtle(sp, site.site.name), format="turtle")
    ns = site_namespace(site.id)
    assert (ns["meter.volume_m3"], BRICK.hasUnit, UNIT.M3) in model
    assert (UNIT.M3, RDF.type, QUDT.Unit) in model
    assert any(UNIT.M3 in list(ontology.items(lst)) for lst in ontology.objects(None, SH["in"])), (
        "unit:M3 is not among the units the bundled Brick allows"
    )
    assert not [t for t in model if t in ontology]  # so the model can be taken out again
    ontology += model  # the bundled Brick + the model, validated together (as brickschema does)
    try:
        _conforms, results, _text = ontology.validate()
    finally:
        ontology -= model
    ours = set(model.subjects())
    problems = [
        f"{results.value(r, SH.focusNode)}: {results.value(r, SH.resultMessage)}"
        for r in results.subjects(RDF.type, SH.ValidationResult)
        if results.value(r, SH.focusNode) in ours
    ]
    # (results on nodes of the ontology itself come from the QUDT vocabulary, which Brick
    # imports and brickschema does not bundle)
    assert problems == []


def test_issue_class_names_exist_in_bundled_brick(ontology: Graph) -> None:
    # The names the issue and operations.md give; the two *_Supply/_Return_* ones are
    # deprecated since Brick 1.4 and replaced by Leaving_/Entering_Hot_Water_..., which
    # the package uses.
    b = Namespace(BRICK_NS)
    for name in (
        "Hot_Water_Loop",
        "Plate_Heat_Exchanger",
        "Hot_Water_Pump",
        "Pump_VFD",
        "Thermal_Power_Meter",
        "Hot_Water_Flow_Sensor",
        "Thermal_Power_Sensor",
        "Thermal_Energy_Usage_Sensor",
        "Hot_Water_Supply_Temperature_Sensor",
        "Hot_Water_Return_Temperature_Sensor",
    ):
        assert (b[name], RDF.type, OWL.Class) in ontology, name
    assert (
        b.Hot_Water_Supply_Temperature_Sensor,
        b.isReplacedBy,
        b.Leaving_Hot_Water_Temperature_Sensor,
    ) in ontology
