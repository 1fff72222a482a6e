"""personas/colours.py reads persona colours without matplotlib; it must accept exactly what
matplotlib's to_hex accepted (the charts still draw with it), and give the same code."""

from __future__ import annotations

import pytest
from matplotlib import colors as mcolors

from reporter.personas.colours import _named, to_hex

EDGES = ["none", "#abc", "#abcd", "#aabbcc", "#aabbccdd", "#aabbc", "#aabbccd", "#ggg", "#", "0.5",
         ".5", "1", "0", "0.333", "1e-1", "1.5", "-0.1", "nan", "inf", "c0", "teal ", "", "x",
         "tab:blue", "xkcd:sky blue", "grey", "gray"]


def _matplotlib(value: str) -> str | None:
    try:
        return mcolors.to_hex(value)
    except ValueError:
        return None


@pytest.mark.parametrize("value", EDGES)
def test_a_colour_reads_as_matplotlib_read_it(value):
    assert to_hex(value) == _matplotlib(value)


def test_every_name_matplotlib_knows_is_in_the_table_with_its_code():
    known = {name for name in mcolors._colors_full_map if name == name.lower()}
    assert set(_named()) == known
    assert all(to_hex(name) == mcolors.to_hex(name) for name in known)
