-- Field-update events recorded by the HTTP service (`logalyzer serve`, POST /events): one row per
-- app push, and one row per device it went to. Written only by the service, one transaction per
-- event, so an event is there with all its devices or not at all. `body_sha256` is the hash of the
-- event's canonical JSON: the same event id posted again with another body is refused (409).

CREATE TABLE field_events (
    event_id     text PRIMARY KEY,
    app_package  text NOT NULL,
    version      text NOT NULL,
    action       text NOT NULL,              -- install | update | rollback | uninstall
    event_time   timestamptz NOT NULL,       -- when the push happened (the event's `time`)
    operator     text NOT NULL,
    n_devices    integer NOT NULL,
    body_sha256  text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX field_events_time ON field_events (event_time);
CREATE INDEX field_events_package_time ON field_events (app_package, event_time);

CREATE TABLE field_event_devices (
    event_id    text NOT NULL REFERENCES field_events (event_id) ON DELETE CASCADE,
    device_id   text NOT NULL,
    event_time  timestamptz NOT NULL,        -- copied from field_events: "events of a device in a range" is one index scan
    PRIMARY KEY (event_id, device_id)
);
CREATE INDEX field_event_devices_device_time ON field_event_devices (device_id, event_time);
