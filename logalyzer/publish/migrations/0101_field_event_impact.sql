-- Impact of each field event on its devices (`logalyzer impact`): one row per event and metric, a
-- difference-in-differences of the devices that got the push against those that did not, over the
-- same windows before and after it. Published whole by the publish stage from the lake table of the
-- same name. Columns: docs/field_events.md.

CREATE TABLE field_event_impact (
    event_id        text NOT NULL,
    app_package     text,
    version         text,
    action          text,
    event_time      timestamptz,
    window_hours    double precision,
    metric          text NOT NULL,           -- anomaly_rate | black_screen_rate | video_freeze_rate | display_drop_rate
    treated_before  double precision,        -- mean per-device rate of the pushed devices, N hours before
    treated_after   double precision,        -- ... N hours after
    control_before  double precision,        -- the same for the devices that got no push in the period
    control_after   double precision,
    did             double precision,        -- (treated_after - treated_before) - (control_after - control_before)
    ci_low          double precision,
    ci_high         double precision,
    confidence      double precision,
    n_treated       integer,
    n_control       integer,
    verdict         text,                    -- worse | better | no_change | insufficient_data
    computed_at     timestamptz,
    PRIMARY KEY (event_id, metric)
);
CREATE INDEX field_event_impact_time ON field_event_impact (event_time);
