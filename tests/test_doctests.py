"""Every `>>>` example in lamina's docstrings runs and prints what it says (STYLE C12).

Walks the installed `lamina` package with `doctest` (not `--doctest-modules`, which
would import the source tree a second time under another module name).
"""
import doctest
import importlib
import pkgutil

import pytest

import lamina
import lamina.nn
import lamina.optim
import lamina.training


def _modules(package) -> list[str]:
    # lamina.nn and lamina.optim live in their own folders (setuptools package-dir), so
    # walking lamina.__path__ alone would miss them.
    return [package.__name__] + [
        m.name for m in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + ".")]


MODULES = sorted(name for package in (lamina, lamina.nn, lamina.optim, lamina.training)
                 for name in _modules(package) if name != "lamina.training.__main__")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
