"""Watch and respond: alert lifecycle, routing, inhibition, silences and escalation.

The pieces are pure and driven by an explicit ``now`` (an injectable clock), so the
same code evaluates stored history (``heatreuse detect``) and live data (``serve``)
and tests advance time without sleeping. Design: Prometheus alerting rules (``for``,
``keep_firing_for``) and Alertmanager (routing tree, grouping timers, inhibition,
silences); see docs/architecture.md.
"""
