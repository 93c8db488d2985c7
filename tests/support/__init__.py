"""Helpers shared by the tests: the test browser (``visitor.py``) and the repository's paths."""
