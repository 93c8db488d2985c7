"""Mock web services: one package per site, each with pure ``rules`` and an aiohttp ``app``."""
