"""Identifiers in the services' formats: 32 lowercase hex characters for media, an uppercase UUID for
request ids. A seed makes them reproducible (tests, benchmarks); without one they are random."""

from __future__ import annotations

import random
import uuid


class IdFactory:
    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed) if seed is not None else random.SystemRandom()

    def media_id(self) -> str:
        return f"{self._random.getrandbits(128):032x}"

    def request_id(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4)).upper()
