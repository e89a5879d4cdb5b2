"""A plan for the runs a sweep has not finished: which run goes on which core, within a time budget.

``python -m analog_tt sweep paper --plan 2.5 --cores 2`` prints one queue per core (runs one after
the other) that fits the budget, and the command that runs each queue. The costs are
:mod:`analog_tt.runs.estimate`'s, from the finished runs' wall times (measured mostly two runs at
a time on two cores, so they hold for that pairing).

Which runs come first: breadth over seeds. A run's rank is how many seeds of its setting (its
config bar the seed) are finished or planned before it, so every setting gets its first seed, then
every setting its second, and so on (a verdict needs at least two runs a side); within a rank,
the profile's order. Each run goes to the core with the most time left if it fits there; a run
longer than the whole budget, or without an estimate, is listed and not planned. Each queue then
runs its longest runs first, so the long (large-N) runs of the two queues share the machine with
each other, which is the pairing that finishes a set of runs soonest (README, "How the campaign
pairs its runs").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import RunConfig
from .estimate import RunCost, estimate_runs
from .profiles import Sweep

__all__ = ["Plan", "PlannedRun", "plan_runs"]


@dataclass(frozen=True)
class PlannedRun:
    """One run not finished yet, with its estimate and the ``--where`` filters that select it.

    Attributes
    ----------
    experiment : str
    config : RunConfig
    cost : RunCost
    where : tuple of str
        ``FIELD=VALUE`` filters, as few as the profile's runs of the experiment need: with
        ``--only experiment`` they select this run and no other.
    """

    experiment: str
    config: RunConfig
    cost: RunCost
    where: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.experiment} " + " ".join(self.where)


@dataclass
class Plan:
    """Queues of runs, one per core, and the runs left out of them.

    Attributes
    ----------
    budget_s : float
        Wall seconds each core may spend.
    queues : list of list of PlannedRun
        One queue per core, longest run first.
    left_out : list of PlannedRun
        Runs that fit no core's remaining time.
    too_long : list of PlannedRun
        Runs whose estimate alone exceeds the budget.
    unknown : list of PlannedRun
        Runs without an estimate (no comparable run has finished).
    running : list of PlannedRun
        Runs a live process is computing now (their claim exists); not planned again.
    """

    budget_s: float
    queues: list[list[PlannedRun]] = field(default_factory=list)
    left_out: list[PlannedRun] = field(default_factory=list)
    too_long: list[PlannedRun] = field(default_factory=list)
    unknown: list[PlannedRun] = field(default_factory=list)
    running: list[PlannedRun] = field(default_factory=list)

    def queue_seconds(self) -> list[float]:
        return [sum(run.cost.seconds for run in queue) for queue in self.queues]

    def commands(self, profile: str, program: str = "python -m analog_tt sweep") -> list[str]:
        """One shell line per non-empty queue: its runs one after the other (``;``-separated,
        so that a failed run does not stop the queue)."""
        lines = []
        for queue in self.queues:
            if queue:
                lines.append(" ; ".join(
                    f"{program} {profile} --workers 1 --only {run.experiment} "
                    + " ".join(f"--where {w}" for w in run.where)
                    for run in queue
                ))  # fmt: skip
        return lines

    def describe(self, profile: str) -> str:
        """The plan as text: each queue with its runs' estimates, what was left out, commands."""
        hours = self.budget_s / 3600
        planned = [run for queue in self.queues for run in queue]
        out = [f"plan: {len(self.queues)} core(s) x {hours:g} h, {len(planned)} run(s), "
               f"~{sum(self.queue_seconds()) / 3600:.1f} core-h (estimates from finished runs, "
               "most of them measured two at a time on two cores)"]  # fmt: skip
        for i, (queue, seconds) in enumerate(
            zip(self.queues, self.queue_seconds(), strict=True), 1
        ):
            out.append(f"core {i}: ~{seconds / 3600:.2f} h")
            out.extend(f"  {_cost_text(run.cost)}  {run.label}" for run in queue)
        for name, runs, why in (
            ("running", self.running, "being computed now, not planned again"),
            ("left out", self.left_out, "fit no core's time left"),
            ("too long", self.too_long, f"each over {hours:g} h"),
            ("no estimate", self.unknown, "no comparable run has finished"),
        ):
            if runs:
                shown = "; ".join(
                    run.label
                    + (f" ({_cost_text(run.cost)})" if math.isfinite(run.cost.seconds) else "")
                    for run in runs[:4]
                )
                more = f"; and {len(runs) - 4} more" if len(runs) > 4 else ""
                out.append(f"{name}: {len(runs)} run(s), {why}: {shown}{more}")
        commands = self.commands(profile)
        if commands:
            out.append("commands (one per core; run each in its own shell or with nohup ... &):")
            out.extend(f"  {line}" for line in commands)
        return "\n".join(out)


