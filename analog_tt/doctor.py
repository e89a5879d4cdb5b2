"""``python -m analog_tt doctor``: check that the torch/aihwkit stack works together.

aihwkit's compiled extension is bound to the C++ ABI of one torch release. A mismatch shows up in
two ways (both seen on this project's machines): an ``ImportError ... undefined symbol`` when
aihwkit is imported (e.g. torch 2.9.1), or an import that works followed by
``RuntimeError: Invalid weights dimensions`` on the first analog layer (e.g. torch 2.13/2.14).
The doctor turns both into one message that names the cause and the pins that fix it.
"""

from __future__ import annotations

import platform
import sys

#: The pinned stack that works together (see requirements.txt).
PINS = {"torch": "2.10.0", "torchvision": "0.25.0", "aihwkit": "1.1.0"}
FIX = (
    "fix: reinstall the pinned stack, e.g. `make env` (or "
    "`pip install torch==2.10.0 torchvision==0.25.0 aihwkit==1.1.0`); aihwkit 1.1.0's wheel is "
    "compiled against torch 2.10's C++ ABI and needs exactly that torch release"
)


class EnvironmentMismatch(RuntimeError):
    """The installed torch and aihwkit cannot work together."""


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def check_stack(steps: int = 5) -> dict[str, object]:
    """Import the stack and train a 2x2 ``AnalogLinear`` for ``steps`` steps.

    Returns
    -------
    dict
        Versions, CUDA flags, thread count and the losses of the training steps.

    Raises
    ------
    EnvironmentMismatch
        When torch and aihwkit do not work together, naming the cause and the fix.
    """
    import torch

    info: dict[str, object] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _version("torchvision"),
        "aihwkit": _version("aihwkit"),
        "torch_threads": torch.get_num_threads(),
        "torch_cuda_available": torch.cuda.is_available(),
    }
    try:
        from aihwkit.simulator.rpu_base import cuda as rpu_cuda
    except ImportError as exc:
        raise EnvironmentMismatch(
            f"aihwkit {info['aihwkit']} cannot load its compiled extension with torch "
            f"{info['torch']}: {exc}\n  cause: torch/aihwkit C++ ABI mismatch "
            f"(aihwkit {PINS['aihwkit']} needs torch {PINS['torch']})\n  {FIX}"
        ) from exc
    info["aihwkit_cuda_compiled"] = bool(rpu_cuda.is_compiled())

    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD
    from aihwkit.simulator.configs import SingleRPUConfig
    from aihwkit.simulator.configs.devices import ConstantStepDevice

    try:
        torch.manual_seed(0)
        layer = AnalogLinear(
            2, 2, bias=False, rpu_config=SingleRPUConfig(device=ConstantStepDevice())
        )
        opt = AnalogSGD(layer.parameters(), lr=0.1)
        opt.regroup_param_groups(layer)
        x = torch.tensor([[0.1, 0.2], [0.2, 0.4]])
        target = torch.tensor([[1.0, 0.5], [0.5, 0.2]])
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            loss = ((layer(x) - target) ** 2).sum()
            loss.backward()
            opt.step()
            losses.append(round(float(loss.detach()), 6))
    except RuntimeError as exc:
        if "Invalid weights dimensions" in str(exc) or "undefined symbol" in str(exc):
            raise EnvironmentMismatch(
                f"aihwkit {info['aihwkit']} imports but fails on its first analog layer with torch "
                f"{info['torch']}: {exc}\n  cause: torch/aihwkit C++ ABI mismatch, not a user error "
                f"(aihwkit {PINS['aihwkit']} needs torch {PINS['torch']})\n  {FIX}"
            ) from exc
        raise
    info["analog_losses"] = losses
    from .core import determinism

    info["aihwkit_seedable"] = determinism.active() or determinism.why_inactive()
    return info


def main() -> int:
    try:
        info = check_stack()
    except EnvironmentMismatch as exc:
        print(f"analog_tt doctor: FAILED\n{exc}", file=sys.stderr)
        return 1
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    pinned = {k: str(info[k]).split("+")[0] for k in PINS}
    off = {k: v for k, v in pinned.items() if v != PINS[k]}
    if off:
        print(f"note: versions differ from the pins {PINS}: {off} (the analog layer still trained)")
    print("analog_tt doctor: OK (a 2x2 AnalogLinear trained for 5 steps)")
    return 0
