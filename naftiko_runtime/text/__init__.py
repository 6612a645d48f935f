"""Rules about strings shared by the spec checks and the engine: templates and JSONPaths."""
