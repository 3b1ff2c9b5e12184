"""params.yaml access: rewriting one block keeps every other line."""

from __future__ import annotations

from pipeline import params as P


def test_replace_block_keeps_comments():
    text = "# top\nseed: 1\n\nschema:\n  target: a\n  classes: [x, y]\n\n# models here\nmodels:\n  m: 1\n"
    out = P.replace_block(text, "schema", {"target": "b", "classes": ["p", "q"]})
    assert "# top" in out and "# models here" in out and "models:\n  m: 1" in out
    assert "target: b" in out and "target: a" not in out
    assert P.replace_block("seed: 1\n", "data", {"x": 1}).endswith("data:\n  x: 1\n")
