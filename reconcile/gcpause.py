"""One helper shared by every layer that builds large acyclic data: manifests, state, plans.

Loading 100,000 manifest entries, parsing a 100,000-resource state or diffing them allocates millions
of small containers. With the cyclic collector on, every 700 allocations trigger a young-generation
pass and the survivors are rescanned as they age — costing more than the work itself — and it finds
nothing: these objects form no reference cycles, so reference counting frees them as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic collector off while the block allocates, then promote the survivors.

    freeze + unfreeze moves every tracked object to the oldest generation without scanning it, where
    only the rare full collections look at it. A program that froze objects itself is left alone.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()
