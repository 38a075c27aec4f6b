"""How a Pro Santé Connect sign-in fails: the user's sign-in refused, or the service not
available (the provider, Redis, or this webmail's own credentials at the provider)."""

from __future__ import annotations


class PscRefused(Exception):
    """The sign-in cannot be accepted; ``reason`` is a short code for the audit trail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PscUnavailable(Exception):
    """The provider or Redis cannot be reached: nothing is wrong with the user's sign-in."""


class PscClientRefused(PscUnavailable):
    """The provider does not recognise this webmail itself (its secret or its client
    certificate): the operator's configuration, not the user's sign-in, is at fault."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PscTooManyStarts(Exception):
    """This network started more sign-ins than anyone would: none is remembered for now."""
