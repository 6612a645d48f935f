"""Capability documents: read (source → schema), checked (`rules/`), modelled (`build` fills
`model`) and written (`write`); `dialects/` reads the second dialect into the same model."""
