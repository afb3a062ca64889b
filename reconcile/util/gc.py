"""Collector policies for the blocks that allocate at scale, shared by every layer.

`gc_paused`, for building large acyclic data (manifests, state, plans): loading 100,000 manifest
entries, parsing a 100,000-resource state or diffing them allocates millions of small containers. With
the cyclic collector on, every 700 allocations trigger a young-generation pass and the survivors are
rescanned as they age — costing more than the work itself — and it finds nothing: these objects form no
reference cycles, so reference counting frees them as usual.

`gc_new_objects_only`, for blocks that do leave cyclic garbage behind (refresh's HTTP requests).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic collector off while the block allocates, then promote the survivors.

    freeze + unfreeze moves every tracked object to the oldest generation without scanning it, where
    only the rare full collections look at it. When objects are frozen already (by the program, or by
    `gc_new_objects_only` around this block), the survivors join them instead: they are long-lived data
    too, and unfreezing would thaw the others. The program's own frozen objects are left as they are.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        frozen_already = gc.get_freeze_count() > 0
        gc.freeze()
        if not frozen_already:
            gc.unfreeze()
        if was_enabled:
            gc.enable()


# The young generation's size while only new objects are collected: 7x the default 700, so collections are
# rarer for the same work (each one scans the survivors of the last).
YOUNG_THRESHOLD = 5000


@contextmanager
def gc_new_objects_only() -> Iterator[None]:
    """Collect reference cycles among the objects the block creates, never scanning those alive before it.

    For blocks that leave cyclic garbage behind: a refresh does, about 80 objects per request (httpx's
    request, response and stream objects, tenacity's per-call state). With the collector paused they pile
    up, 400,000 of them at 100,000 media, until a full collection at exit scans them with everything else
    (0.6 s). Here everything alive is frozen out of the collector's reach first (no scans of manifests or
    state), and the young collections reclaim the cycles as they go. A program that froze objects itself
    keeps its freeze; the collector then also scans what it left unfrozen.
    """
    was_enabled, thresholds = gc.isenabled(), gc.get_threshold()
    freezing = gc.get_freeze_count() == 0
    if freezing:
        gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    gc.enable()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if freezing:
            gc.unfreeze()
        if not was_enabled:
            gc.disable()
