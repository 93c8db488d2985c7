"""Scenario files: the model (pydantic), the loader, the player that replays them, the reports."""
