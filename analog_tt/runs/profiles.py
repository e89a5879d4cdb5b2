"""Profiles: ``analog_tt/profiles/<name>.yaml`` read into sweeps of run configs and notebook parameters.

The YAML layout::

    notebooks:                       # parameters passed to each notebook by `make reproduce`
      05_mnist_multi_tile: {n_workers: 2}
    experiments:
      defaults: {dataset: mnist, batch_size: 64, seeds: [0, 1]}   # for every experiment
      fig2:
        description: what it reproduces
        base: {algorithm: agad, epochs: 40, swa_start: 35}
        grid: {n_tiles: [1, 4, 8]}          # or a list of grids (their union)
        seeds: [0, 1, 2]                     # overrides defaults.seeds
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.paths import PROFILE_DIR
from ..core.validation import check_choice
from ..core.vocabulary import EXPERIMENTS, PAPER_TARGET_ACCURACY, PROFILES
from .config import RunConfig

__all__ = ["Sweep", "available_profiles", "load_profile", "notebook_parameters", "read_profile"]


def available_profiles(profile_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the profile files in ``profile_dir`` (default ``analog_tt/profiles/``)."""
    directory = Path(profile_dir) if profile_dir is not None else PROFILE_DIR
    return sorted(p.stem for p in directory.glob("*.yaml"))


def read_profile(name: str, profile_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """The parsed ``analog_tt/profiles/<name>.yaml`` (unknown names raise, listing the known ones)."""
    import yaml

    directory = Path(profile_dir) if profile_dir is not None else PROFILE_DIR
    if profile_dir is None:
        check_choice("profile", name, PROFILES)
    allowed = available_profiles(directory)
    if name not in allowed:
        raise ValueError(f"unknown profile {name!r}; allowed: {allowed} (in {directory})")
    return yaml.safe_load((directory / f"{name}.yaml").read_text()) or {}


def notebook_parameters(profile: str, notebook: str) -> dict[str, Any]:
    """Parameters for one notebook: the profile's ``notebooks:`` values plus ``profile`` itself."""
    values = dict((read_profile(profile).get("notebooks") or {}).get(notebook) or {})
    values["profile"] = profile
    return values


@dataclass
class Sweep:
    """A profile's experiments expanded into run configs.

    Attributes
    ----------
    profile : str
    experiments : dict of str to list of RunConfig
    descriptions : dict of str to str
    """

    profile: str
    experiments: dict[str, list[RunConfig]] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)

    def select(self, only: Iterable[str] | None) -> Sweep:
        """A sweep with only the named experiments (unknown names raise, listing the known)."""
        if not only:
            return self
        only = list(only)
        unknown = [e for e in only if e not in self.experiments]
        if unknown:
            raise ValueError(
                f"unknown experiment(s) {unknown} in profile {self.profile!r}; "
                f"allowed: {sorted(self.experiments)}"
            )
        return Sweep(
            self.profile,
            {e: self.experiments[e] for e in only},
            {e: self.descriptions.get(e, "") for e in only},
        )

    def where(self, **allowed: Iterable[Any]) -> Sweep:
        """A sweep with only the runs whose fields take one of the given values.

        Example: ``sweep.where(n_tiles=[1, 8, 32], seed=[0, 1, 2])``. Unknown fields raise.
        """
        names = {f.name for f in dataclasses.fields(RunConfig)}
        unknown = sorted(set(allowed) - names)
        if unknown:
            raise ValueError(f"unknown RunConfig field(s) {unknown}; allowed: {sorted(names)}")
        keep = {k: list(v) for k, v in allowed.items()}
        return Sweep(
            self.profile,
            {
                e: [c for c in cfgs if all(getattr(c, k) in vals for k, vals in keep.items())]
                for e, cfgs in self.experiments.items()
            },
            dict(self.descriptions),
        )

    def values(self, name: str) -> list[Any]:
        """The distinct values field ``name`` takes in this sweep (for error messages)."""
        seen: list[Any] = []
        for cfgs in self.experiments.values():
            for c in cfgs:
                v = getattr(c, name)
                if v not in seen:
                    seen.append(v)
        return seen

    def __len__(self) -> int:
        return sum(len(v) for v in self.experiments.values())


def _expand_grid(
    base: Mapping[str, Any], grid: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
) -> list[dict[str, Any]]:
    grids = [grid] if isinstance(grid, Mapping) or grid is None else list(grid)
    out: list[dict[str, Any]] = []
    for g in grids:
        combos: list[dict[str, Any]] = [dict(base)]
        for name, values in (g or {}).items():
            values = values if isinstance(values, list) else [values]
            combos = [{**c, name: v} for c in combos for v in values]
        out.extend(combos)
    return out


def load_profile(name: str, profile_dir: str | os.PathLike | None = None) -> Sweep:
    """Read the ``experiments:`` of ``analog_tt/profiles/<name>.yaml`` into a :class:`Sweep`.

    Raises
    ------
    ValueError
        Unknown profile (listing the available ones), unknown experiment name or key, bad config
        field (naming the profile, experiment and field), an ``epochs_to_97`` experiment that
        stops at another accuracy than the paper's 97 % (name it ``epochs_to_target``).
    """
    doc = read_profile(name, profile_dir)
    spec = doc.get("experiments")
    if not isinstance(spec, Mapping):
        raise ValueError(f"analog_tt/profiles/{name}.yaml has no 'experiments:' mapping")
    defaults = dict(spec.get("defaults") or {})
    default_seeds = defaults.pop("seeds", [0])
    sweep = Sweep(name)
    for exp, body in spec.items():
        if exp == "defaults":
            continue
        if exp not in EXPERIMENTS:
            raise ValueError(
                f"analog_tt/profiles/{name}.yaml: unknown experiment {exp!r}; allowed: {list(EXPERIMENTS)}"
            )
        body = dict(body or {})
        unknown = sorted(set(body) - {"base", "grid", "seeds", "description"})
        if unknown:
            raise ValueError(
                f"analog_tt/profiles/{name}.yaml, {exp}: unknown key(s) {unknown}; "
                "allowed: base, grid, seeds, description"
            )
        seeds = body.get("seeds", default_seeds)
        base = {**defaults, **(body.get("base") or {})}
        configs: list[RunConfig] = []
        seen: set[str] = set()
        for combo in _expand_grid(base, body.get("grid")):
            for seed in seeds:
                try:
                    cfg = RunConfig.from_dict({**combo, "seed": seed})
                except (TypeError, ValueError) as exc:
                    raise ValueError(
                        f"analog_tt/profiles/{name}.yaml, experiment {exp}: {exc}"
                    ) from None
                if cfg.key() not in seen:
                    seen.add(cfg.key())
                    configs.append(cfg)
        if exp == "epochs_to_97":
            other = sorted({c.stop_at_accuracy for c in configs} - {PAPER_TARGET_ACCURACY}, key=str)
            if other:
                raise ValueError(
                    f"analog_tt/profiles/{name}.yaml: experiment epochs_to_97 stops at "
                    f"{other}, not at the paper's {PAPER_TARGET_ACCURACY}; runs to another target "
                    "must not be read as epochs to 97 %: name the experiment epochs_to_target"
                )
        sweep.experiments[exp] = configs
        sweep.descriptions[exp] = str(body.get("description", ""))
    return sweep
