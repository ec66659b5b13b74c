"""Superset dashboards as code: YAML source -> import bundle -> any Superset (or a local one).

`source/` holds the dashboards people read (datasets with Jinja-templated SQL on the published
PostgreSQL tables, charts, native filters); `bundle.py` expands it into Superset's import format,
`client.py` imports it through the REST API, `superset_server.py` runs a private Superset under
project.work_dir for `logalyzer dashboards serve`. See docs/dashboards.md.
"""
