"""Field events in the data: what each app push did to the devices it went to (`logalyzer impact`).

`source.py` reads the events the service recorded in PostgreSQL into Spark, `impact.py` computes
the difference in differences per event and metric and runs the stage. docs/field_events.md.
"""
