"""Browser drivers for the scenario runner: protocol (HTTP client) and Chromium (the real browser)."""
