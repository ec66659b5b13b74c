"""The field-events HTTP service: operators' app pushes recorded in PostgreSQL (`logalyzer serve`).

`app.py` is the FastAPI application, `models.py` what an event is, `store.py` the one-transaction
writes and the reads, `settings.py` the `field_events.service` configuration and `server.py` the
command that starts uvicorn. docs/field_events.md describes the API.
"""
