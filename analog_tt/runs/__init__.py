"""Experiments: run configs, training, the result cache, sweeps and the ``sweep`` command.

``config``      :class:`RunConfig` (one frozen dataclass for MNIST and spiral runs) and the key rule
``models``      data, networks, optimisers, replica initialisation
``evaluation``  digitise (the library's read-out), test, SWA
``training``    :func:`run`: train, test, checkpoint, resume, provenance
``results``     validated reading of result files, :func:`load_results`, :func:`summarize`
``profiles``    ``analog_tt/profiles/<name>.yaml`` into sweeps (:func:`load_profile`) and notebook parameters
``sweep``       :func:`run_sweep` on a Dask cluster
``cli``         ``python -m analog_tt sweep``
``demos``       the two-replica one-weight regression of notebook 03
"""

from __future__ import annotations

from .claims import RunClaimedError
from .config import RunConfig, parse_network
from .profiles import Sweep, available_profiles, load_profile, notebook_parameters, read_profile
from .results import ResultFileError, is_finished, load_results, read_result, summarize
from .sweep import SweepReport, run_sweep
from .training import numerics_code_hash, run

__all__ = [
    "ResultFileError",
    "RunClaimedError",
    "RunConfig",
    "Sweep",
    "SweepReport",
    "available_profiles",
    "is_finished",
    "load_profile",
    "load_results",
    "notebook_parameters",
    "numerics_code_hash",
    "parse_network",
    "read_profile",
    "read_result",
    "run",
    "run_sweep",
    "summarize",
]
