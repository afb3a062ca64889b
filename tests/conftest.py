"""Shared fixtures. Per-area fixtures live in each test folder's conftest.

No test may reach beyond loopback. The official credentials package probes the ECS metadata service
(100.100.100.200) when nothing else is configured, and reads its environment at import time, so the
switch is set here, before anything imports it, for this process and every child process.
"""

import os

os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
