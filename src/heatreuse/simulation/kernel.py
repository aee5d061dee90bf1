"""The compiled time-stepping kernel: the whole site in one numba function.

Everything here works on plain float64/uint8 arrays and scalars in SI units
(W, J, kg/s, s) with temperatures in degrees Celsius. The Python setup in
:mod:`heatreuse.simulation.inputs` turns a site and a demand frame into these
arrays; :mod:`heatreuse.simulation.engine` runs the kernel and wraps its
output. Nothing in this module knows about pandas or the site model.

Layout of the arrays (row indices are the module constants below):

* ``params`` float64 ``(N_PARAMS,)``: plant parameters (``P_*``).
* ``hp_curve`` float64 ``(2, k)``: heat pump COP against temperature lift
  (row 0 lift [K], ascending; row 1 COP [-]); ``k = 0`` when the heat pump
  uses a Carnot fraction or there is no heat pump.
* ``series`` float64 ``(N_SERIES, n)``: per-step inputs (``X_*``).
* ``flags`` uint8 ``(N_FLAGS, n)``: per-step switches (``F_*``).
* ``state`` float64 ``(N_SCALAR_STATE + layers,)``: the state, updated in
  place (``S_*`` then tank layer temperatures, top layer first).
* ``out`` float32 ``(N_OUT, m)``: per-step outputs (``O_*``) for the ``m``
  steps ``i0 .. i1-1``; powers are means over the step, temperatures means of
  the sub-step values.
* ``mode_out`` int8 ``(m,)``, ``mode_flags_out`` uint8 ``(m,)``.
* ``layer_out`` float32 ``(layers, m)`` or ``(0, 0)`` when not recorded.
* ``totals`` float64 ``(N_TOTALS,)``: energies [J] and times [s] accumulated
  in float64 (``T_*``), added to whatever the array holds on entry.

The physics, equation by equation, is documented at :func:`run_steps`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from heatreuse.units import SECONDS_PER_HOUR, ZERO_CELSIUS_K

# --------------------------------------------------------------------------- controller modes
#: Modes, encoded as small ints in order of priority: when several apply within
#: one step, the step reports the highest. ``mode_flags`` holds all of them as
#: bits (bit ``1 << mode``).
MODE_NORMAL = 0
MODE_DEGRADED = 1  # a fault is active, the plant copes
MODE_REJECT = 2  # tank full / loop too hot: the dry cooler takes the surplus
MODE_CUSTOMER_DISCONNECTED = 3  # the customer does not take heat
MODE_BACKUP = 4  # deficit: backup boiler or heat pump lift covers it
MODE_THROTTLED = 5  # no reject path left and loop at its limit: compute throttled
MODE_DOWN = 6  # utility feed lost: compute and pumps stopped
N_MODES = 7

# --------------------------------------------------------------------------- parameters
P_DT_S = 0
P_IT_NAMEPLATE_W = 1
P_CAPTURE_FRACTION = 2
P_COOLING_FRACTION = 3
P_OTHER_POWER_W = 4
P_LOOP_SET_C = 5  # coolant return design temperature: the controller holds the loop here
P_LOOP_MAX_C = 6  # max coolant return temperature: compute throttled above
P_LOOP_HEAT_CAPACITY_J_PER_K = 7
P_CP_PRIMARY_J_PER_KG_K = 8
P_CP_SECONDARY_J_PER_KG_K = 9
P_MDOT_PRIMARY_KG_PER_S = 10
P_MDOT_SECONDARY_KG_PER_S = 11
P_MDOT_CUSTOMER_KG_PER_S = 12
P_PUMP_PRIMARY_W = 13
P_PUMP_SECONDARY_W = 14
P_PUMP_CUSTOMER_W = 15
P_HAS_CUSTOMER_PUMP = 16
P_UA_W_PER_K = 17  # fouled UA at design
P_TANK_VOLUME_M3 = 18
P_RHO_SECONDARY_KG_PER_M3 = 19
P_TANK_UA_W_PER_K = 20
P_TANK_AMBIENT_C = 21
P_TANK_MAX_C = 22
P_PIPE_LOSS_W_PER_M_K = 23
P_PIPE_LENGTH_M = 24
P_PIPE_SURROUNDINGS_C = 25
P_PIPE_HEAT_CAPACITY_J_PER_M_K = 26
P_HAS_BACKUP = 27
#: Margin above the required supply temperature at which the backup boiler is armed [K].
BACKUP_ARM_MARGIN_K = 1.0
P_BACKUP_CAPACITY_W = 28
P_BACKUP_EFFICIENCY = 29
P_BACKUP_DELAY_S = 30
P_HAS_REJECT = 31
P_REJECT_CAPACITY_W = 32
P_HAS_HEAT_PUMP = 33
P_HP_MAX_HEAT_W = 34
P_HP_CARNOT_FRACTION = 35
P_HP_APPROACH_K = 36
P_HP_EVAPORATOR_MIN_C = 37
P_HP_COP_MAX = 38
P_COURANT_MAX = 39  # explicit scheme: largest layer Courant number per sub-step
P_RHO_PRIMARY_KG_PER_M3 = 40
P_TANK_SCHEME = 41  # TANK_IMPLICIT or TANK_EXPLICIT
P_TANK_TURNOVER_MAX = 42  # implicit scheme: largest tank volumes through a port per sub-step
N_PARAMS = 43

#: Tank advection schemes (``P_TANK_SCHEME``): backward-Euler upwind coupled with the
#: primary loop (the default, unconditionally stable), and the explicit upwind update
#: it replaced (kept as the reference the convergence tests and benchmarks compare with).
TANK_IMPLICIT = 0
TANK_EXPLICIT = 1

# --------------------------------------------------------------------------- series and flags
X_IT_FRACTION = 0  # utilisation, fraction of nameplate
X_IT_MULTIPLIER = 1  # fault: 0 trip, >1 surge
X_DEMAND_W = 2
X_SUPPLY_REQUIRED_C = 3
X_RETURN_C = 4
X_PUMP_PRIMARY = 5  # availability fraction (0 tripped, 1 healthy)
X_PUMP_SECONDARY = 6
X_PUMP_CUSTOMER = 7
X_UA_MULTIPLIER = 8  # fouling fault
X_SENSOR_OFFSET_K = 9  # controller's supply reading = truth + offset
N_SERIES = 10

F_OPERATING = 0  # inside operating hours (reported; the demand already reflects it)
F_CONNECTED = 1
F_UTILITY_FEED = 2
F_REJECT_AVAILABLE = 3
F_FAULT_ACTIVE = 4
N_FLAGS = 5

# --------------------------------------------------------------------------- state
S_LOOP_C = 0  # primary loop (coolant return) temperature
S_BACKUP_TIMER_S = 1  # how long the controller has seen a deficit
S_SUPPLY_C = 2  # supply temperature at the customer (pipe outlet; decays when no flow)
S_SECONDARY_FLOW_KG_PER_S = 3  # last charging flow (warm start of the flow controller)
N_SCALAR_STATE = 4

# --------------------------------------------------------------------------- outputs
O_IT_POWER_W = 0
O_IT_THROTTLED_W = 1
O_HEAT_CAPTURED_W = 2
O_HEAT_TO_ROOM_W = 3
O_HX_HEAT_W = 4
O_HEAT_REJECTED_W = 5
O_LOOP_TEMP_C = 6
O_COOLANT_SUPPLY_TEMP_C = 7
O_TANK_TOP_C = 8
O_TANK_BOTTOM_C = 9
O_TANK_MEAN_C = 10
O_SUPPLY_TEMP_C = 11
O_SUPPLY_MEASURED_C = 12
O_CUSTOMER_SUPPLY_C = 13
O_RETURN_TEMP_C = 14
O_HEAT_DEMAND_W = 15
O_HEAT_DELIVERED_W = 16
O_BACKUP_HEAT_W = 17
O_UNMET_HEAT_W = 18
O_PIPE_LOSS_W = 19
O_TANK_LOSS_W = 20
O_HP_HEAT_W = 21
O_HP_ELECTRICITY_W = 22
O_PUMP_ELECTRICITY_W = 23
O_COOLING_ELECTRICITY_W = 24
O_OTHER_ELECTRICITY_W = 25
O_TOTAL_ELECTRICITY_W = 26
O_FLOW_PRIMARY_M3_PER_H = 27
O_FLOW_SECONDARY_M3_PER_H = 28
O_FLOW_CUSTOMER_M3_PER_H = 29
O_BACKUP_FUEL_W = 30
N_OUT = 31

# --------------------------------------------------------------------------- totals
T_IT_J = 0
T_IT_THROTTLED_J = 1
T_CAPTURED_J = 2
T_ROOM_J = 3
T_HX_J = 4
T_REJECTED_J = 5
T_DEMAND_J = 6
T_DELIVERED_J = 7
T_BACKUP_J = 8
T_BACKUP_FUEL_J = 9
T_UNMET_J = 10
T_PIPE_LOSS_J = 11
T_TANK_LOSS_J = 12
T_HP_HEAT_J = 13
T_HP_ELECTRICITY_J = 14
T_PUMP_ELECTRICITY_J = 15
T_COOLING_ELECTRICITY_J = 16
T_OTHER_ELECTRICITY_J = 17
T_DURATION_S = 18
T_MODE_0_S = 19  # 19 .. 19 + N_MODES - 1: time in each mode
N_TOTALS = T_MODE_0_S + N_MODES

#: Tolerance below which a power is treated as zero when setting mode bits [W].
_EPS_W = 1e-6
#: Heat transfer coefficient of a bare pipe to still air, convection plus
#: radiation [W/(m2 K)] (Incropera, Fundamentals of Heat and Mass Transfer,
#: 7th ed., Table 1.1: free convection in gases 2-25 W/(m2 K)).
BARE_PIPE_H_W_PER_M2_K = 10.0


@njit(cache=True)
def effectiveness_counterflow(ntu: float, capacity_ratio: float) -> float:
    """Effectiveness of a counterflow heat exchanger [-].

    eps = (1 - exp(-NTU (1 - Cr))) / (1 - Cr exp(-NTU (1 - Cr))), and
    eps = NTU / (1 + NTU) for Cr = 1 (Incropera, Fundamentals of Heat and Mass
    Transfer, 7th ed., Table 11.3, eq. 11.29a).

    Parameters
    ----------
    ntu
        Number of transfer units UA / C_min [-], >= 0.
    capacity_ratio
        C_min / C_max [-], in [0, 1].
    """
    if ntu <= 0.0:
        return 0.0
    if capacity_ratio < 1e-12:
        return 1.0 - math.exp(-ntu)
    if abs(1.0 - capacity_ratio) < 1e-9:
        return ntu / (1.0 + ntu)
    e = math.exp(-ntu * (1.0 - capacity_ratio))
    return (1.0 - e) / (1.0 - capacity_ratio * e)


@njit(cache=True)
def hx_conductance_w_per_k(ua_w_per_k: float, c_hot_w_per_k: float, c_cold_w_per_k: float) -> float:
    """Effective conductance eps * C_min of a counterflow exchanger [W/K].

    Q = eps C_min (T_hot,in - T_cold,in) (effectiveness-NTU method, Incropera
    7th ed., eq. 11.22). Zero when either stream has no flow.
    """
    c_min = min(c_hot_w_per_k, c_cold_w_per_k)
    if c_min <= 0.0 or ua_w_per_k <= 0.0:
        return 0.0
    c_max = max(c_hot_w_per_k, c_cold_w_per_k)
    return effectiveness_counterflow(ua_w_per_k / c_min, c_min / c_max) * c_min


@njit(cache=True)
def _solve_secondary_flow(
    ua: float, c_hot: float, cp_cold: float, mdot_max: float, k_need: float, guess: float
) -> float:
    """Cold-side mass flow [kg/s] whose conductance eps*C_min equals ``k_need``.

    The conductance grows monotonically with the cold flow and is bounded by
    mdot * cp (all of the cold stream heated to the hot inlet), so the root
    lies in [k_need / cp, mdot_max]. The previous sub-step's flow ``guess``
    is tried first (it is usually within tolerance), then Illinois regula
    falsi on the narrowed bracket, 12 iterations at most, relative tolerance
    1e-4 on the conductance. The energy bookkeeping uses the conductance of the
    flow returned, so an inexact root only moves the loop temperature slightly
    off its set point, never the balance.
    """
    lo = min(k_need / cp_cold, mdot_max)
    hi = mdot_max
    tol = 1e-4 * k_need
    g_lo = hx_conductance_w_per_k(ua, c_hot, lo * cp_cold) - k_need
    if g_lo >= -tol:
        return lo
    if lo < guess < hi:
        g = hx_conductance_w_per_k(ua, c_hot, guess * cp_cold) - k_need
        if abs(g) <= tol:
            return guess
        if g > 0.0:
            hi = guess
            g_hi = g
        else:
            lo = guess
            g_lo = g
            g_hi = hx_conductance_w_per_k(ua, c_hot, hi * cp_cold) - k_need
    else:
        g_hi = hx_conductance_w_per_k(ua, c_hot, hi * cp_cold) - k_need
    if g_hi <= 0.0:
        return hi
    side = 0
    x = hi
    for _ in range(12):
        x = (lo * g_hi - hi * g_lo) / (g_hi - g_lo)
        g = hx_conductance_w_per_k(ua, c_hot, x * cp_cold) - k_need
        if abs(g) <= tol:
            return x
        if g > 0.0:
            hi = x
            g_hi = g
            if side == 1:
                g_lo *= 0.5
            side = 1
        else:
            lo = x
            g_lo = g
            if side == -1:
                g_hi *= 0.5
            side = -1
    return x


@njit(cache=True)
def heat_pump_cop(
    sink_temp_c: float,
    source_temp_c: float,
    carnot_fraction: float,
    approach_k: float,
    cop_max: float,
    hp_curve: np.ndarray,
) -> float:
    """Heating COP of the heat pump [-].

    Carnot model: COP = f * T_cond / (T_cond - T_evap) with T_cond = sink + approach
    and T_evap = source - approach in kelvin (standards.md, "Heat pumps";
    Carnot COP of heating). Curve model: COP interpolated linearly in the
    temperature lift (sink - source) [K] between the curve points, clamped at
    its ends. Both clamped to [1, cop_max].
    """
    if hp_curve.shape[1] > 0:
        lift = sink_temp_c - source_temp_c
        n = hp_curve.shape[1]
        if lift <= hp_curve[0, 0]:
            cop = hp_curve[1, 0]
        elif lift >= hp_curve[0, n - 1]:
            cop = hp_curve[1, n - 1]
        else:
            cop = hp_curve[1, n - 1]
            for j in range(n - 1):
                if hp_curve[0, j + 1] >= lift:
                    w = (lift - hp_curve[0, j]) / (hp_curve[0, j + 1] - hp_curve[0, j])
                    cop = hp_curve[1, j] + w * (hp_curve[1, j + 1] - hp_curve[1, j])
                    break
    else:
        t_cond_k = sink_temp_c + approach_k + ZERO_CELSIUS_K
        t_evap_k = source_temp_c - approach_k + ZERO_CELSIUS_K
        dt = t_cond_k - t_evap_k
        cop = cop_max if dt <= 0.0 else carnot_fraction * t_cond_k / dt
    out: float = min(max(cop, 1.0), cop_max)
    return out


@njit(cache=True)
def substeps(params: np.ndarray, n_layers: int) -> int:
    """Sub-steps per step: an accuracy limit (implicit tank) or the stability limit (explicit).

    * ``TANK_IMPLICIT`` (default): the backward-Euler tank update
      (:func:`tank_advection_coefficients`) is stable and monotone for any
      step, so the sub-step only bounds how stale the controller's view of the
      tank may get: at most ``P_TANK_TURNOVER_MAX`` tank volumes pass through a
      port per sub-step, mdot * dt / m_tank <= turnover_max. The plant's
      decisions (customer flow, charging flow, backup, reject) are taken on
      the tank temperatures at the start of the sub-step, so a tank that turns
      over several times per sub-step would be controlled on stale figures.
    * ``TANK_EXPLICIT``: the explicit upwind update is monotone (no new
      extrema) and stable only for a Courant number mdot * dt / m_layer <= 1
      (Duffie and Beckman, Solar Engineering of Thermal Processes, 4th ed.,
      section 8.4; LeVeque, Finite Volume Methods for Hyperbolic Problems,
      2002, section 4.7): ``n_layers`` times as many sub-steps.
    """
    m_tank = params[P_TANK_VOLUME_M3] * params[P_RHO_SECONDARY_KG_PER_M3]
    mdot = max(params[P_MDOT_SECONDARY_KG_PER_S], params[P_MDOT_CUSTOMER_KG_PER_S])
    if params[P_TANK_SCHEME] == TANK_EXPLICIT:
        courant = mdot * params[P_DT_S] / (m_tank / n_layers) / params[P_COURANT_MAX]
    else:
        courant = mdot * params[P_DT_S] / m_tank / params[P_TANK_TURNOVER_MAX]
    n: int = max(math.ceil(courant - 1e-9), 1)
    return n


@njit(cache=True)
def tank_advection_coefficients(
    t: np.ndarray,
    r_kg_per_s: float,
    m_top_in_kg_per_s: float,
    m_bottom_in_kg_per_s: float,
    t_bottom_in_c: float,
    coef_a: np.ndarray,
    coef_b: np.ndarray,
) -> None:
    """Backward-Euler upwind advection of the layered tank, affine in the top inlet temperature.

    The tank has N equal, fully mixed layers of mass m (top first) and fixed
    inlets: the charging flow m_s enters the top at T_in (from the heat
    exchanger) and leaves at the bottom; the customer's return m_c enters the
    bottom at T_rt and leaves at the top. The net flow between layers is
    m_s - m_c (down when positive). The fully implicit (backward Euler) first-
    order upwind finite-volume update over dt is, with r = m / dt,

        r (T_j' - T_j) = sum_in mdot (T_upwind' or inlet) - (sum_out mdot) T_j'

    (Patankar, Numerical Heat Transfer and Fluid Flow, 1980, sections 4.3
    and 5.2: fully implicit scheme with upwind convection). Every neighbour
    coefficient is non-negative and the centre coefficient equals r plus their
    sum, so the update is unconditionally stable and monotone (Patankar's rule
    2; LeVeque, Finite Volume Methods for Hyperbolic Problems, 2002, section
    8.3: implicit upwind has no CFL limit): no layer leaves the range of the
    old temperatures and the inlets, whatever the flows. Because the net flow
    has one direction, the matrix is bidiagonal and one sweep solves it
    (downflow: from the top; upflow: from the bottom). The energy change of the
    tank is exactly m_s cp (T_in - T_N') + m_c cp (T_rt - T_1') (outflows at
    the new outlet temperatures), which is what the kernel books.

    The top inlet temperature depends on the new bottom temperature (the
    exchanger heats what leaves the bottom), so the solution is returned
    affine in it: T_j' = coef_a[j] + coef_b[j] * T_in.

    Parameters
    ----------
    t
        Layer temperatures at the start of the step [C] (not changed).
    r_kg_per_s
        Layer mass over the step length, m / dt [kg/s].
    m_top_in_kg_per_s, m_bottom_in_kg_per_s
        Charging flow m_s and customer return flow m_c [kg/s], >= 0.
    t_bottom_in_c
        Customer return temperature entering the bottom [C].
    coef_a, coef_b
        Output, length N: T_j' = coef_a[j] + coef_b[j] * T_in [C, -].
    """
    n = t.shape[0]
    r = r_kg_per_s
    m_s = m_top_in_kg_per_s
    m_c = m_bottom_in_kg_per_s
    if n == 1:
        d = r + m_s + m_c
        coef_a[0] = (r * t[0] + m_c * t_bottom_in_c) / d
        coef_b[0] = m_s / d
        return
    m_net = m_s - m_c
    if m_net >= 0.0:
        down = m_net
        inv = 1.0 / (r + m_s)
        coef_a[0] = r * t[0] * inv
        coef_b[0] = m_s * inv
        keep = r / (r + down)  # weight of the layer's old temperature
        take = down / (r + down)  # weight of the layer above (upwind)
        for j in range(1, n - 1):
            coef_a[j] = keep * t[j] + take * coef_a[j - 1]
            coef_b[j] = take * coef_b[j - 1]
        coef_a[n - 1] = (r * t[n - 1] + down * coef_a[n - 2] + m_c * t_bottom_in_c) * inv
        coef_b[n - 1] = down * coef_b[n - 2] * inv
    else:
        up = -m_net
        inv = 1.0 / (r + m_c)
        coef_a[n - 1] = (r * t[n - 1] + m_c * t_bottom_in_c) * inv
        coef_b[n - 1] = 0.0
        keep = r / (r + up)
        take = up / (r + up)
        for j in range(n - 2, 0, -1):
            coef_a[j] = keep * t[j] + take * coef_a[j + 1]
            coef_b[j] = 0.0
        coef_a[0] = (r * t[0] + up * coef_a[1]) * inv
        coef_b[0] = m_s * inv


@njit(cache=True)
def stored_heat_j(params: np.ndarray, state: np.ndarray) -> float:
    """Heat stored in tank and primary loop relative to 0 C [J].

    U = sum_j m_layer cp T_j + C_loop T_loop with the constant cp the kernel
    uses, so changes of U close the balance exactly.
    """
    n_layers = state.shape[0] - N_SCALAR_STATE
    m_layer = params[P_TANK_VOLUME_M3] * params[P_RHO_SECONDARY_KG_PER_M3] / n_layers
    u = 0.0
    for j in range(n_layers):
        u += state[N_SCALAR_STATE + j]
    u *= m_layer * params[P_CP_SECONDARY_J_PER_KG_K]
    total: float = u + params[P_LOOP_HEAT_CAPACITY_J_PER_K] * state[S_LOOP_C]
    return total


@njit(cache=True)
def _mix_inversions(t: np.ndarray, val: np.ndarray, cnt: np.ndarray) -> None:
    """Buoyancy mixing: merge layers until temperature falls from top to bottom.

    Pool-adjacent-violators on equal-mass layers: every unstable run (a colder
    layer above a warmer one) is replaced by its mass-weighted mean, which
    conserves energy exactly and is the fully mixed limit of buoyant plumes
    (the "mixing" algorithm of multi-node tank models; Duffie and Beckman,
    4th ed., section 8.4; Kleinbach et al., Solar Energy 50 (1993) 155).
    """
    n = t.shape[0]
    inverted = False
    for j in range(n - 1):
        if t[j] < t[j + 1]:
            inverted = True
            break
    if not inverted:
        return
    nb = 0
    for j in range(n):
        val[nb] = t[j]
        cnt[nb] = 1.0
        nb += 1
        while nb > 1 and val[nb - 2] < val[nb - 1]:
            total = cnt[nb - 2] + cnt[nb - 1]
            val[nb - 2] = (val[nb - 2] * cnt[nb - 2] + val[nb - 1] * cnt[nb - 1]) / total
            cnt[nb - 2] = total
            nb -= 1
    j = 0
    for b in range(nb):
        for _ in range(int(cnt[b])):
            t[j] = val[b]
            j += 1


#: Most fixed-point iterations of the customer flow against the implicit tank's new
#: top temperature per sub-step, and their tolerance on that temperature [K].
CUSTOMER_FLOW_ITERATIONS = 8
CUSTOMER_FLOW_TOL_K = 1e-3


@njit(cache=True)
def _top_inlet_c(
    a_b: float,
    b_b: float,
    m_s: float,
    kk: float,
    c_m: float,
    t_l: float,
    q_net: float,
    cp_s: float,
) -> float:
    """Top inlet temperature T_in of the coupled implicit tank-exchanger-loop step [C].

    T_in = alpha + beta T_b' (the exchanger heats what leaves the bottom, the loop
    in backward Euler) and T_b' = a_b + b_b T_in (the tank,
    :func:`tank_advection_coefficients`); ``q_net`` = Q_cap - Q_rej [W].
    """
    if m_s <= 0.0:
        return a_b  # no charging flow: the value is not used
    den = (c_m + kk) * m_s * cp_s
    gamma = kk / den
    beta = 1.0 - kk * c_m / den
    out: float = (gamma * (c_m * t_l + q_net) + beta * a_b) / (1.0 - beta * b_b)
    return out


@njit(cache=True)
def _customer_flow(
    t_src: float,
    q_d: float,
    t_req: float,
    t_ret: float,
    offset: float,
    m_cap: float,
    cp_s: float,
    pipe_ua: float,
    t_sur: float,
    has_hp: bool,
    params: np.ndarray,
    hp_curve: np.ndarray,
) -> tuple[float, float, float]:
    """Customer flow and heat pump lift for a tank top temperature ``t_src`` [C].

    Returns ``(m_c [kg/s], q_hp [W], w_hp [W])``: the flow that serves the demand
    at the measured supply (pipe loss iterated), and the heat pump's heat and
    electricity when the measured supply falls short of the requirement (see
    :func:`run_steps`, steps 2 and 3).
    """
    m_c = 0.0
    q_hp = 0.0
    w_hp = 0.0
    denom0 = max(t_src + offset, t_req) - t_ret
    if t_src + offset > t_ret and denom0 > 1e-6:
        m_c = min(q_d / (cp_s * denom0), m_cap)
        for _it in range(3):
            a = math.exp(-pipe_ua / (m_c * cp_s))
            t_out = t_sur + (t_src - t_sur) * a
            t_meas = t_out + offset
            if t_meas <= t_ret:
                m_c = 0.0
                break
            m_c = min(q_d / (cp_s * (max(t_meas, t_req) - t_ret)), m_cap)
    # heat pump lift when the supply (as measured) is below the requirement
    if has_hp and t_req > t_ret:
        a = 1.0
        if m_c > 0.0:
            a = math.exp(-pipe_ua / (m_c * cp_s))
            t_meas_plain = t_sur + (t_src - t_sur) * a + offset
        else:
            t_meas_plain = t_src + offset
        if t_meas_plain < t_req:
            m_c = min(q_d / (cp_s * (t_req - t_ret)), m_cap)
            a = math.exp(-pipe_ua / (m_c * cp_s))
            t_out_target = t_req - offset
            q_h = 0.0
            t_hp = t_out_target
            if a > 1e-3:  # else the pipe loses (nearly) all heat: no lift helps
                t_hp = t_sur + (t_out_target - t_sur) / a
                q_h = m_c * cp_s * (t_hp - t_src)
            if q_h > 0.0:
                t_rt_pipe = t_sur + (t_ret - t_sur) * a
                cop = heat_pump_cop(
                    t_hp,
                    t_rt_pipe,
                    params[P_HP_CARNOT_FRACTION],
                    params[P_HP_APPROACH_K],
                    params[P_HP_COP_MAX],
                    hp_curve,
                )
                q_h = min(q_h, params[P_HP_MAX_HEAT_W])
                q_src_max = m_c * cp_s * max(t_rt_pipe - params[P_HP_EVAPORATOR_MIN_C], 0.0)
                src_fraction = 1.0 - 1.0 / cop
                if q_h * src_fraction > q_src_max:
                    q_h = q_src_max / src_fraction
                q_hp = q_h
                w_hp = q_h / cop
    if m_c <= 0.0:
        q_hp = 0.0
        w_hp = 0.0
    return m_c, q_hp, w_hp


@njit(cache=True, error_model="numpy")
def run_steps(
    params: np.ndarray,
    hp_curve: np.ndarray,
    series: np.ndarray,
    flags: np.ndarray,
    state: np.ndarray,
    i0: int,
    i1: int,
    out: np.ndarray,
    mode_out: np.ndarray,
    mode_flags_out: np.ndarray,
    layer_out: np.ndarray,
    totals: np.ndarray,
) -> None:
    """Advance the site over steps ``i0 .. i1-1``, writing outputs and totals.

    One sub-step of length dt (``substeps`` per step) does the steps below;
    the code takes the hot side's decisions (step 5) first, then the
    customer's (steps 2-3), then updates the tank (step 6), then books the
    customer side and the backup boiler (step 4) on the supply as delivered:

    1. **IT load.** P_req = P_nameplate * u(t) * m_fault(t) * feed(t); heat
       captured to water Q_cap = f_capture * P_it, the rest (1 - f_capture) P_it
       goes to room air ("heat to room", ASHRAE TC 9.9 liquid cooling
       guidelines). Cooling electricity = f_cooling * P_it; other = constant.
    2. **Customer side** (from the tank top T_top: at the start of the
       sub-step with the explicit tank update, the new top with the implicit
       one, see step 6). The
       customer takes heat whenever it is connected and its demand is
       positive: the demand models already set the demand to zero when the
       customer does not accept heat (DHW draws, district preheat outside its
       hours), while a pool or a greenhouse loses heat around the clock; the
       ``operating`` flag is carried to the result for SLA evaluation. The
       controller sees the supply temperature T_meas = T_out + offset (sensor
       fault) and sets the plant flow to serve the demand Q_d:
       mdot = Q_d / (cp (max(T_meas, T_req) - T_ret)) capped by the pump
       (zero when T_meas <= T_ret: no useful heat). Pipe (supply and return
       runs of the same length): loss per metre and kelvin
       U' = 2 pi k_ins / ln(r_o / r_i) (conduction through the insulation,
       Incropera 7th ed., eq. 3.33; film and wall resistances neglected, which
       overstates the loss slightly; bare pipe: U' = pi d h with h = 10
       W/(m2 K)); outlet T_out = T_s + (T_in - T_s) exp(-U' L / (mdot cp))
       (steady plug flow, Incropera eq. 8.46b). Delivered (truth)
       Q_del = mdot cp (T_out - T_ret). The return run cools T_ret likewise
       before it enters the tank bottom. Without flow the water standing in
       the supply pipe cools towards the surroundings with the time constant
       rho cp A / U' (what a supply sensor at the customer would read); that
       stagnant content is not part of the stored heat (at most a few kWh per
       cool-down, e.g. 0.14 m3 for the pool example).
    3. **Heat pump lift** (optional): when T_meas < T_req the heat pump on the
       supply line lifts T_top so the measured supply reaches T_req:
       Q_H = mdot cp (T_hp - T_top) <= Q_H,max, W = Q_H / COP; its evaporator
       takes Q_src = Q_H - W from the return line before the tank (not below
       ``P_HP_EVAPORATOR_MIN_C``). Q_H = Q_src + W (standards.md, heat pumps).
    4. **Backup boiler**: the controller's deficit is
       Q_short = Q_d - mdot cp (T_meas - T_ret) (> 0.5 % of demand + 1 W, or
       T_meas < T_req), judged on the supply of the sub-step as delivered
       (the boiler does not touch the tank, so it is evaluated after the tank
       update). The boiler's delay starts early (hot standby) when the plant
       nears its limit (flow at 98 % of the cap, supply within
       ``BACKUP_ARM_MARGIN_K``) or when the demand now or within the delay
       exceeds what the pump cap delivers at each step's return and at the
       tank top the delay leaves (the net draw moving the tank's water up).
       After the deficit has lasted ``control_delay_s`` the boiler
       adds min(Q_short, capacity) on the customer side, for the part of the
       sub-step after the delay ran out; fuel = Q_backup / efficiency. Unmet
       (truth) = max(Q_d - Q_del - Q_backup, 0).
       The boiler is the customer's and keeps running when the site's utility
       feed is lost. A false-low sensor makes the controller draw more flow
       and fire the boiler although the truth needs neither.
    5. **Primary loop and heat exchanger.** The loop is one well-mixed node
       (coolant return temperature T_l, heat capacity C_l); backward Euler
       C_l (T_l' - T_l)/dt = Q_cap - Q_hx - Q_rej with
       Q_hx = eps C_min (T_l' - T_bottom) (effectiveness-NTU counterflow,
       UA = UA_fouled * m_fault, 1/UA_fouled = 1/UA_clean + R_f/A). The
       controller varies the secondary (charging) flow so the loop sits at its
       design return temperature (charging the tank top hot for
       stratification); if even full flow cannot hold it and the reject path
       is available (dry cooler on the primary loop, needs primary flow), the
       dry cooler rejects the surplus up to its capacity. The tank counts as
       full when its bottom reaches the loop set point: charging stops and the
       surplus goes to the dry cooler. If the loop would still exceed
       ``max_coolant_return_temp_c``, the tank is charged at full flow up to
       the loop limit first (storage before throttling; the dry cooler then
       holds the loop no lower than the tank bottom), and only then is the IT
       load throttled so the loop stays at the limit (throttled energy
       recorded). No charging when the tank top is at its maximum temperature
       or the loop is colder than the tank bottom.
    6. **Tank**: N equal layers, fixed inlets (charge at the top, customer
       return at the bottom), first-order upwind advection with the net flow
       between layers (Duffie and Beckman, 4th ed., eq. 8.4.2, fixed inlet
       variant), buoyancy mixing of inversions, losses UA_tank / N per layer
       to ambient integrated exactly: T' = T_a + (T - T_a) exp(-UA_j dt / (m_j cp)).
       The advection is implicit by default (``TANK_IMPLICIT``): backward
       Euler (:func:`tank_advection_coefficients`) solved together with the
       exchanger and the loop of step 5, which then see the new bottom
       temperature, while the customer of step 2 draws the new top
       temperature (its flow is iterated to that top temperature, at most
       ``CUSTOMER_FLOW_ITERATIONS`` times, to ``CUSTOMER_FLOW_TOL_K``). The
       duties decided on the start-of-sub-step temperatures are then corrected
       in one affine step each so the loop limit, the dry cooler's floor and
       throttling still hold. Every port flow is booked at the temperature it
       leaves the tank with, so the balance below stays exact, and the update
       is stable and monotone for any sub-step, so sub-steps only bound how
       many tank volumes pass a port (``P_TANK_TURNOVER_MAX``, see
       :func:`substeps`). ``TANK_EXPLICIT`` is the explicit update with old
       temperatures throughout, stable only up to one layer per sub-step;
       it is kept as the reference of the convergence tests.

    7. **Electricity**: pumps follow the affinity laws, P = P_rated (f)^3
       with f the flow fraction of the rated flow (Gulich, Centrifugal Pumps,
       3rd ed., section 3.4): the primary pump at its availability fraction,
       the secondary (charging) and the customer pump at their controlled
       flow (without a customer pump the secondary pump's rating drives the
       customer circuit too). Cooling electricity = f_cooling * P_it; other
       (lighting, controls) constant while the feed is up. Pump shaft work
       and fan heat are not added to the water (< 1 % of the captured heat).

    Modes (``MODE_*``): each sub-step sets the bits of the modes that apply
    (degraded: any fault input off normal; reject: dry cooler running;
    customer disconnected; backup: boiler or heat pump covering a deficit;
    throttled: IT below its request; down: utility feed lost); the step
    reports the highest-priority bit set in any of its sub-steps.

    Energy bookkeeping (all float64, exact up to rounding)::

        E_IT + W_hp = Q_delivered + Q_rejected + Q_room + Q_pipe + Q_tank_loss + dU

    with dU the change of heat stored in the tank layers and the primary loop
    (see :func:`stored_heat_j`). Backup heat is an input on the customer side:
    Q_demand served = Q_delivered + Q_backup (+ unmet).
    """
    n_layers = state.shape[0] - N_SCALAR_STATE
    record_layers = layer_out.shape[0] > 0
    n_sub = substeps(params, n_layers)
    dt_step = params[P_DT_S]
    dts = dt_step / n_sub

    cp_p = params[P_CP_PRIMARY_J_PER_KG_K]
    cp_s = params[P_CP_SECONDARY_J_PER_KG_K]
    m_layer = params[P_TANK_VOLUME_M3] * params[P_RHO_SECONDARY_KG_PER_M3] / n_layers
    c_layer = m_layer * cp_s
    loss_factor = math.exp(-params[P_TANK_UA_W_PER_K] / n_layers * dts / c_layer)
    t_amb = params[P_TANK_AMBIENT_C]
    t_sur = params[P_PIPE_SURROUNDINGS_C]
    pipe_ua = params[P_PIPE_LOSS_W_PER_M_K] * params[P_PIPE_LENGTH_M]
    pipe_tau = params[P_PIPE_HEAT_CAPACITY_J_PER_M_K] / max(params[P_PIPE_LOSS_W_PER_M_K], 1e-12)
    pipe_idle_factor = math.exp(-dts / pipe_tau)
    c_loop = params[P_LOOP_HEAT_CAPACITY_J_PER_K]
    c_m = c_loop / dts
    t_set = params[P_LOOP_SET_C]
    t_max = params[P_LOOP_MAX_C]
    f_cap = params[P_CAPTURE_FRACTION]
    has_cust_pump = params[P_HAS_CUSTOMER_PUMP] > 0.5
    has_backup = params[P_HAS_BACKUP] > 0.5
    has_reject = params[P_HAS_REJECT] > 0.5
    has_hp = params[P_HAS_HEAT_PUMP] > 0.5
    rho_p = params[P_RHO_PRIMARY_KG_PER_M3]
    rho_s = params[P_RHO_SECONDARY_KG_PER_M3]

    implicit = params[P_TANK_SCHEME] != TANK_EXPLICIT
    r_layer = m_layer / dts  # layer mass over the sub-step [kg/s]
    t = state[N_SCALAR_STATE:]
    tmp_val = np.empty(n_layers)
    tmp_cnt = np.empty(n_layers)
    coef_a = np.empty(n_layers)
    coef_b = np.empty(n_layers)
    acc = np.zeros(N_OUT)
    lay_acc = np.zeros(n_layers)

    n_steps_all = series.shape[1]
    for i in range(i0, i1):
        k_out = i - i0
        it_frac = series[X_IT_FRACTION, i] * series[X_IT_MULTIPLIER, i]
        q_d = max(series[X_DEMAND_W, i], 0.0)
        t_req = series[X_SUPPLY_REQUIRED_C, i]
        t_ret = series[X_RETURN_C, i]
        av_p = series[X_PUMP_PRIMARY, i]
        av_s = series[X_PUMP_SECONDARY, i]
        av_c = series[X_PUMP_CUSTOMER, i]
        ua = params[P_UA_W_PER_K] * series[X_UA_MULTIPLIER, i]
        offset = series[X_SENSOR_OFFSET_K, i]
        connected = flags[F_CONNECTED, i] > 0
        feed = flags[F_UTILITY_FEED, i] > 0
        reject_ok = flags[F_REJECT_AVAILABLE, i] > 0 and has_reject and feed
        fault = flags[F_FAULT_ACTIVE, i] > 0
        if not feed:
            # The site's power is gone: compute and the plant's pumps stop. A separate
            # customer pump is the customer's (own supply) and keeps running, so the
            # boiler in that circuit can still take over.
            av_p = 0.0
            av_s = 0.0
            it_frac = 0.0
        if not has_cust_pump:
            av_c = av_s  # the secondary pump also drives the customer circuit
        m_cap = params[P_MDOT_CUSTOMER_KG_PER_S] * av_c
        p_req = params[P_IT_NAMEPLATE_W] * it_frac

        for k in range(N_OUT):
            acc[k] = 0.0
        if record_layers:
            for j in range(n_layers):
                lay_acc[j] = 0.0
        bits = 0

        for _ in range(n_sub):
            t_top = t[0]
            t_bot = t[n_layers - 1]

            # ---------------------------------------------------------------- hot side
            m_p = params[P_MDOT_PRIMARY_KG_PER_S] * av_p
            c_p = m_p * cp_p
            q_cap = f_cap * p_req
            q_cap_req = q_cap
            t_l = state[S_LOOP_C]
            t_rej_floor = t_set  # the dry cooler takes only heat that would lift the loop above
            m_s_max = params[P_MDOT_SECONDARY_KG_PER_S] * av_s
            if t_top >= params[P_TANK_MAX_C] or t_l < t_bot:
                m_s_max = 0.0  # tank at its limit, or no driving temperature difference
            k_max = hx_conductance_w_per_k(ua, c_p, m_s_max * cp_s)
            q_t = q_cap + c_m * (t_l - t_set)  # HX heat that would land the loop on t_set
            m_s = 0.0
            kk = 0.0
            if k_max > 0.0 and q_t > 0.0 and t_bot < t_set:
                if q_t >= k_max * (t_set - t_bot):
                    m_s = m_s_max
                    kk = k_max
                else:
                    m_s = _solve_secondary_flow(
                        ua,
                        c_p,
                        cp_s,
                        m_s_max,
                        q_t / (t_set - t_bot),
                        state[S_SECONDARY_FLOW_KG_PER_S],
                    )
                    kk = hx_conductance_w_per_k(ua, c_p, m_s * cp_s)
                    if kk <= 0.0:
                        m_s = 0.0
            base = c_m * t_l + kk * t_bot
            t_new = (base + q_cap) / (c_m + kk)
            q_rej = 0.0
            can_reject = reject_ok and m_p > 0.0
            if t_new > t_set and can_reject:
                q_rej = min(
                    max(base + q_cap - (c_m + kk) * t_set, 0.0), params[P_REJECT_CAPACITY_W]
                )
                t_new = (base + q_cap - q_rej) / (c_m + kk)
            if t_new > t_max and kk < k_max:
                # storage before throttling: the tank (bottom at or above the set point) still
                # takes heat at full charging flow up to the loop limit; the dry cooler keeps
                # the loop no lower than the tank bottom so the exchanger never runs backwards
                m_s = m_s_max
                kk = k_max
                base = c_m * t_l + kk * t_bot
                t_new = (base + q_cap) / (c_m + kk)
                q_rej = 0.0
                if can_reject:
                    t_floor = max(t_set, t_bot)
                    t_rej_floor = t_floor
                    q_rej = min(
                        max(base + q_cap - (c_m + kk) * t_floor, 0.0), params[P_REJECT_CAPACITY_W]
                    )
                    t_new = (base + q_cap - q_rej) / (c_m + kk)
            p_it = p_req
            if t_new > t_max:
                q_cap_lim = (c_m + kk) * t_max + q_rej - base
                if q_cap_lim < 0.0:
                    q_cap_lim = 0.0
                    if q_rej > 0.0:
                        q_rej = min(max(base - (c_m + kk) * t_max, 0.0), q_rej)
                if q_cap_lim < q_cap:
                    q_cap = q_cap_lim
                    p_it = q_cap / f_cap
                t_new = (base + q_cap - q_rej) / (c_m + kk)

            # ---------------------------------------------------------------- customer side
            # The controller sets the customer flow for the supply the tank top gives it
            # (:func:`_customer_flow`). Explicit tank: the top at the start of the sub-step
            # is what flows out. Implicit tank: what flows out is the new top temperature,
            # which depends on the flow; the flow is iterated to that fixed point (the
            # controller holds the delivered heat on the demand) and the last flow is the
            # one the tank update and the books use.
            m_c = 0.0
            t_out = state[S_SUPPLY_C]
            q_del = 0.0
            q_pipe = 0.0
            q_hp = 0.0
            w_hp = 0.0
            t_rt = t_ret  # what enters the tank bottom
            a_pipe = 1.0  # pipe transmission factor exp(-U'L / (mdot cp)) at the customer flow
            t_rt_pipe = t_ret  # return after the pipe, before the heat pump's evaporator
            serving = connected and q_d > 0.0
            t_src = t_top
            have_coef = False  # coef_a/coef_b hold the tank solve for the final m_c and t_rt
            if serving and m_cap > 0.0:
                for _fp in range(CUSTOMER_FLOW_ITERATIONS):
                    m_c, q_hp, w_hp = _customer_flow(
                        t_src,
                        q_d,
                        t_req,
                        t_ret,
                        offset,
                        m_cap,
                        cp_s,
                        pipe_ua,
                        t_sur,
                        has_hp,
                        params,
                        hp_curve,
                    )
                    if m_c > 0.0:
                        a_pipe = math.exp(-pipe_ua / (m_c * cp_s))
                        t_rt_pipe = t_sur + (t_ret - t_sur) * a_pipe
                        t_rt = t_rt_pipe - (q_hp - w_hp) / (m_c * cp_s)
                    else:
                        a_pipe = 1.0
                        t_rt_pipe = t_ret
                        t_rt = t_ret
                    if not implicit or m_c <= 0.0:
                        break
                    tank_advection_coefficients(t, r_layer, m_s, m_c, t_rt, coef_a, coef_b)
                    have_coef = True
                    t_top_new = coef_a[0] + coef_b[0] * _top_inlet_c(
                        coef_a[n_layers - 1],
                        coef_b[n_layers - 1],
                        m_s,
                        kk,
                        c_m,
                        t_l,
                        q_cap - q_rej,
                        cp_s,
                    )
                    converged = abs(t_top_new - t_src) <= CUSTOMER_FLOW_TOL_K
                    t_src = t_top_new
                    if converged:
                        break
                if m_c > 0.0:
                    t_hp_out = t_src + q_hp / (m_c * cp_s)
                    t_out = t_sur + (t_hp_out - t_sur) * a_pipe
                    q_del = m_c * cp_s * (t_out - t_ret)
                    q_pipe = m_c * cp_s * ((t_hp_out - t_out) + (t_ret - t_rt_pipe))
            if m_c <= 0.0:
                # no flow: the water standing in the pipe cools towards the surroundings
                t_out = t_sur + (state[S_SUPPLY_C] - t_sur) * pipe_idle_factor
            # ---------------------------------------------------------------- tank
            t_top_out = t_top  # what leaves the top port for the customer
            if implicit:
                # Backward Euler, coupled: the tank (tank_advection_coefficients), the
                # exchanger heating what leaves the bottom, T_in = T_b' + Q_hx / (m_s cp),
                # and the loop, (C_l/dt) (T_l' - T_l) = Q_cap - Q_rej - kk (T_l' - T_b'),
                # are solved together with the flows and duties decided above, so the
                # heat that leaves each port is booked at the temperature it leaves with.
                # Everything is affine in the net loop duty q = Q_cap - Q_rej:
                # T_in = alpha(q) + beta T_b', T_b' = a_b + b_b T_in.
                if not have_coef or m_c <= 0.0:
                    tank_advection_coefficients(t, r_layer, m_s, m_c, t_rt, coef_a, coef_b)
                a_b = coef_a[n_layers - 1]
                b_b = coef_b[n_layers - 1]
                gamma = 0.0  # d alpha / d q
                beta = 1.0
                if m_s > 0.0:
                    den = (c_m + kk) * m_s * cp_s
                    gamma = kk / den
                    beta = 1.0 - kk * c_m / den
                inv = 1.0 / (1.0 - beta * b_b)
                t_in = (gamma * (c_m * t_l + q_cap - q_rej) + beta * a_b) * inv
                t_b_new = a_b + b_b * t_in
                t_new = (c_m * t_l + kk * t_b_new + q_cap - q_rej) / (c_m + kk)
                # The decisions used the bottom temperature at the start of the sub-step;
                # with the new one, hold the loop limit (more reject, then throttle), let
                # the dry cooler hold its floor when it runs or charging is at full flow,
                # and give back what the loop no longer needs (less throttling or reject).
                # T_l' rises with q at the rate dt_dq > 0, so each is one affine step.
                dt_dq = (1.0 + kk * b_b * gamma * inv) / (c_m + kk)
                rej_cap = params[P_REJECT_CAPACITY_W]
                changed = False
                if t_new > t_max:
                    excess = (t_new - t_max) / dt_dq
                    if can_reject and q_rej < rej_cap:
                        extra = min(excess, rej_cap - q_rej)
                        q_rej += extra
                        excess -= extra
                    cut = min(excess, q_cap)
                    if cut > 0.0:
                        q_cap -= cut
                        p_it = q_cap / f_cap
                    changed = True
                elif q_cap < q_cap_req:
                    q_cap += min((t_max - t_new) / dt_dq, q_cap_req - q_cap)
                    p_it = q_cap / f_cap
                    changed = True
                elif (
                    can_reject
                    and t_new > t_rej_floor
                    and q_rej < rej_cap
                    and (q_rej > 0.0 or kk >= k_max)
                ):
                    q_rej += min((t_new - t_rej_floor) / dt_dq, rej_cap - q_rej)
                    changed = True
                elif q_rej > 0.0 and t_new < t_rej_floor:
                    q_rej -= min((t_rej_floor - t_new) / dt_dq, q_rej)
                    changed = True
                if changed:
                    t_in = (gamma * (c_m * t_l + q_cap - q_rej) + beta * a_b) * inv
                    t_b_new = a_b + b_b * t_in
                    t_new = (c_m * t_l + kk * t_b_new + q_cap - q_rej) / (c_m + kk)
                q_hx = kk * (t_new - t_b_new)
                for j in range(n_layers):
                    t[j] = coef_a[j] + coef_b[j] * t_in
                t_top_out = t[0]
            else:
                # explicit upwind with fixed inlets; old temperatures throughout
                q_hx = kk * (t_new - t_bot)
                t_hx_out = t_bot
                if m_s > 0.0:
                    t_hx_out = t_bot + q_hx / (m_s * cp_s)
                f = dts / m_layer
                m_net = m_s - m_c  # downward net flow between layers
                if n_layers == 1:
                    t[0] += f * (m_s * (t_hx_out - t_top) + m_c * (t_rt - t_bot))
                else:
                    down = max(m_net, 0.0)
                    up = max(-m_net, 0.0)
                    prev_old = t[0]
                    t[0] += f * (m_s * (t_hx_out - t[0]) + up * (t[1] - t[0]))
                    for j in range(1, n_layers - 1):
                        cur_old = t[j]
                        t[j] += f * (down * (prev_old - cur_old) + up * (t[j + 1] - cur_old))
                        prev_old = cur_old
                    j = n_layers - 1
                    t[j] += f * (m_c * (t_rt - t[j]) + down * (prev_old - t[j]))
            state[S_LOOP_C] = t_new
            state[S_SECONDARY_FLOW_KG_PER_S] = m_s
            t_coolant_supply = t_new
            if m_p > 0.0:
                t_coolant_supply = t_new - (q_hx + q_rej) / c_p
            q_tank_loss_j = 0.0
            for j in range(n_layers):
                t_j = t_amb + (t[j] - t_amb) * loss_factor
                q_tank_loss_j += c_layer * (t[j] - t_j)
                t[j] = t_j
            _mix_inversions(t, tmp_val, tmp_cnt)

            # ---------------------------------------------------------------- customer, booked
            # what reached the customer: the water that left the top port (at its new
            # temperature with the implicit update), lifted by the heat pump, through the pipe
            if implicit and m_c > 0.0:
                t_hp_out = t_top_out + q_hp / (m_c * cp_s)
                t_out = t_sur + (t_hp_out - t_sur) * a_pipe
                q_del = m_c * cp_s * (t_out - t_ret)
                q_pipe = m_c * cp_s * ((t_hp_out - t_out) + (t_ret - t_rt_pipe))
            state[S_SUPPLY_C] = t_out
            t_meas = t_out + offset

            # backup boiler after the control delay (the controller acts on t_meas); it is
            # the customer's and does not touch the tank, so it acts on the supply of this
            # sub-step as delivered
            q_bkp = 0.0
            unmet = 0.0
            if serving:
                q_short = q_d - m_c * cp_s * (t_meas - t_ret)
                deficit = q_short > 0.005 * q_d + 1.0 or t_meas < t_req
                # Hot standby: the boiler is pre-started (its control delay runs) as soon as
                # the plant works at its limit (customer flow at its cap) or the measured
                # supply comes within BACKUP_ARM_MARGIN_K of the requirement, so that it can
                # take over when the deficit comes instead of letting the supply dip for
                # the whole delay every time the tank runs low.
                near_limit = (m_cap > 0.0 and m_c >= 0.98 * m_cap) or (
                    t_meas < t_req + BACKUP_ARM_MARGIN_K
                )
                if not near_limit and has_backup:
                    # Optimum start: demand, now or known from the schedule (e.g. opening
                    # hours), that the plant cannot cover within the boiler's control delay,
                    # at the return the customer gives at that load and at the tank top the
                    # delay leaves: a tank drained at the net flow m_c - m_s has moved its
                    # water (m_c - m_s) * delay / m_layer layers up by then (the upwind
                    # scheme's top mixes towards the layer below, so interpolated).
                    delay_s = params[P_BACKUP_DELAY_S]
                    t_pred = t[0]
                    if m_c > m_s and n_layers > 1:
                        x_up = (m_c - m_s) * delay_s / m_layer
                        k_up = int(x_up)
                        if k_up >= n_layers - 1:
                            t_pred = t[n_layers - 1]
                        else:
                            t_pred = t[k_up] + (x_up - k_up) * (t[k_up + 1] - t[k_up])
                    t_pred = min(t_pred, t_top)
                    # as the controller will measure it at the customer, at the pump's cap
                    if m_cap > 0.0:
                        t_pred = t_sur + (t_pred - t_sur) * math.exp(-pipe_ua / (m_cap * cp_s))
                    t_pred += offset
                    j_end = min(i + 1 + int(delay_s / dt_step), n_steps_all)
                    for j in range(i, j_end):
                        cap_j = m_cap * cp_s * max(t_pred - series[X_RETURN_C, j], 0.0)
                        if series[X_DEMAND_W, j] > cap_j:
                            near_limit = True
                            break
                # The boiler sits in the customer circuit and shares its circulation pump:
                # with that pump down (m_cap == 0) no heat, recovered or backup, reaches
                # the customer.
                if deficit or near_limit:
                    # the boiler fires once the control delay has run: for the part of the
                    # sub-step after that (all of it when the delay ran out before)
                    on_s = state[S_BACKUP_TIMER_S] + dts - params[P_BACKUP_DELAY_S]
                    if deficit and has_backup and m_cap > 0.0 and on_s > 0.0:
                        q_bkp = min(max(q_short, 0.0), params[P_BACKUP_CAPACITY_W])
                        if on_s < dts:
                            q_bkp *= on_s / dts
                    state[S_BACKUP_TIMER_S] += dts
                else:
                    state[S_BACKUP_TIMER_S] = 0.0
                unmet = max(q_d - q_del - q_bkp, 0.0)
            else:
                state[S_BACKUP_TIMER_S] = 0.0
            m_cust_circuit = 0.0
            if serving and t_req > t_ret:
                m_cust_circuit = q_d / (cp_s * (t_req - t_ret))
            # Supply temperature at the customer interface (the SLA's point):
            # - nothing demanded: the water standing in (or flowing through) the pipe;
            # - demand met by the plant alone: the plant's supply as it arrives;
            # - demand met with backup heat: the boiler lifts the flow to (at least) the
            #   requirement;
            # - demand not met (deficit before the boiler takes over, boiler too small, or
            #   the circuit pump down): the customer circuit, at the flow that carries
            #   the demand with the lift it would have had (to the plant's supply, at
            #   least to the requirement), only reaches
            #   T_ret + (Q_del + Q_backup) / (mdot cp) = T_ret + Q_in / Q_d (T_lift - T_ret),
            #   down to the return temperature when no heat arrives at all. Continuous at
            #   Q_in = Q_d: a supply 0.5 % short of the demand reads a hair below the
            #   plant's supply, not the requirement (a one-step dip of several K when the
            #   tank ran just short of a demand it covered the step before).
            t_cust = t_out
            if m_cust_circuit > 0.0:
                q_in = q_del + q_bkp
                if q_in < q_d * (1.0 - 0.005) - 1.0:
                    t_lift = max(t_out, t_req)
                    t_cust = t_ret + q_in / q_d * (t_lift - t_ret)
                elif q_bkp > 0.0:
                    t_cust = max(t_out, t_req)

            # ---------------------------------------------------------------- electricity
            pump_w = (
                params[P_PUMP_PRIMARY_W] * av_p * av_p * av_p
            )  # constant speed at its (degraded) curve
            if params[P_MDOT_SECONDARY_KG_PER_S] > 0.0:
                x = m_s / params[P_MDOT_SECONDARY_KG_PER_S]
                pump_w += params[P_PUMP_SECONDARY_W] * x * x * x
            if params[P_MDOT_CUSTOMER_KG_PER_S] > 0.0:
                x = m_c / params[P_MDOT_CUSTOMER_KG_PER_S]
                pump_w += params[P_PUMP_CUSTOMER_W] * x * x * x
            cooling_w = params[P_COOLING_FRACTION] * p_it
            other_w = params[P_OTHER_POWER_W] if feed else 0.0

            # ---------------------------------------------------------------- modes
            if fault:
                bits |= 1 << MODE_DEGRADED
            if q_rej > _EPS_W:
                bits |= 1 << MODE_REJECT
            if not connected:
                bits |= 1 << MODE_CUSTOMER_DISCONNECTED
            if q_bkp > _EPS_W or q_hp > _EPS_W:
                bits |= 1 << MODE_BACKUP
            if p_req - p_it > _EPS_W:
                bits |= 1 << MODE_THROTTLED
            if not feed:
                bits |= 1 << MODE_DOWN

            # ---------------------------------------------------------------- accumulate
            t_mean = 0.0
            for j in range(n_layers):
                t_mean += t[j]
            t_mean /= n_layers
            acc[O_IT_POWER_W] += p_it
            acc[O_IT_THROTTLED_W] += p_req - p_it
            acc[O_HEAT_CAPTURED_W] += q_cap
            acc[O_HEAT_TO_ROOM_W] += p_it - q_cap
            acc[O_HX_HEAT_W] += q_hx
            acc[O_HEAT_REJECTED_W] += q_rej
            acc[O_LOOP_TEMP_C] += t_new
            acc[O_COOLANT_SUPPLY_TEMP_C] += t_coolant_supply
            acc[O_TANK_TOP_C] += t[0]
            acc[O_TANK_BOTTOM_C] += t[n_layers - 1]
            acc[O_TANK_MEAN_C] += t_mean
            acc[O_SUPPLY_TEMP_C] += t_out
            acc[O_SUPPLY_MEASURED_C] += t_meas
            acc[O_CUSTOMER_SUPPLY_C] += t_cust
            acc[O_RETURN_TEMP_C] += t_ret
            acc[O_HEAT_DEMAND_W] += q_d
            acc[O_HEAT_DELIVERED_W] += q_del
            acc[O_BACKUP_HEAT_W] += q_bkp
            acc[O_UNMET_HEAT_W] += unmet
            acc[O_PIPE_LOSS_W] += q_pipe
            acc[O_TANK_LOSS_W] += q_tank_loss_j / dts
            acc[O_HP_HEAT_W] += q_hp
            acc[O_HP_ELECTRICITY_W] += w_hp
            acc[O_PUMP_ELECTRICITY_W] += pump_w
            acc[O_COOLING_ELECTRICITY_W] += cooling_w
            acc[O_OTHER_ELECTRICITY_W] += other_w
            acc[O_TOTAL_ELECTRICITY_W] += p_it + cooling_w + other_w + pump_w + w_hp
            acc[O_FLOW_PRIMARY_M3_PER_H] += m_p / rho_p * SECONDS_PER_HOUR
            acc[O_FLOW_SECONDARY_M3_PER_H] += m_s / rho_s * SECONDS_PER_HOUR
            acc[O_FLOW_CUSTOMER_M3_PER_H] += m_c / rho_s * SECONDS_PER_HOUR
            acc[O_BACKUP_FUEL_W] += q_bkp / params[P_BACKUP_EFFICIENCY]
            if record_layers:
                for j in range(n_layers):
                    lay_acc[j] += t[j]

        # ------------------------------------------------------------------ write the step
        inv = 1.0 / n_sub
        for k in range(N_OUT):
            out[k, k_out] = acc[k] * inv
        if record_layers:
            for j in range(n_layers):
                layer_out[j, k_out] = lay_acc[j] * inv
        mode = MODE_NORMAL
        for m in range(N_MODES - 1, -1, -1):
            if bits & (1 << m):
                mode = m
                break
        mode_out[k_out] = mode
        mode_flags_out[k_out] = bits

        # totals are energies [J] = mean power [W] * step [s], kept in float64
        totals[T_IT_J] += acc[O_IT_POWER_W] * dts
        totals[T_IT_THROTTLED_J] += acc[O_IT_THROTTLED_W] * dts
        totals[T_CAPTURED_J] += acc[O_HEAT_CAPTURED_W] * dts
        totals[T_ROOM_J] += acc[O_HEAT_TO_ROOM_W] * dts
        totals[T_HX_J] += acc[O_HX_HEAT_W] * dts
        totals[T_REJECTED_J] += acc[O_HEAT_REJECTED_W] * dts
        totals[T_DEMAND_J] += acc[O_HEAT_DEMAND_W] * dts
        totals[T_DELIVERED_J] += acc[O_HEAT_DELIVERED_W] * dts
        totals[T_BACKUP_J] += acc[O_BACKUP_HEAT_W] * dts
        totals[T_BACKUP_FUEL_J] += acc[O_BACKUP_FUEL_W] * dts
        totals[T_UNMET_J] += acc[O_UNMET_HEAT_W] * dts
        totals[T_PIPE_LOSS_J] += acc[O_PIPE_LOSS_W] * dts
        totals[T_TANK_LOSS_J] += acc[O_TANK_LOSS_W] * dts
        totals[T_HP_HEAT_J] += acc[O_HP_HEAT_W] * dts
        totals[T_HP_ELECTRICITY_J] += acc[O_HP_ELECTRICITY_W] * dts
        totals[T_PUMP_ELECTRICITY_J] += acc[O_PUMP_ELECTRICITY_W] * dts
        totals[T_COOLING_ELECTRICITY_J] += acc[O_COOLING_ELECTRICITY_W] * dts
        totals[T_OTHER_ELECTRICITY_J] += acc[O_OTHER_ELECTRICITY_W] * dts
        totals[T_DURATION_S] += dt_step
        totals[T_MODE_0_S + mode] += dt_step
