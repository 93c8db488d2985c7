"""For trainers: a world held in a scenario's state (``serve.py``), and a scenario played as slides (``demo.py``)."""
