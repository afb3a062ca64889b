"""The collector policies: what each one leaves scanned, collected and restored."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from reconcile.util.gc import YOUNG_THRESHOLD, gc_new_objects_only, gc_paused


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    enabled, thresholds = gc.isenabled(), gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    (gc.enable if enabled else gc.disable)()


def cycles_made_and_dropped(count: int) -> list[weakref.ref[Node]]:
    return [weakref.ref(Node()) for _ in range(count)]


def test_paused_leaves_the_blocks_cycles_for_a_later_collection():
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
        refs = cycles_made_and_dropped(3 * YOUNG_THRESHOLD)
        assert all(ref() is not None for ref in refs)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert all(ref() is None for ref in refs)


def test_new_objects_only_reclaims_the_blocks_cycles_as_it_goes_without_scanning_older_objects():
    gc.disable()
    older = Node()
    with gc_new_objects_only():
        assert gc.isenabled()
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
        assert all(obj is not older for obj in gc.get_objects())  # frozen: out of every collection's reach
        refs = cycles_made_and_dropped(3 * YOUNG_THRESHOLD)
        assert sum(ref() is None for ref in refs) >= 2 * YOUNG_THRESHOLD
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert any(obj is older for obj in gc.get_objects())


def test_new_objects_only_keeps_a_freeze_made_by_the_program():
    gc.freeze()
    frozen = gc.get_freeze_count()
    with gc_new_objects_only():
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == frozen


def test_paused_inside_new_objects_only_freezes_its_survivors_with_the_rest():
    with gc_new_objects_only():
        with gc_paused():
            built = [Node() for _ in range(10)]
        assert gc.isenabled()
        assert not any(obj is built[0] for obj in gc.get_objects())  # long-lived: out of the young collections
    assert gc.get_freeze_count() == 0
    assert any(obj is built[0] for obj in gc.get_objects())
