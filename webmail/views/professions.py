"""The practitioner's profession as the pages show it, from Pro Santé Connect's claims.

Codes of the ANS nomenclature TRE_G15 "Profession de santé" (the ``codeProfession`` of
``SubjectRefPro.exercices[]``), each a constant translated where shown. A code missing here
(a new profession) shows the provider's own label from SubjectRole, else nothing.
"""

from __future__ import annotations

from webmail.auth.oidc import Identity
from webmail.i18n import N_

PROFESSIONS = {
    "10": N_("Médecin"),
    "21": N_("Pharmacien"),
    "26": N_("Audioprothésiste"),
    "28": N_("Opticien-lunetier"),
    "31": N_("Assistant dentaire"),
    "32": N_("Physicien médical"),
    "35": N_("Aide-soignant"),
    "36": N_("Ambulancier"),
    "37": N_("Auxiliaire de puériculture"),
    "38": N_("Préparateur en pharmacie hospitalière"),
    "39": N_("Préparateur en pharmacie"),
    "40": N_("Chirurgien-dentiste"),
    "50": N_("Sage-femme"),
    "60": N_("Infirmier"),
    "69": N_("Infirmier psychiatrique"),
    "70": N_("Masseur-kinésithérapeute"),
    "80": N_("Pédicure-podologue"),
    "81": N_("Orthoprothésiste"),
    "82": N_("Podo-orthésiste"),
    "83": N_("Orthopédiste-orthésiste"),
    "84": N_("Oculariste"),
    "85": N_("Épithésiste"),
    "86": N_("Technicien de laboratoire médical"),
    "91": N_("Orthophoniste"),
    "92": N_("Orthoptiste"),
    "93": N_("Psychologue"),
    "94": N_("Ergothérapeute"),
    "95": N_("Diététicien"),
    "96": N_("Psychomotricien"),
    "98": N_("Manipulateur en électroradiologie médicale"),
}


def profession_label(identity: Identity) -> str:
    """The table's constant for the identity's code; for a code it does not know, the
    provider's label (plain text, escaped where shown, like any data), else ""."""
    known = PROFESSIONS.get(identity.profession_code)
    if known is not None:
        return known
    label = identity.role_label
    return label[:1].upper() + label[1:]
