"""What the pages people read have in common: the report, the trainer's slides and diagnose's page.

One Jinja2 environment per page family (autoescape on, templates shipped as package data), one
stylesheet for the three (``static/reports.css``, inlined so that each page is one file), the
secrets' mask applied to every value a template prints, and screenshots embedded as data URIs.
"""
