"""``cps-harness diagnose``: ATSAM's diagnostic, check by check, then "Test SSL".

``checks`` holds the verdicts as pure functions over plain data (bytes, certificates, a time);
``probes`` gathers that data (pcscd through pyscard in a child, OpenSC's tools, ``modutil``,
curl, the IGC-Santé publication site), every wait bounded; ``diagnosis`` runs them in the guide's
order against a world or the environment's PC/SC stack; ``render`` prints a table, JSON or the
trainer's HTML page.
"""
