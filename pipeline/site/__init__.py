"""The static site (`python -m pipeline site`): `build` assembles it from `collect` (what the
repository holds), `render` (HTML from the templates), `charts` (inline SVG) and `gxdocs` (Great
Expectations' Data Docs)."""
