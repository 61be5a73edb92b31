"""The examples in the core modules' docstrings run (docstring examples are doctests)."""

from __future__ import annotations

import doctest
import importlib

import pytest

CORE_MODULES = [
    "amm_opt",
    "amm_opt.distributions",
    "amm_opt.problem",
    "amm_opt.menu",
    "amm_opt.evaluate",
    "amm_opt.discretisation",
    "amm_opt.references",
    "amm_opt.solving",
]


@pytest.mark.parametrize("name", CORE_MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    outcome = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert outcome.failed == 0
    assert outcome.attempted > 0, f"{name} has no runnable example"
