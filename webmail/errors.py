"""One error type that carries what the user sees: an HTTP status, a title and a message."""

from __future__ import annotations

from webmail.i18n import N_


class WebmailError(Exception):
    """An expected failure shown to the user as a page (or fragment) with the given status.

    Title and message are French source strings, translated when rendered.
    """

    status = 500
    title = N_("Erreur")

    def __init__(self, message: str, *, status: int | None = None, title: str | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title


class NotFound(WebmailError):
    status = 404
    title = N_("Introuvable")


class BadRequest(WebmailError):
    status = 400
    title = N_("Requête invalide")


class ServiceUnavailable(WebmailError):
    status = 503
    title = N_("Service momentanément indisponible")


class Forbidden(WebmailError):
    status = 403
    title = N_("Action refusée")
