"""What the user is told when something fails: one WebmailError for every kind of failure.

The error pages and the compose form given back after a failure say the same thing for the
same cause; both ask here.
"""

from __future__ import annotations

from webmail.auth.sessions import SessionStoreUnavailable
from webmail.errors import NotFound, ServiceUnavailable, WebmailError
from webmail.i18n import N_
from webmail.mail.connection_limits import WebmailConnectionLimit
from webmail.mail.imap import ImapConnectionLimit, ImapError, ImapUnavailable, MailboxNotFound

TOO_MANY_CONNECTIONS = N_(
    "Trop de connexions sont ouvertes sur votre boîte aux lettres (autres appareils "
    "ou logiciels de messagerie). Fermez-en une ou réessayez dans quelques minutes."
)
WEBMAIL_BUSY = N_(
    "Le webmail a trop de connexions ouvertes en ce moment. Réessayez dans quelques instants."
)
UNEXPECTED = N_("Une erreur inattendue est survenue. Vos données n'ont pas été modifiées.")


def described(error: Exception) -> WebmailError:
    """The page-level error for ``error``; anything unforeseen is a 500."""
    if isinstance(error, WebmailError):
        return error
    if isinstance(error, MailboxNotFound):
        return NotFound(N_("Ce dossier n'existe pas."))
    if isinstance(error, ImapConnectionLimit):
        return ServiceUnavailable(TOO_MANY_CONNECTIONS)
    if isinstance(error, WebmailConnectionLimit):
        return ServiceUnavailable(WEBMAIL_BUSY)
    if isinstance(error, ImapUnavailable):
        return ServiceUnavailable(
            N_("Le serveur de messagerie ne répond pas. Réessayez dans quelques instants.")
        )
    if isinstance(error, ImapError):
        return WebmailError(N_("Le serveur de messagerie a refusé l'opération."), status=502)
    if isinstance(error, SessionStoreUnavailable):
        return ServiceUnavailable(
            N_(
                "Le service de sessions est momentanément indisponible. "
                "Réessayez dans quelques instants."
            )
        )
    return WebmailError(UNEXPECTED, status=500)
