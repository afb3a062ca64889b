"""reconcile: a declarative reconciler for Alibaba Cloud media ingest (MPS input buckets, VOD media)."""

__version__ = "0.1.0"
