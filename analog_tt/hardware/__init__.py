"""The paper's hardware time and energy model (§4.3-4.6, seed analysis §6), as tested code.

``model``     op counts -> time and energy (constants in ``analog_tt/energy_constants.json``)
``analysis``  what notebook 07 builds on it: costs of a setting, speed-ups, Pareto fronts
"""

from __future__ import annotations

from .analysis import model_costs, pareto_front, speedups, speedups_at
from .model import *  # noqa: F401,F403
from .model import __all__ as _model_all

__all__ = [*_model_all, "model_costs", "pareto_front", "speedups", "speedups_at"]
