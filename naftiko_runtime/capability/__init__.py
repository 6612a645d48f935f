"""The spec pipeline: source (YAML with positions) → schema → rules → model."""
