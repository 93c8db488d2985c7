"""cps-harness: an offline test bed for French healthcare authentication (CPS card, e-CPS, PSC).

This package holds what drives the simulators: the private PC/SC stack, the test PKI, the
command line. It must stay importable with the standard library alone (``harness.system`` runs
before any dependency is installed); heavier modules import their dependencies themselves.
"""

__version__ = "0.1.0"
