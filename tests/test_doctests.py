"""The worked examples in the maths modules' docstrings stay true."""

from __future__ import annotations

import doctest

import pytest

import lossesbox.information
import lossesbox.losses


@pytest.mark.parametrize("module", [lossesbox.losses, lossesbox.information])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
