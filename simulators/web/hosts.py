"""The host names each simulated site keeps from the guide and ANS's public material.

Clients reach them through a resolver mapping the harness hands out, never DNS or /etc/hosts.
The push backend's real name is not public: ``push.esw.esante.gouv.fr`` is ours.
"""

from __future__ import annotations

WALLET = "wallet.esw.esante.gouv.fr"
"""e-CPS activation wallet, and PSC's authorize endpoint (as in production)."""
PSC = "auth.esw.esante.gouv.fr"
"""Pro Santé Connect: issuer, token, userinfo, CIBA."""
TESTSSL = "testssl.asipsante.fr"
"""ATSAM's "Test SSL" page."""
SIDEP = "portail-sidep.aphp.fr"
"""The SI-DEP portal."""
PUSH = "push.esw.esante.gouv.fr"
"""e-CPS push backend and the virtual phone (name invented: the real one is not public)."""
IGC = "igc-sante.esante.gouv.fr"
"""IGC-Santé publication: CA certificates, CRLs, OCSP (plain HTTP, as PKI publication is)."""

TLS_SITES: tuple[str, ...] = (WALLET, PSC, TESTSSL, SIDEP, PUSH, IGC)
"""Every site that gets a server certificate from the test TLS CA."""

CRL_PATH = "/CRL/ACI-FO-PP.crl"
"""CRL of the card-issuing CA (path seen in ANS's publication)."""
ROOT_CRL_PATH = "/CRL/ACR-FO.crl"
OCSP_PATH = "/OCSP"
CA_CERT_PATHS = {"root": "/AC/TEST-ACR-FORT.cer", "personnes": "/AC/TEST-ACI-FORT-PP.cer"}
