"""Scenario files: the model (pydantic), the loader, the protocol driver that replays them."""
