"""Export a site's point registry as a Brick model (RDF Turtle).

The graph holds the site (``brick:Site``), its equipment with their Brick classes
and relations (``brick:hasPart``, ``brick:feeds``, ``brick:meters``), and every
point with its Brick class, ``brick:isPointOf``, its unit (QUDT) and Haystack
tags and registry fields under the ``hr:`` namespace
(``https://heatreuse.org/schema#``).

Brick version: class names are taken from Brick 1.4/1.5 (the ontology bundled
with ``brickschema`` 0.8). ``Hot_Water_Supply_Temperature_Sensor`` and
``Hot_Water_Return_Temperature_Sensor`` (named in older documents) are
deprecated since Brick 1.4 in favour of ``Leaving_Hot_Water_Temperature_Sensor``
and ``Entering_Hot_Water_Temperature_Sensor``; the package uses the current
names. Brick has no heat meter class: the meter is a ``Thermal_Power_Meter``.
The site is a ``brick:Site``, which Brick 1.4+ deprecates in favour of
``rec:Site`` from RealEstateCore; ``brickschema`` does not bundle REC, so the
Brick class is kept (it still exists, and tools resolve it).

References
----------
Brick Schema, https://brickschema.org/ontology (relations hasPart, feeds,
hasPoint/isPointOf, meters/isMeteredBy); QUDT units vocabulary,
http://qudt.org/vocab/unit/; RealEstateCore ``rec:Site`` (https://w3id.org/rec).
"""

from __future__ import annotations

from rdflib import RDF, RDFS, Graph, Literal, Namespace, URIRef
from rdflib.namespace import XSD

from heatreuse.site.points import SitePoints

BRICK = Namespace("https://brickschema.org/schema/Brick#")
REC = Namespace("https://w3id.org/rec#")
UNIT = Namespace("http://qudt.org/vocab/unit/")
HR = Namespace("https://heatreuse.org/schema#")

#: Point unit -> QUDT unit.
QUDT_UNITS: dict[str, URIRef] = {
    "degC": UNIT["DEG_C"],
    "W": UNIT["W"],
    "kW": UNIT["KiloW"],
    "kWh": UNIT["KiloW-HR"],
    "Wh": UNIT["W-HR"],
    "m3/h": UNIT["M3-PER-HR"],
    "bar": UNIT["BAR"],
    "Pa": UNIT["PA"],
    "1": UNIT["UNITLESS"],
    "%": UNIT["PERCENT"],
    "K": UNIT["K"],
}


def _brick(name: str) -> URIRef:
    if ":" in name:
        prefix, local = name.split(":", 1)
        if prefix == "rec":
            return REC[local]
        return BRICK[local]
    return BRICK[name]


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
    g.bind("hr", HR)
    ns = site_namespace(site_points.site_id)
    g.bind("site", ns)
    site = ns["site"]
    g.add((site, RDF.type, BRICK.Site))
    g.add((site, RDFS.label, Literal(site_name or site_points.site_id)))
    g.add((site, HR.siteId, Literal(site_points.site_id)))
    for e in site_points.equipment:
        node = ns[e.id]
        g.add((node, RDF.type, _brick(e.brick_class)))
        g.add((node, RDFS.label, Literal(e.name or e.id)))
        g.add((node, HR.equipmentId, Literal(e.id)))
        g.add((node, BRICK.hasLocation, site))
        if e.part_of is not None:
            g.add((ns[e.part_of], BRICK.hasPart, node))
        for target in e.feeds:
            g.add((node, BRICK.feeds, ns[target]))
        if e.meters is not None:
            g.add((node, BRICK.meters, ns[e.meters]))
    for p in site_points.points:
        node = ns[p.id]
        g.add((node, RDF.type, _brick(p.brick_class)))
        g.add((node, RDFS.label, Literal(p.description or p.id)))
        g.add((node, BRICK.isPointOf, ns[p.equipment]))
        unit = QUDT_UNITS.get(p.unit)
        if unit is not None:
            g.add((node, BRICK.hasUnit, unit))
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
                        f"{reg.word_order or 'device'}:scale={reg.scale:g}:{reg.unit}"
                    ),
                )
            )
    return g


def brick_turtle(site_points: SitePoints, site_name: str | None = None) -> str:
    """The Brick model of a site's points as Turtle text."""
    return brick_graph(site_points, site_name).serialize(format="turtle")
