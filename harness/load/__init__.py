"""``cps-harness load``: many professionals logging into a relying party through the simulated PSC, on Locust."""
