"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

import analog_tt  # noqa: F401  (first: loads the clock helper before torch)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def mnist_root(repo_root: Path) -> Path:
    """The repository's data folder, with verified MNIST (`make data` puts it there)."""
    from analog_tt.data import DataError, verify_mnist

    root = repo_root / "data"
    try:
        verify_mnist(root)
    except DataError as exc:
        pytest.fail(f"MNIST is not ready: {exc}")
    return root
