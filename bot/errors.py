"""Errors the core raises for people to read."""


class Refusal(Exception):
    """A request the core will not carry out: wrong person, wrong state, unknown case,
    malformed arguments. The message is shown to the person as it is; nothing changed."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Per form field (``title`` → why), when the request came from a form.
        self.errors: dict[str, str] = dict(errors or {})


class Duplicate(Exception):
    """The same platform event was already handled: it changes nothing a second time."""
