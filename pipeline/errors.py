"""The exception types the CLI turns into a clean one-line error."""


class PipelineError(Exception):
    """Bad input or state: the message names the file, the column and the rule."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


class UnfetchableError(PipelineError):
    """A revision names bytes (a model, a batch) that neither the DVC cache nor the remote can give.

    Never caught as "no model": a gate that cannot see the champion must stop, not wave the
    challenger through (fail closed).
    """


def one_line(exc: Exception) -> str:
    """An exception from a library (dvc raises many kinds) as one short line for an error message."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:300]
