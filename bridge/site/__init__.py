"""The microsite: static HTML built only from data (site/_data, evidence, claims, ladders).

``python -m bridge site build`` renders the Jinja2 templates in the repository's ``site/templates``
(the ``site/`` folder holds templates and assets only; it is not a Python package).
"""
