"""Browser drivers for the scenario player: protocol (an HTTP client) and Chromium (the real browser)."""
