"""Shared test configuration: GPU and MOSEK tests skip, with the reason, where unsupported."""

from __future__ import annotations

import importlib.util

import pytest


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any("gpu" in item.keywords for item in items) and not _cuda_available():
        skip_gpu = pytest.mark.skip(reason="needs a CUDA device (none on this machine)")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip_gpu)
    if importlib.util.find_spec("mosek") is None:
        skip_mosek = pytest.mark.skip(reason="MOSEK is not installed: pip install 'amm-opt[mosek]'")
        for item in items:
            if "mosek" in item.keywords:
                item.add_marker(skip_mosek)
