"""The command layer: one module per `python -m pipeline <command>` (docstring = description,
`add_arguments`, `main`). The only code that prints, reads arguments or writes CI files."""
