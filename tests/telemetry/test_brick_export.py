"""The Brick Turtle export parses, and every class it uses exists in the bundled Brick."""

from __future__ import annotations

import brickschema
import pytest
from rdflib import OWL, RDF, Graph, Namespace

from heatreuse.site import Site, expand_points
from heatreuse.telemetry.brick import BRICK, brick_turtle, site_namespace

BRICK_NS = str(BRICK)


@pytest.fixture(scope="module")
def ontology() -> Graph:
    # The Brick version brickschema bundles (offline); 1.4+ names.
    return brickschema.Graph(load_brick=True)


def test_turtle_parses_and_uses_only_existing_current_classes(site: Site, ontology: Graph) -> None:
    sp = expand_points(site)
    g = Graph()
    g.parse(data=brick_turtle(sp, site.site.name), format="turtle")
    used = {o for o in g.objects(None, RDF.type)}
    assert used
    for cls in used:
        assert (cls, RDF.type, OWL.Class) in ontology, f"{cls} is not a class in Brick"
        if str(cls).startswith(BRICK_NS) and cls != BRICK.Site:
            # brick:Site is deprecated for rec:Site, which brickschema does not bundle
            deprecated = list(ontology.objects(cls, OWL.deprecated))
            assert not deprecated, f"{cls} is deprecated in the bundled Brick"
    ns = site_namespace(site.id)
    for p in sp.points:
        assert (ns[p.id], BRICK.isPointOf, ns[p.equipment]) in g
    assert (ns["meter"], RDF.type, BRICK.Thermal_Power_Meter) in g
    assert (ns["meter.heat_energy_kwh"], RDF.type, BRICK.Thermal_Energy_Usage_Sensor) in g
    assert (ns["hot-water-loop"], BRICK.hasPart, ns["hx"]) in g
    assert (ns["meter"], BRICK.meters, ns["customer"]) in g
    assert (ns["site"], RDF.type, BRICK.Site) in g


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
