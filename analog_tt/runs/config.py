"""The run configuration: one frozen dataclass for every MNIST and spiral experiment.

Result keys
-----------
A run's result is stored as ``<results>/<profile>/<experiment>/<key>.json`` with
``key = config.key()``, a hash of the config. **The key rule**: the fields of
:data:`KEY_BASE_FIELDS` (those the first stored results had) are always hashed; every field added
after them is hashed *only when it differs from its default*. So adding a field with a default
renames no stored result, and a run that uses a new field's non-default value gets a new key. A
field added later must therefore store its default unchanged (resolve ``None`` where it is used,
not in ``__post_init__``); ``tests/test_result_keys.py`` checks both this and that every committed
result's key, recomputed from its stored config, is its file name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.files import config_from_dict, config_to_dict, stable_hash
from ..core.validation import check_bool, check_choice, check_int, check_number
from ..core.vocabulary import (
    ACTIVATIONS,
    AUTO_SCALE_STARTS,
    DATASETS,
    DIGITAL_ALGORITHMS,
    INIT_MODES,
    MULTI_TILE_ALGORITHMS,
    READ_MODES,
    READ_PROBES,
    REPLICA_ENGINES,
    RUN_ALGORITHMS,
    VARIANTS,
)

__all__ = ["KEY_BASE_FIELDS", "RESULTS_FORMAT_VERSION", "RunConfig", "parse_network"]

#: Bumped whenever a change of the runner changes what a result file holds or means; part of
#: every key, so old cached results are never mistaken for new ones.
RESULTS_FORMAT_VERSION = 1

#: Fields always part of the key (see the module docstring). Never add to this tuple.
KEY_BASE_FIELDS = (
    "dataset",
    "network",
    "algorithm",
    "variant",
    "n_tiles",
    "bl",
    "lr",
    "batch_size",
    "epochs",
    "stop_at_accuracy",
    "max_epochs",
    "init",
    "init_std",
    "seed",
    "train_subset",
    "test_subset",
    "eval_modes",
    "eval_every",
    "swa_start",
    "swa_freq",
    "swa_weighted_T",
    "auto_scale_start",
    "count_ops",
)

#: Spiral-only fields (must keep their defaults for MNIST runs).
SPIRAL_FIELDS = ("n_per_class", "out_noise", "transfer_out_noise", "fast_lr", "transfer_every")

_DATASET_SHAPES = {"mnist": (784, 10), "spiral": (2, 3)}
_MNIST_SIZES = (60000, 10000)
#: The paper's spiral: 1000 points per arm (nnfs ``spiral_data(samples=1000, classes=3)``).
SPIRAL_POINTS_PER_CLASS = 1000


def parse_network(network: str) -> tuple[tuple[int, ...], str, float]:
    """Parse a network name ``"<in>-<hidden>-...-<out>-<activation>[-x<scale>]"``.

    Examples: ``"784-256-128-10-sigmoid"`` (the paper's MNIST net), ``"2-64-3-relu-x25"`` (the
    spiral net with its outputs multiplied by 25).

    Returns
    -------
    sizes, activation, output_scale
    """
    parts = str(network).split("-")
    scale = 1.0
    if parts and parts[-1].startswith("x"):
        try:
            scale = float(parts[-1][1:])
        except ValueError:
            raise ValueError(f"network: bad output scale {parts[-1]!r} in {network!r}") from None
        parts = parts[:-1]
    if len(parts) < 3 or parts[-1] not in ACTIVATIONS:
        raise ValueError(
            f"network must look like '784-256-128-10-sigmoid' or '2-64-3-relu-x25' "
            f"(sizes, then one of {ACTIVATIONS}, then optionally x<output scale>), got {network!r}"
        )
    try:
        sizes = tuple(int(p) for p in parts[:-1])
    except ValueError:
        raise ValueError(f"network: layer sizes must be integers, got {network!r}") from None
    if any(s < 1 for s in sizes) or scale <= 0:
        raise ValueError(f"network: sizes and output scale must be positive, got {network!r}")
    return sizes, parts[-1], scale


@dataclass(frozen=True)
class RunConfig:
    """One training run. Frozen, hashable, JSON-serialisable; :meth:`key` names its result.

    Defaults are the paper's MNIST setting (seed analysis §3): 784-256-128-10 sigmoid,
    batch 64, AGAD on the EcRam device (γ -0.38/0.76), lr 0.1, BL 31, 40 epochs, pulse-programmed
    replicas, evaluation by tile-averaged noisy least-squares reads.

    Attributes
    ----------
    dataset : {"mnist", "spiral"}
        ``spiral`` is the paper's 3-arm spiral (``n_per_class`` points per arm, drawn with
        ``RandomState(0)``, what ``nnfs.init()`` gives) with a held-out second draw
        (``RandomState(1)``) as its test set; the paper reports training-set accuracy, which
        every spiral test records too (``train_acc``).
    network : str
        See :func:`parse_network`; its input and output sizes must fit the dataset.
    algorithm : {"sgd", "adam", "analog_sgd", "tt_v1", "agad", "tt_v1_multi"}
        ``sgd``/``adam``: floating point (digital baselines); ``analog_sgd``: aihwkit
        single-device EcRam SGD; ``tt_v1``: aihwkit's own one-tile Tiki-Taka (its C++
        ``TransferCompound``); ``agad``: AGAD on our multi-tile tile; ``tt_v1_multi``: TT-v1 on
        our multi-tile tile (the paper's batched TT-v1, ``train_ttbatch.py``; spiral only).
    variant : {"shared_A", "replicated_A"}
        Multi-tile variant (the paper's v1 and v2); multi-tile algorithms only.
    n_tiles : int
        Number of weight replicas N (multi-tile algorithms; 1 for the others). ``n_tiles`` may
        exceed ``batch_size``: the replicas beyond the batch idle.
    bl : int
        Pulse-train length of the gradient update (``update.desired_bl``); analog only.
    lr : float
        Learning rate of the optimiser and of the tile (one value: the presets take it from here).
    batch_size : int
    epochs : int or None
        Number of epochs for a fixed-length run; ``None`` with ``stop_at_accuracy``.
    stop_at_accuracy : float or None
        Stop at the first epoch whose test accuracy (tile average, first read mode) reaches it.
    max_epochs : int or None
        Cap of a ``stop_at_accuracy`` run (required with it).
    init : {"program", "init_std", "independent", "xavier_uniform", "default"} or None
        Initialisation; ``None`` picks ``program`` for ``agad`` on MNIST, ``xavier_uniform`` for
        analog spiral runs (every replica the same Xavier-uniform draw, the paper's spiral
        networks) and ``default`` (the layer's own) otherwise.
    init_std : float
        Perturbation std for ``init="init_std"`` (0 = identical replicas).
    seed : int
    train_subset, test_subset : int or None
        Deterministic class-stratified subsets (``None`` = full split).
    eval_modes : tuple of {"lstsq", "exact"} or None
        How analog weights are read for testing: noisy least-squares reads (the paper's MNIST) or
        exact weights. ``None`` picks ``("lstsq",)`` for analog MNIST runs, ``("exact",)`` else.
    eval_every : int
        Test every ``eval_every`` epochs (and at every SWA epoch and the last epoch).
    swa_start : int or None
        First epoch whose weights enter the SWA running mean (``<= epochs``); ``None``: no SWA.
    swa_freq : int
        Epochs between SWA updates.
    swa_weighted_T : float or None
        Temperature of the performance-weighted SWA (paper: 0.2); ``None`` disables it.
    auto_scale_start : {"paper", "first", "zero"}
        Initial auto-scale maxima of the multi-tile tile (multi-tile algorithms only).
    count_ops : bool
        Record the hardware model's operation counts per epoch (multi-tile algorithms only).
    n_per_class : int or None
        Spiral points per arm (``None``: the paper's 1000).
    out_noise : float or None
        Spiral: output noise of the forward/backward reads (``None``: the preset's, 0.1 for the
        multi-tile presets and aihwkit's ``TikiTakaEcRamPreset`` default for ``tt_v1``).
    transfer_out_noise : float or None
        Spiral: output noise of the transfer read of ``A`` (``None``: ``out_noise``).
    fast_lr : float or None
        Spiral: learning rate of ``A`` (``None``: ``16 * lr`` for AGAD, ``lr`` for TT-v1).
    transfer_every : tuple of int or None
        Spiral: transfer period per layer in mini-batches (the paper's ``t``; ``None``: 1, 1).
    analog_eval_repeats : int
        Repeats of the analog-forward evaluation after the last epoch (the paper's
        ``evaluate_model_analog``: 100); 0 = none.
    read_probes : {"per_replica", "shared"}
        Probes of the noisy test reads of N > 1 replicas: a fresh set per replica (the paper's
        reads, the default) or one set for all replicas with one solve for the tile average
        (:func:`analog_tt.tiles.readout.read_shared_probes`; about N times cheaper to solve).
        With one replica both are the same read, and ``"shared"`` is stored as the default.
        Where the replicas' forward IO parameters allow, a shared read sends the probes through
        all replicas in one batched torch mat-mul (:mod:`analog_tt.tiles.io_forward`, aihwkit's
        IO-managed forward re-done in torch; the same read in distribution, tested against
        aihwkit's tiles); runs before it used aihwkit's per-replica forward (their
        ``provenance.git_commit`` tells).
    replica_engine : {"aihwkit", "batched"}
        How the multi-tile layers run the training forward and backward of their replicas:
        aihwkit's C++ call per replica (the reference; every run before this field) or one
        batched torch pass over weights shared with the C++ tiles (faster at large N; the same
        training in distribution, its own random stream; see
        :class:`analog_tt.tiles.MultiTileRPUConfig`).
    """

    dataset: str = "mnist"
    network: str = "784-256-128-10-sigmoid"
    algorithm: str = "agad"
    variant: str = "shared_A"
    n_tiles: int = 1
    bl: int = 31
    lr: float = 0.1
    batch_size: int = 64
    epochs: int | None = 40
    stop_at_accuracy: float | None = None
    max_epochs: int | None = None
    init: str | None = None
    init_std: float = 0.0
    seed: int = 0
    train_subset: int | None = None
    test_subset: int | None = None
    eval_modes: tuple[str, ...] | None = None
    eval_every: int = 1
    swa_start: int | None = None
    swa_freq: int = 1
    swa_weighted_T: float | None = None
    auto_scale_start: str = "paper"
    count_ops: bool = False
    # -- added after the first results (hashed only when not at their defaults) --------------
    n_per_class: int | None = None
    out_noise: float | None = None
    transfer_out_noise: float | None = None
    fast_lr: float | None = None
    transfer_every: tuple[int, ...] | None = None
    analog_eval_repeats: int = 0
    read_probes: str = "per_replica"
    replica_engine: str = "aihwkit"

    def __post_init__(self) -> None:
        check_choice("dataset", self.dataset, DATASETS)
        sizes, _, _ = parse_network(self.network)
        n_in, n_out = _DATASET_SHAPES[self.dataset]
        if sizes[0] != n_in or sizes[-1] != n_out:
            raise ValueError(
                f"network {self.network!r} must start with {n_in} inputs and end with {n_out} "
                f"outputs for dataset {self.dataset!r}"
            )
        check_choice("algorithm", self.algorithm, RUN_ALGORITHMS)
        if self.algorithm == "tt_v1_multi" and self.dataset != "spiral":
            raise ValueError(
                "algorithm 'tt_v1_multi' (batched TT-v1) is configured for the spiral only"
            )
        check_choice("variant", self.variant, VARIANTS)
        check_int("n_tiles", self.n_tiles, 1)
        if not self.is_multi_tile and self.n_tiles != 1:
            raise ValueError(
                f"n_tiles must be 1 for algorithm {self.algorithm!r} "
                f"(multi-tile algorithms: {MULTI_TILE_ALGORITHMS})"
            )
        check_int("batch_size", self.batch_size, 1)
        check_int("bl", self.bl, 1)
        object.__setattr__(self, "lr", check_number("lr", self.lr, 0.0, low_open=True))
        if self.stop_at_accuracy is None:
            check_int("epochs", self.epochs, 1)
            if self.max_epochs is not None:
                raise ValueError(
                    "max_epochs is the cap of a stop_at_accuracy run; use epochs for a fixed run"
                )
        else:
            check_number("stop_at_accuracy", self.stop_at_accuracy, 0.0, 1.0, low_open=True)
            if self.epochs is not None:
                raise ValueError(
                    "give either epochs (fixed run) or stop_at_accuracy + max_epochs, not both "
                    "(set epochs to None with stop_at_accuracy)"
                )
            if self.max_epochs is None:
                raise ValueError("stop_at_accuracy needs max_epochs (the cap), got None")
            check_int("max_epochs", self.max_epochs, 1)
        self._check_init()
        check_int("seed", self.seed, 0)
        self._check_subsets()
        self._check_eval_modes()
        check_int("eval_every", self.eval_every, 1)
        check_int("swa_start", self.swa_start, 1, allow_none=True)
        if self.swa_start is not None and self.swa_start > self.n_epochs_max:
            raise ValueError(
                f"swa_start ({self.swa_start}) is after the last epoch ({self.n_epochs_max}): "
                "SWA would never start; lower swa_start or raise the epochs"
            )
        check_int("swa_freq", self.swa_freq, 1)
        if self.swa_weighted_T is not None:
            check_number("swa_weighted_T", self.swa_weighted_T)
            if self.swa_start is None:
                raise ValueError(
                    "swa_weighted_T needs swa_start (performance-weighted SWA is a kind of SWA)"
                )
            if not self.is_multi_tile:
                raise ValueError(
                    f"swa_weighted_T (per-tile performance weights) needs a multi-tile algorithm "
                    f"{MULTI_TILE_ALGORITHMS}"
                )
        check_choice("auto_scale_start", self.auto_scale_start, AUTO_SCALE_STARTS)
        check_bool("count_ops", self.count_ops)
        self._check_spiral_fields()

    def _check_init(self) -> None:
        init = self.init
        if init is None:
            if self.algorithm == "agad" and self.dataset == "mnist":
                init = "program"
            elif self.dataset == "spiral" and self.is_analog:
                init = "xavier_uniform"
            else:
                init = "default"
            object.__setattr__(self, "init", init)
        check_choice("init", init, INIT_MODES)
        if self.is_multi_tile and init == "default":
            raise ValueError(
                f"init for {self.algorithm!r} must be one of "
                f"('program', 'init_std', 'independent', 'xavier_uniform'), got 'default'"
            )
        if not self.is_multi_tile and init not in ("default", "xavier_uniform"):
            raise ValueError(
                f"init must be 'default' or 'xavier_uniform' for algorithm {self.algorithm!r}, "
                f"got {init!r}"
            )
        if not self.is_analog and init != "default":
            raise ValueError(f"init must be 'default' for the digital {self.algorithm!r}")
        object.__setattr__(self, "init_std", check_number("init_std", self.init_std, 0.0))
        if init != "init_std" and self.init_std != 0:
            raise ValueError(f"init_std is only used with init='init_std', got init={init!r}")

    def _check_subsets(self) -> None:
        n_train, n_test = self.dataset_sizes
        check_int("train_subset", self.train_subset, 1, allow_none=True)
        check_int("test_subset", self.test_subset, 1, allow_none=True)
        if self.train_subset is not None and self.train_subset > n_train:
            raise ValueError(
                f"train_subset must be <= {n_train} for {self.dataset}, got {self.train_subset}"
            )
        if self.test_subset is not None and self.test_subset > n_test:
            raise ValueError(
                f"test_subset must be <= {n_test} for {self.dataset}, got {self.test_subset}"
            )

    def _check_eval_modes(self) -> None:
        modes = self.eval_modes
        if modes is None:
            lstsq = self.is_analog and self.dataset == "mnist"
            modes = ("lstsq",) if lstsq else ("exact",)
        if isinstance(modes, str):
            modes = (modes,)
        modes = tuple(modes)
        if not modes or len(set(modes)) != len(modes) or any(m not in READ_MODES for m in modes):
            raise ValueError(
                f"eval_modes must be a non-empty tuple of distinct {READ_MODES}, "
                f"got {self.eval_modes!r}"
            )
        if not self.is_analog and modes != ("exact",):
            raise ValueError(
                f"eval_modes must be ('exact',) for the digital algorithm {self.algorithm!r}"
            )
        object.__setattr__(self, "eval_modes", modes)

    def _check_spiral_fields(self) -> None:
        if self.dataset != "spiral":
            wrong = [f for f in SPIRAL_FIELDS if getattr(self, f) is not None]
            if wrong:
                raise ValueError(
                    f"{', '.join(wrong)}: spiral-only field(s), must be None for {self.dataset}"
                )
        check_int("n_per_class", self.n_per_class, 1, allow_none=True)
        if self.n_per_class == SPIRAL_POINTS_PER_CLASS:
            object.__setattr__(self, "n_per_class", None)  # the paper's spiral: the default
        for name in ("out_noise", "transfer_out_noise"):
            check_number(name, getattr(self, name), 0.0, allow_none=True)
        check_number("fast_lr", self.fast_lr, 0.0, low_open=True, allow_none=True)
        if self.transfer_every is not None:
            periods = tuple(self.transfer_every)
            n_layers = len(parse_network(self.network)[0]) - 1
            if len(periods) != n_layers:
                raise ValueError(
                    f"transfer_every must give one period per layer ({n_layers}), got {periods!r}"
                )
            for i, t in enumerate(periods):
                check_int(f"transfer_every[{i}]", t, 1)
            periods = tuple(int(t) for t in periods)
            # one spelling per run (so one key): every layer at 1 is the default, None
            object.__setattr__(self, "transfer_every", None if set(periods) == {1} else periods)
        check_int("analog_eval_repeats", self.analog_eval_repeats, 0)
        if self.analog_eval_repeats and not self.is_analog:
            raise ValueError("analog_eval_repeats needs an analog algorithm")
        check_choice("read_probes", self.read_probes, READ_PROBES)
        if self.n_tiles == 1:  # one replica: the same read, so one spelling (one key)
            object.__setattr__(self, "read_probes", "per_replica")
        check_choice("replica_engine", self.replica_engine, REPLICA_ENGINES)
        if self.replica_engine != "aihwkit" and not self.is_multi_tile:
            raise ValueError(
                f"replica_engine {self.replica_engine!r} needs a multi-tile algorithm "
                f"{MULTI_TILE_ALGORITHMS}; aihwkit's own tiles run their own forward"
            )

    # -- derived -----------------------------------------------------------------------------
    @property
    def n_epochs_max(self) -> int:
        """The most epochs this run may train."""
        return int(self.epochs if self.stop_at_accuracy is None else self.max_epochs)

    @property
    def is_analog(self) -> bool:
        return self.algorithm not in DIGITAL_ALGORITHMS

    @property
    def is_multi_tile(self) -> bool:
        """Whether the layers are our multi-tile tiles (``n_tiles`` replicas)."""
        return self.algorithm in MULTI_TILE_ALGORITHMS

    @property
    def dataset_sizes(self) -> tuple[int, int]:
        """(training, test) set sizes before subsetting."""
        if self.dataset == "mnist":
            return _MNIST_SIZES
        n = 3 * (self.n_per_class or SPIRAL_POINTS_PER_CLASS)
        return n, n

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (tuples become lists)."""
        out = config_to_dict(self, ("eval_modes",))
        if self.transfer_every is not None:
            out["transfer_every"] = list(self.transfer_every)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`; unknown fields raise a ValueError naming them."""
        return config_from_dict(cls, data, ("eval_modes", "transfer_every"))

    def key(self) -> str:
        """16 hex digits naming this run's result (the key rule is in the module docstring)."""
        stored = self.to_dict()
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        hashed = {
            name: value
            for name, value in stored.items()
            if name in KEY_BASE_FIELDS or value != defaults[name]
        }
        return stable_hash({"results_format": RESULTS_FORMAT_VERSION, **hashed})

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)
