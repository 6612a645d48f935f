"""Rules about strings shared by the capability checks and the engine, one of each: the
placeholder grammar, how a value becomes text, Mustache templates and JSONPaths."""
