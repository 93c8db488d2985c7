"""A private PC/SC stack: ``stack.py`` runs pcscd with vpcd readers; ``keeper.py`` is its readiness child."""