def _cost_text(cost: RunCost) -> str:
    return f"~{cost.seconds / 3600:.2f} h ({cost.epochs:.0f} epochs, from {cost.epochs_from})"


def _format_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _varying_fields(configs: list[RunConfig]) -> list[str]:
    names = [f.name for f in dataclasses.fields(RunConfig)]
    return [n for n in names if len({repr(getattr(c, n)) for c in configs}) > 1]


def _where(experiment: str, config: RunConfig, configs: list[RunConfig]) -> tuple[str, ...]:
    """``FIELD=VALUE`` filters selecting ``config`` alone among ``configs``.

    Raises
    ------
    ValueError
        A varying field whose value does not survive the ``--where`` syntax (a comma-separated
        YAML scalar), so that the run cannot be selected from the command line.
    """
    import yaml

    where = []
    for name in _varying_fields(configs):
        value = getattr(config, name)
        text = _format_value(value)
        if "," in text or yaml.safe_load(text) != value:
            raise ValueError(
                f"experiment {experiment}: field {name} = {value!r} varies between runs but "
                "cannot be written as --where FIELD=VALUE; plan this experiment by hand"
            )
        where.append((name, value, f"{name}={text}"))
    for item in reversed(list(where)):  # drop fields the others already pin down
        rest = [w for w in where if w is not item]
        if sum(all(getattr(c, n) == v for n, v, _ in rest) for c in configs) == 1:
            where = rest
    return tuple(text for _, _, text in where)


def plan_runs(
    sweep: Sweep,
    state: Callable[[str, RunConfig], str],
    measured: list[dict[str, Any]],
    budget_hours: float,
    cores: int,
    full: Sweep | None = None,
) -> Plan:
    """Queues for ``cores`` cores of ``budget_hours`` each from the unfinished runs of ``sweep``.

    Parameters
    ----------
    sweep : Sweep
        The runs to consider (a profile, maybe narrowed with ``select`` / ``where``).
    state : callable
        ``state(experiment, config)``: ``"done"`` where the run's finished result exists,
        ``"running"`` where a live process is computing it, else ``"left"``. Running runs count
        as a seed of their setting, like finished ones.
    measured : list of dict
        :func:`analog_tt.runs.estimate.measured_costs` of the finished runs.
    budget_hours : float
        Wall hours each core may spend, > 0.
    cores : int
        Queues to fill, >= 1.
    full : Sweep, optional
        The profile's whole sweep, of which ``sweep`` is a selection (default: ``sweep``). The
        ``--where`` filters of each planned run select it alone among ``full``'s runs, since
        that is what its command runs against.
    """
    if not (isinstance(budget_hours, int | float) and math.isfinite(budget_hours)
            and budget_hours > 0):  # fmt: skip
        raise ValueError(
            f"the plan's budget must be a positive number of hours, got {budget_hours!r}"
        )
    if not isinstance(cores, int) or cores < 1:
        raise ValueError(f"the plan needs at least one core, got {cores!r}")
    plan = Plan(budget_s=budget_hours * 3600, queues=[[] for _ in range(cores)])
    candidates: list[tuple[int, int, PlannedRun]] = []
    pool = (full if full is not None else sweep).experiments
    for experiment, configs in sweep.experiments.items():
        states = [state(experiment, c) for c in configs]
        unknown_states = sorted(set(states) - {"done", "running", "left"})
        if unknown_states:
            raise ValueError(f"state() must say done, running or left, got {unknown_states}")
        seeds_of_setting: dict[str, int] = {}
        for config, run_state in zip(configs, states, strict=True):
            if run_state != "left":
                setting = dataclasses.replace(config, seed=0).key()
                seeds_of_setting[setting] = seeds_of_setting.get(setting, 0) + 1
        todo = [(c, st) for c, st in zip(configs, states, strict=True) if st != "done"]
        costs = estimate_runs([c for c, _ in todo], measured)
        for (config, run_state), cost in zip(todo, costs, strict=True):
            run = PlannedRun(experiment, config, cost, _where(experiment, config, pool[experiment]))
            if run_state == "running":
                plan.running.append(run)
                continue
            setting = dataclasses.replace(config, seed=0).key()
            rank = seeds_of_setting.get(setting, 0)
            seeds_of_setting[setting] = rank + 1
            candidates.append((rank, len(candidates), run))
    loads = [0.0] * cores
    for _, _, run in sorted(candidates, key=lambda item: item[:2]):
        seconds = run.cost.seconds
        if not math.isfinite(seconds):
            plan.unknown.append(run)
        elif seconds > plan.budget_s:
            plan.too_long.append(run)
        else:
            core = min(range(cores), key=loads.__getitem__)
            if loads[core] + seconds <= plan.budget_s:
                plan.queues[core].append(run)
                loads[core] += seconds
            else:
                plan.left_out.append(run)
    for queue in plan.queues:
        queue.sort(key=lambda run: -run.cost.seconds)
    return plan
