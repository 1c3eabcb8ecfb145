"""The worked examples in optimizer/'s docstrings run: each is a doctest, and a wrong one fails here."""

import doctest
import importlib
import pkgutil

import pytest

import optimizer

MODULES = sorted(m.name for m in pkgutil.walk_packages(optimizer.__path__, "optimizer.")
                 if m.name != "optimizer.__main__")


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_of_each_module_hold(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_the_worked_examples_are_there_to_run():
    # recovery, limit_jpy, var_tvar (2), exceedance, the column layout, the domain's money (3), and more
    examples = sum(len(t.examples) for name in MODULES
                   for t in doctest.DocTestFinder().find(importlib.import_module(name)))
    assert examples >= 12
