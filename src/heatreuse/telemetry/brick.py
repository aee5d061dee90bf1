"""Export a site's point registry as a Brick model (RDF Turtle).

The graph holds the site (``rec:Site``), its equipment with their Brick classes
and relations, and every point with its Brick class, its unit (QUDT) and
Haystack tags and registry fields under the ``hr:`` namespace
(``https://heatreuse.org/schema#``).

Brick version: class names are taken from Brick 1.4/1.5 (the ontology bundled
with ``brickschema`` 0.8; the export is checked with its SHACL validator in the
tests). ``Hot_Water_Supply_Temperature_Sensor`` and
``Hot_Water_Return_Temperature_Sensor`` (named in older documents) are
deprecated since Brick 1.4 in favour of ``Leaving_Hot_Water_Temperature_Sensor``
and ``Entering_Hot_Water_Temperature_Sensor``; the package uses the current
names. Brick has no heat meter class: the meter is a ``Thermal_Power_Meter``.
The site is a RealEstateCore ``rec:Site`` (Brick 1.4 deprecates ``brick:Site``).

Relations (the registry's ``part_of``, ``feeds``, ``meters``), as Brick 1.5's
shapes allow them:

* equipment and its points: ``brick:isPointOf``; equipment is located at the
  site (``brick:hasLocation``);
* loops and systems (classes named ``*_Loop``/``*_System``: collections in
  Brick 1.4+) *include* their points and parts (``rec:includes``), are not
  located, and cannot be fed; a feed into a collection is kept as
  ``hr:feeds``, and a loop inside a loop (Brick: loops include only
  equipment, points and locations) as ``hr:partOf``;
* other parts: ``brick:hasPart``; other feeds: ``brick:feeds``;
  ``brick:meters``.

Units are QUDT units, each typed ``qudt:Unit`` in the model (Brick's shapes
check that; the QUDT vocabulary itself is not bundled).

References
----------
Brick Schema, https://brickschema.org/ontology (relations hasPart, feeds,
hasPoint/isPointOf, meters/isMeteredBy; collections and rec:includes since
1.4); QUDT units vocabulary, http://qudt.org/vocab/unit/; RealEstateCore
``rec:Site`` and ``rec:includes`` (https://w3id.org/rec).
"""

from __future__ import annotations

from rdflib import RDF, RDFS, Graph, Literal, Namespace, URIRef
from rdflib.namespace import XSD

from heatreuse.site.points import SitePoints

BRICK = Namespace("https://brickschema.org/schema/Brick#")
REC = Namespace("https://w3id.org/rec#")
UNIT = Namespace("http://qudt.org/vocab/unit/")
QUDT = Namespace("http://qudt.org/schema/qudt/")
HR = Namespace("https://heatreuse.org/schema#")

#: Point unit -> QUDT unit.
QUDT_UNITS: dict[str, URIRef] = {
    "degC": UNIT["DEG_C"],
    "K": UNIT["K"],
    "W": UNIT["W"],
    "kW": UNIT["KiloW"],
    "MW": UNIT["MegaW"],
    "Wh": UNIT["W-HR"],
    "kWh": UNIT["KiloW-HR"],
    "MWh": UNIT["MegaW-HR"],
    "J": UNIT["J"],
    "MJ": UNIT["MegaJ"],
    "GJ": UNIT["GigaJ"],
    "m3": UNIT["M3"],
    "L": UNIT["L"],
    "m3/h": UNIT["M3-PER-HR"],
    "m3/s": UNIT["M3-PER-SEC"],
    "L/s": UNIT["L-PER-SEC"],
    "L/min": UNIT["L-PER-MIN"],
    "L/h": UNIT["L-PER-HR"],
    "bar": UNIT["BAR"],
    "Pa": UNIT["PA"],
    "kPa": UNIT["KiloPA"],
    "1": UNIT["UNITLESS"],
    "%": UNIT["PERCENT"],
}


def _brick(name: str) -> URIRef:
    if ":" in name:
        prefix, local = name.split(":", 1)
        if prefix == "rec":
            return REC[local]
        return BRICK[local]
    return BRICK[name]


def is_collection_class(brick_class: str) -> bool:
    """A Brick loop or system (a ``rec:Collection`` since Brick 1.4), by its name."""
    local = brick_class.split(":", 1)[-1]
    return local in ("Loop", "System", "Collection") or local.endswith(("_Loop", "_System"))


