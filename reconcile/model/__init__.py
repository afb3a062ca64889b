"""The resource model: the lowest layer, imported by every other (see `reconcile.model.media`)."""
