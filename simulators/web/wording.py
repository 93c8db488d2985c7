"""The guide's words that several sites show: ANS support, the card-incident form, the card advice.

And ``Refusal``: a refusal screen (its id, the guide's message, the advice under it) that a
site's rules raise and its app turns into a page. Kept here so that no site imports another's.
"""

from __future__ import annotations

from collections.abc import Iterable

from simulators.web.screens import Screen

SUPPORT = "Support ANS : 0 825 852 000 (service 0,06 €/min + prix appel), 24/24 heures - 7/7 jours, ou votre CIS."
INCIDENT_FORM = (
    "Carte perdue, ou code porteur et code de déblocage bloqués : complétez le formulaire d'incident "
    "(https://esante.gouv.fr/sites/default/files/media_entity/documents/501_1.pdf) et adressez-le, avec un scan "
    "de votre pièce d'identité, à monserviceclient.cartes@asipsante.fr."
)
CARD_ADVICE = (
    "Vérifiez que votre carte est bien insérée dans le lecteur.",
    "Installez le package ATSAM (logiciels de lecture des cartes CPS).",
    "Essayez de renouveler ces opérations avec un autre navigateur.",
    "Essayez de réaliser ces opérations depuis un autre poste en y branchant un lecteur de cartes.",
    "Essayez de faire la manipulation depuis le poste d'un collègue qui a réussi à activer sa e-CPS.",
    INCIDENT_FORM,
    SUPPORT,
)


class Refusal(Exception):
    def __init__(self, screen: Screen, message: str, advice: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.screen = screen
        self.message = message
        self.advice = tuple(advice)
