"""Errors the core raises for people to read."""


class Refusal(Exception):
    """A request the core will not carry out: wrong person, wrong state, unknown case,
    malformed arguments. The message is shown to the person as it is; nothing changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
