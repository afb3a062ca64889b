"""The engine: refresh live state, diff against desired state, build the Plan, apply it. Never prints."""