def _is_loop(brick_class: str) -> bool:
    local = brick_class.split(":", 1)[-1]
    return local == "Loop" or local.endswith("_Loop")


def site_namespace(site_id: str) -> Namespace:
    """Namespace of a site's entities: ``urn:heatreuse:<site_id>:``."""
    return Namespace(f"urn:heatreuse:{site_id}:")


def brick_graph(site_points: SitePoints, site_name: str | None = None) -> Graph:
    """Build the Brick graph of a site's points.

    Parameters
    ----------
    site_points
        The expanded point list (:func:`heatreuse.site.expand_points`).
    site_name
        Label of the site entity.

    Returns
    -------
    rdflib.Graph
        Site, equipment and points with Brick classes and relations.
    """
    g = Graph()
    g.bind("brick", BRICK)
    g.bind("rec", REC)
    g.bind("unit", UNIT)
    g.bind("qudt", QUDT)
    g.bind("hr", HR)
    ns = site_namespace(site_points.site_id)
    g.bind("site", ns)
    site = ns["site"]
    g.add((site, RDF.type, REC.Site))
    g.add((site, RDFS.label, Literal(site_name or site_points.site_id)))
    g.add((site, HR.siteId, Literal(site_points.site_id)))
    classes = {e.id: e.brick_class for e in site_points.equipment}

    def collection(eq_id: str) -> bool:
        return is_collection_class(classes.get(eq_id, ""))

    for e in site_points.equipment:
        node = ns[e.id]
        g.add((node, RDF.type, _brick(e.brick_class)))
        g.add((node, RDFS.label, Literal(e.name or e.id)))
        g.add((node, HR.equipmentId, Literal(e.id)))
        if not collection(e.id):
            g.add((node, BRICK.hasLocation, site))
        if e.part_of is not None:
            parent = ns[e.part_of]
            if not collection(e.part_of):
                g.add((parent, BRICK.hasPart, node))
            elif _is_loop(classes[e.part_of]) and collection(e.id):
                g.add((node, HR.partOf, parent))
            else:
                g.add((parent, REC.includes, node))
        for target in e.feeds:
            g.add((node, HR.feeds if collection(target) else BRICK.feeds, ns[target]))
        if e.meters is not None:
            g.add((node, BRICK.meters, ns[e.meters]))
    units: set[URIRef] = set()
    for p in site_points.points:
        node = ns[p.id]
        g.add((node, RDF.type, _brick(p.brick_class)))
        g.add((node, RDFS.label, Literal(p.description or p.id)))
        if collection(p.equipment):
            g.add((ns[p.equipment], REC.includes, node))
        else:
            g.add((node, BRICK.isPointOf, ns[p.equipment]))
        unit = QUDT_UNITS.get(p.unit)
        if unit is not None:
            g.add((node, BRICK.hasUnit, unit))
            units.add(unit)
        g.add((node, HR.pointId, Literal(p.id)))
        g.add((node, HR.kind, Literal(p.kind)))
        g.add((node, HR.quantity, Literal(p.quantity)))
        g.add((node, HR.unit, Literal(p.unit)))
        g.add((node, HR.minValue, Literal(p.min_value, datatype=XSD.double)))
        g.add((node, HR.maxValue, Literal(p.max_value, datatype=XSD.double)))
        g.add((node, HR.sampleIntervalSeconds, Literal(p.sample_interval_s, datatype=XSD.double)))
        g.add((node, HR.mqttTopic, Literal(p.mqtt_topic)))
        g.add((node, HR.fileColumn, Literal(p.file_column)))
        if p.haystack_tags:
            g.add((node, HR.haystackTags, Literal(" ".join(p.haystack_tags))))
        if p.accuracy_class is not None:
            g.add((node, HR.accuracyClass, Literal(p.accuracy_class)))
        reg = p.source.modbus
        if reg is not None:
            g.add(
                (
                    node,
                    HR.modbusRegister,
                    Literal(
                        f"{reg.device}:{reg.table}:{reg.address}:{reg.type}:"
                        f"{reg.word_order or 'device'}:{reg.scale_source()}"
                    ),
                )
            )
    for unit in units:
        g.add((unit, RDF.type, QUDT.Unit))
    return g


def brick_turtle(site_points: SitePoints, site_name: str | None = None) -> str:
    """The Brick model of a site's points as Turtle text."""
    return brick_graph(site_points, site_name).serialize(format="turtle")
