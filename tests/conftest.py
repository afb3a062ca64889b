"""Shared fixtures. Per-area fixtures live in each test folder's conftest."""
