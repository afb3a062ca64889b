"""The manifest language: YAML with source positions → validated desired state.

load_desired_state(paths, env=None) -> DesiredState   raises ManifestError (.diagnostics)
json_schema() -> dict                                  the schema `reconcile schema` prints
"""

from reconcile.manifest.desired import (
    DesiredBucket,
    DesiredMedia,
    DesiredState,
    SourceLocation,
    Warning_,
    bucket_address,
    media_address,
)
from reconcile.manifest.diagnostics import Diagnostic, ManifestError
from reconcile.manifest.loader import load_desired_state, manifest_digest
from reconcile.manifest.schema import json_schema, json_schema_text

__all__ = [
    "DesiredBucket",
    "DesiredMedia",
    "DesiredState",
    "Diagnostic",
    "ManifestError",
    "SourceLocation",
    "Warning_",
    "bucket_address",
    "json_schema",
    "json_schema_text",
    "load_desired_state",
    "manifest_digest",
    "media_address",
]
