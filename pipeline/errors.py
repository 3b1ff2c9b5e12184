"""The one exception type the CLI turns into a clean one-line error."""


class PipelineError(Exception):
    """Bad input or state: the message names the file, the column and the rule."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
