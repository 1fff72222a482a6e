"""The suite's memo of pure functions (tests/support/memo.py) must not hide a function that
stops being pure, nor call one impure because equal answers pickle differently."""

from __future__ import annotations

import itertools

import pytest

from tests.support.memo import answered_once


def test_a_function_that_stops_being_pure_fails_on_its_first_repeat():
    counter = itertools.count()
    drifting = answered_once(lambda rows: [rows, next(counter)])
    assert drifting(3) == [3, 0]
    with pytest.raises(AssertionError, match="not a pure function any more"):
        drifting(3)


def test_equal_answers_that_share_an_object_differently_are_pure():
    calls = itertools.count()

    def labels(n):
        shared = "Premium" * 3
        # the first call shares one string twice, the second holds two equal copies
        return [shared, shared] if next(calls) == 0 else ["Premium" * 3, "".join(["Premium"] * 3)]

    memo = answered_once(labels)
    first = memo(2)
    assert memo(2) == first == ["PremiumPremiumPremium"] * 2


def test_each_caller_gets_its_own_copy():
    memo = answered_once(lambda n: {"sizes": list(range(n))})
    memo(3)["sizes"].append("changed by a caller")
    memo(3)  # the checked repeat
    assert memo(3) == {"sizes": [0, 1, 2]}
