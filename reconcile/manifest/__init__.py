"""The manifest language: YAML with source positions → validated desired state."""
