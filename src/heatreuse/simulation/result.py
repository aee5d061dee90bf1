"""The result of a simulation run: a UTC-indexed frame plus exact float64 totals.

Columns carry their unit in the name. Powers are means over the step
(so ``power_w * step_s`` is the step's energy), temperatures are means over
the step's sub-steps. Values are float32 (7 significant digits, far finer
than any input), which keeps one site-year at 60 s steps near 70 MB; the
energy totals are accumulated inside the kernel in float64, so
:meth:`SimulationResult.totals` and :meth:`SimulationResult.energy_balance`
do not depend on the float32 rounding of the frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from heatreuse.simulation import kernel as K
from heatreuse.simulation.inputs import SimulationState
from heatreuse.units import J_PER_KWH, SECONDS_PER_HOUR

#: Mode codes and their names (see :mod:`heatreuse.simulation.kernel`).
MODE_NAMES: dict[int, str] = {
    K.MODE_NORMAL: "normal",
    K.MODE_DEGRADED: "degraded",
    K.MODE_REJECT: "reject",
    K.MODE_CUSTOMER_DISCONNECTED: "customer_disconnected",
    K.MODE_BACKUP: "backup",
    K.MODE_THROTTLED: "throttled",
    K.MODE_DOWN: "down",
}
MODE_CODES: dict[str, int] = {name: code for code, name in MODE_NAMES.items()}

#: Column name of each kernel output row (``kernel.O_*``), units in the names.
OUTPUT_COLUMNS: dict[int, str] = {
    K.O_IT_POWER_W: "it_power_w",
    K.O_IT_THROTTLED_W: "it_power_throttled_w",
    K.O_HEAT_CAPTURED_W: "heat_captured_w",
    K.O_HEAT_TO_ROOM_W: "heat_to_room_w",
    K.O_HX_HEAT_W: "hx_heat_w",
    K.O_HEAT_REJECTED_W: "heat_rejected_w",
    K.O_LOOP_TEMP_C: "coolant_return_temp_c",
    K.O_COOLANT_SUPPLY_TEMP_C: "coolant_supply_temp_c",
    K.O_TANK_TOP_C: "tank_temp_top_c",
    K.O_TANK_BOTTOM_C: "tank_temp_bottom_c",
    K.O_TANK_MEAN_C: "tank_temp_mean_c",
    K.O_SUPPLY_TEMP_C: "supply_temp_c",
    K.O_SUPPLY_MEASURED_C: "supply_temp_measured_c",
    K.O_CUSTOMER_SUPPLY_C: "customer_supply_temp_c",
    K.O_RETURN_TEMP_C: "return_temp_c",
    K.O_HEAT_DEMAND_W: "heat_demand_w",
    K.O_HEAT_DELIVERED_W: "heat_delivered_w",
    K.O_BACKUP_HEAT_W: "backup_heat_w",
    K.O_UNMET_HEAT_W: "unmet_heat_w",
    K.O_PIPE_LOSS_W: "pipe_loss_w",
    K.O_TANK_LOSS_W: "tank_loss_w",
    K.O_HP_HEAT_W: "heat_pump_heat_w",
    K.O_HP_ELECTRICITY_W: "heat_pump_electricity_w",
    K.O_PUMP_ELECTRICITY_W: "pump_electricity_w",
    K.O_COOLING_ELECTRICITY_W: "cooling_electricity_w",
    K.O_OTHER_ELECTRICITY_W: "other_electricity_w",
    K.O_TOTAL_ELECTRICITY_W: "total_electricity_w",
    K.O_FLOW_PRIMARY_M3_PER_H: "flow_primary_m3_per_h",
    K.O_FLOW_SECONDARY_M3_PER_H: "flow_secondary_m3_per_h",
    K.O_FLOW_CUSTOMER_M3_PER_H: "flow_customer_m3_per_h",
    K.O_BACKUP_FUEL_W: "backup_fuel_w",
}
assert len(OUTPUT_COLUMNS) == K.N_OUT


def build_frame(
    index: pd.DatetimeIndex,
    out: npt.NDArray[np.float32],
    mode: npt.NDArray[np.int8],
    mode_flags: npt.NDArray[np.uint8],
    layers: npt.NDArray[np.float32] | None,
    customer_operating: npt.NDArray[np.bool_] | None = None,
) -> pd.DataFrame:
    """Wrap kernel output arrays in a DataFrame without copying the float block."""
    names = [OUTPUT_COLUMNS[k] for k in range(K.N_OUT)]
    frame = pd.DataFrame(out.T, index=index, columns=names, copy=False)
    extra: dict[str, np.ndarray] = {"mode": mode, "mode_flags": mode_flags}
    if customer_operating is not None:
        extra["customer_operating"] = customer_operating
    if layers is not None and layers.shape[0] > 0:
        for j in range(layers.shape[0]):
            extra[f"tank_layer_{j}_temp_c"] = layers[j]
    frame = pd.concat([frame, pd.DataFrame(extra, index=index, copy=False)], axis=1)
    return frame


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """A simulation run: per-step frame, exact totals, start and end state.

    Attributes
    ----------
    frame
        UTC-indexed per-step values (units in column names); ``mode`` is an
        int8 code (:data:`MODE_NAMES`), ``mode_flags`` a bit set of every mode
        active in the step (bit ``1 << code``), ``customer_operating`` the
        demand frame's ``operating`` flag (inside the customer's operating
        hours), carried through for SLA evaluation.
    step_s
        Step length [s].
    totals_j
        Kernel totals (``kernel.T_*``): energies [J], times [s], float64.
    initial_state, final_state
        Plant state at the start and the end of the run.
    stored_heat_start_j, stored_heat_end_j
        Heat stored in tank and loop at start and end (relative to 0 C) [J].
    site_id
        The site simulated.
    """

    frame: pd.DataFrame
    step_s: int
    totals_j: npt.NDArray[np.float64]
    initial_state: SimulationState
    final_state: SimulationState
    stored_heat_start_j: float
    stored_heat_end_j: float
    site_id: str = ""
    params: Mapping[str, float] = field(default_factory=dict)

    mode_names = MODE_NAMES

    def mode_name(self) -> pd.Series:
        """The mode of each step by name (categorical)."""
        cats = pd.Categorical.from_codes(
            self.frame["mode"].to_numpy(dtype=np.int8),
            categories=pd.Index([MODE_NAMES[i] for i in range(K.N_MODES)]),
        )
        return pd.Series(cats, index=self.frame.index, name="mode_name")

    def _kwh(self, k: int) -> float:
        return float(self.totals_j[k] / J_PER_KWH)

    def time_in_mode_h(self) -> dict[str, float]:
        """Hours spent in each mode (the step's reported mode; sums to the duration) [h]."""
        return {
            f"{MODE_NAMES[m]}_h": float(self.totals_j[K.T_MODE_0_S + m] / SECONDS_PER_HOUR)
            for m in range(K.N_MODES)
        }

    def energy_balance(self) -> dict[str, float]:
        """The plant's energy balance over the run [kWh] and its residual.

        Equation (all energies over the run)::

            E_IT + W_heat_pump = Q_delivered + Q_rejected + Q_room
                                 + Q_pipe_loss + Q_tank_loss + dU_stored

        E_IT: IT electricity (all of it ends as heat); W_heat_pump: heat pump
        electricity (ends in the water it lifts); Q_room: IT heat not captured
        to water; dU_stored: change of heat stored in tank and primary loop.
        Pump shaft work and cooling electricity are not heat inputs in the
        model (neglected: pump work heats the water by < 1 % of captured
        heat). Backup heat is an input on the customer side, outside this
        balance: ``customer_heat_supplied_kwh = heat_delivered_kwh +
        backup_heat_kwh``.

        Returns
        -------
        dict
            inputs, outputs (kWh), ``balance_residual_kwh`` (inputs minus
            outputs) and ``balance_residual_fraction`` (of the inputs).
        """
        inputs = self._kwh(K.T_IT_J) + self._kwh(K.T_HP_ELECTRICITY_J)
        stored = (self.stored_heat_end_j - self.stored_heat_start_j) / J_PER_KWH
        outputs = {
            "heat_delivered_kwh": self._kwh(K.T_DELIVERED_J),
            "heat_rejected_kwh": self._kwh(K.T_REJECTED_J),
            "heat_to_room_kwh": self._kwh(K.T_ROOM_J),
            "pipe_loss_kwh": self._kwh(K.T_PIPE_LOSS_J),
            "tank_loss_kwh": self._kwh(K.T_TANK_LOSS_J),
            "stored_heat_change_kwh": stored,
        }
        residual = inputs - sum(outputs.values())
        return {
            "it_energy_kwh": self._kwh(K.T_IT_J),
            "heat_pump_electricity_kwh": self._kwh(K.T_HP_ELECTRICITY_J),
            "inputs_kwh": inputs,
            **outputs,
            "outputs_kwh": sum(outputs.values()),
            "balance_residual_kwh": residual,
            "balance_residual_fraction": residual / inputs if inputs > 0 else 0.0,
            "backup_heat_kwh": self._kwh(K.T_BACKUP_J),
            "customer_heat_supplied_kwh": self._kwh(K.T_DELIVERED_J) + self._kwh(K.T_BACKUP_J),
        }

    def totals(self) -> dict[str, float]:
        """Energies over the run [kWh], time in each mode [h] and the balance residual.

        ``total_energy_kwh`` = IT + cooling + pumps + other + heat pump
        electricity (the site's metered electricity).
        """
        bal = self.energy_balance()
        it = self._kwh(K.T_IT_J)
        cooling = self._kwh(K.T_COOLING_ELECTRICITY_J)
        pumps = self._kwh(K.T_PUMP_ELECTRICITY_J)
        other = self._kwh(K.T_OTHER_ELECTRICITY_J)
        hp = self._kwh(K.T_HP_ELECTRICITY_J)
        demand = self._kwh(K.T_DEMAND_J)
        out: dict[str, float] = {
            "duration_h": float(self.totals_j[K.T_DURATION_S] / SECONDS_PER_HOUR),
            "it_energy_kwh": it,
            "throttled_it_energy_kwh": self._kwh(K.T_IT_THROTTLED_J),
            "heat_captured_kwh": self._kwh(K.T_CAPTURED_J),
            "hx_heat_kwh": self._kwh(K.T_HX_J),
            "heat_demand_kwh": demand,
            "heat_delivered_kwh": self._kwh(K.T_DELIVERED_J),
            "heat_rejected_kwh": self._kwh(K.T_REJECTED_J),
            "backup_heat_kwh": self._kwh(K.T_BACKUP_J),
            "backup_fuel_kwh": self._kwh(K.T_BACKUP_FUEL_J),
            "unmet_heat_kwh": self._kwh(K.T_UNMET_J),
            "pipe_loss_kwh": self._kwh(K.T_PIPE_LOSS_J),
            "tank_loss_kwh": self._kwh(K.T_TANK_LOSS_J),
            "heat_to_room_kwh": self._kwh(K.T_ROOM_J),
            "stored_heat_change_kwh": bal["stored_heat_change_kwh"],
            "heat_pump_heat_kwh": self._kwh(K.T_HP_HEAT_J),
            "heat_pump_electricity_kwh": hp,
            "pump_electricity_kwh": pumps,
            "cooling_electricity_kwh": cooling,
            "other_electricity_kwh": other,
            "total_energy_kwh": it + cooling + pumps + other + hp,
            "demand_coverage_fraction": self._kwh(K.T_DELIVERED_J) / demand if demand > 0 else 0.0,
            "balance_residual_kwh": bal["balance_residual_kwh"],
            "balance_residual_fraction": bal["balance_residual_fraction"],
        }
        out.update(self.time_in_mode_h())
        return out

    def memory_usage_bytes(self) -> int:
        """Memory held by the result frame (values and index) [bytes]."""
        return int(self.frame.memory_usage(index=True, deep=True).sum())
