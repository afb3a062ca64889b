"""Talking to Alibaba Cloud: signing, credentials, errors, pacing, retries and typed MPS/VOD operations.

`signing`, `errors` and `limits` are wire rules shared with the emulator: one home for each rule.
"""
