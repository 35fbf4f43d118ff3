"""The project's own exception: the CLI turns it into a clean message and a non-zero exit."""


class Egov6Error(Exception):
    """An error a user can act on; its message says what is wrong and where."""


class ConfigError(Egov6Error):
    """A stack file (or another declaration: ``kind``) that cannot be used: names the file, the key path and the
    reason."""

    def __init__(self, path: str, problems: list[tuple[str, str]], kind: str = "stack file") -> None:
        self.path = path
        self.problems = problems
        self.kind = kind
        lines = [f"{path}: {key}: {reason}" for key, reason in problems]
        super().__init__("\n".join(lines))
