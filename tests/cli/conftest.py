"""The CLI tests drive the commands against the same in-process emulator account as the engine's tests."""

from tests.engine.conftest import account, emulator_app

__all__ = ["account", "emulator_app"]
