"""User-facing errors: each one renders as a single line naming the item
and what to do. Anything else escaping to the CLI is a bug."""


class XmodalError(Exception):
    """Base for errors a user can cause; str() is the one line to show."""


class BadInput(XmodalError):
    """One input item (file, caption, request field) could not be used."""

    def __init__(self, item: str, reason: str, hint: str = ""):
        self.item = item
        self.reason = reason
        self.hint = hint
        msg = f"{item}: {reason}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class UnknownModel(XmodalError):
    """A model spec names no registered encoder stack."""


class MissingWeights(XmodalError):
    """Weights could not be loaded (typically: offline and not cached)."""
