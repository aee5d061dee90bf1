"""The point registry: one mapping from every source key to a canonical point.

Vendor names stop here (ARCHITECTURE.md house rule 5). An adapter hands the
pipeline either a canonical point id or a *source key*:

===================================  ==========================================
key                                  meaning
===================================  ==========================================
``hx.secondary_supply_temp_c``       the canonical point id itself
``mqtt:<topic suffix>``              e.g. ``mqtt:rack/tank-a/it_power_w``
                                     (topic below the site prefix)
``modbus:<device>:<address>``        e.g. ``modbus:heat-meter:8`` (first register; a
                                     holding register)
``modbus:<device>:input:<address>``  an input register (function code 4)
``file:<column>``                    a column name in a wide file
===================================  ==========================================

The registry resolves single keys (:meth:`PointRegistry.resolve`) and whole
arrays of keys at hash speed (:meth:`PointRegistry.resolve_many`), and holds the
per-point arrays the vectorised validation needs (ranges, kinds).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from heatreuse.errors import SiteConfigError
from heatreuse.site import Site, expand_points
from heatreuse.site.points import Point, SitePoints


class PointRegistry:
    """Immutable lookup of a site's points.

    Parameters
    ----------
    site_points
        The expanded point list (:func:`heatreuse.site.expand_points`).

    Raises
    ------
    SiteConfigError
        Two points claim the same MQTT topic or file column.
    """

    def __init__(self, site_points: SitePoints) -> None:
        self.site_id: str = site_points.site_id
        self.site_points = site_points
        self.points: tuple[Point, ...] = site_points.points
        self.ids: tuple[str, ...] = tuple(p.id for p in self.points)
        self._by_id = {p.id: p for p in self.points}
        keys: dict[str, int] = {}
        problems: list[str] = []

        def add(key: str, i: int, what: str) -> None:
            if key in keys and keys[key] != i:
                problems.append(
                    f"site '{self.site_id}': {what} of point '{self.ids[i]}' is already used by "
                    f"point '{self.ids[keys[key]]}'"
                )
            keys[key] = i

        for i, p in enumerate(self.points):
            add(p.id, i, "id")
        for i, p in enumerate(self.points):
            add(f"mqtt:{p.mqtt_topic}", i, f"MQTT topic '{p.mqtt_topic}'")
            add(f"file:{p.file_column}", i, f"file column '{p.file_column}'")
            if p.source.modbus is not None:
                reg = p.source.modbus
                add(reg.source_key, i, f"Modbus {reg.table} register {reg.address}")
        if problems:
            raise SiteConfigError(problems)
        self._keys = keys
        self._key_index = pd.Index(list(keys))
        self._key_target = np.fromiter(keys.values(), dtype=np.int64, count=len(keys))
        #: Lowest and highest physical value per point [the point's unit].
        self.min_values: npt.NDArray[np.float64] = np.array(
            [p.min_value for p in self.points], dtype=np.float64
        )
        self.max_values: npt.NDArray[np.float64] = np.array(
            [p.max_value for p in self.points], dtype=np.float64
        )
        #: True where the point is a 0/1 status.
        self.is_status: npt.NDArray[np.bool_] = np.array(
            [p.kind == "status" for p in self.points], dtype=bool
        )
        #: True where the point is a monotonic counter (energy register).
        self.is_counter: npt.NDArray[np.bool_] = np.array(
            [p.kind == "counter" for p in self.points], dtype=bool
        )
        self._ids_array = np.array(self.ids, dtype=object)

    @classmethod
    def from_site(cls, site: Site) -> PointRegistry:
        """Build the registry of a site (package expanded, entries applied)."""
        return cls(expand_points(site))

    def __len__(self) -> int:
        return len(self.points)

    def __contains__(self, point_id: object) -> bool:
        return point_id in self._by_id

    def get(self, point_id: str) -> Point | None:
        """The point with this canonical id, or None."""
        return self._by_id.get(point_id)

    def resolve(self, key: str) -> str | None:
        """Canonical point id for a point id or source key; None when unknown."""
        i = self._keys.get(key)
        return None if i is None else self.ids[i]

    def resolve_many(
        self, keys: Sequence[str] | npt.NDArray[np.object_] | pd.Categorical
    ) -> npt.NDArray[np.int64]:
        """Point index (into :attr:`points`) per key; -1 where the key is unknown.

        Vectorised: one hash lookup per key, or per category for a
        :class:`pandas.Categorical` (code -1 = missing key -> -1).
        """
        if isinstance(keys, pd.Categorical):
            per_cat = self.resolve_many(np.asarray(keys.categories, dtype=object))
            codes = np.asarray(keys.codes, dtype=np.int64)
            if len(per_cat) == 0:
                return np.full(len(codes), -1, dtype=np.int64)
            return np.where(codes >= 0, per_cat[np.maximum(codes, 0)], -1)
        arr = pd.Index(keys, dtype=object) if not isinstance(keys, pd.Index) else keys
        pos = self._key_index.get_indexer(arr)
        out = np.where(pos >= 0, self._key_target[np.maximum(pos, 0)], -1)
        return out.astype(np.int64, copy=False)

    def ids_of(self, index: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
        """Canonical ids for point indices (all must be valid)."""
        result: npt.NDArray[np.object_] = self._ids_array[index]
        return result

    def source_keys(self) -> Iterable[str]:
        """Every key the registry resolves (ids and source keys)."""
        return iter(self._keys)
