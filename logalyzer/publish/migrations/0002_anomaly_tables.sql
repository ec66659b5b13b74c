-- Anomaly detection results (`logalyzer score`): per detector scores and the consolidated view.
-- Both are published per date; the dashboards filter by device, time range and the anomaly flag.

CREATE TABLE anomaly_scores (
    unit_kind      text NOT NULL,          -- session | id | fixed | sliding
    unit_id        text NOT NULL,
    device_id      text,
    start_ts       timestamptz,
    end_ts         timestamptz,
    detector       text NOT NULL,          -- deeplog | autoencoder
    score          double precision,
    threshold      double precision,
    flagged        boolean,
    reason         text,
    model_name     text,
    model_version  text,
    run_id         text,
    scored_at      timestamptz,
    date           date NOT NULL,
    PRIMARY KEY (unit_kind, unit_id, detector)
);
CREATE INDEX anomaly_scores_device_start ON anomaly_scores (device_id, start_ts);
CREATE INDEX anomaly_scores_start ON anomaly_scores (start_ts);
CREATE INDEX anomaly_scores_flagged_start ON anomaly_scores (start_ts) WHERE flagged;
CREATE INDEX anomaly_scores_date ON anomaly_scores (date);

CREATE TABLE anomalies_consolidated (
    unit_kind   text NOT NULL,
    unit_id     text NOT NULL,
    device_id   text,
    start_ts    timestamptz,
    end_ts      timestamptz,
    detectors   text[],
    scores      jsonb,                     -- detector -> score
    reasons     jsonb,                     -- detector -> reason
    models      jsonb,                     -- detector -> "name/version"
    severity    double precision,          -- max score / threshold: >= 1 means flagged
    run_id      text,
    scored_at   timestamptz,
    date        date NOT NULL,
    PRIMARY KEY (unit_kind, unit_id)
);
CREATE INDEX anomalies_consolidated_device_start ON anomalies_consolidated (device_id, start_ts);
CREATE INDEX anomalies_consolidated_start ON anomalies_consolidated (start_ts);
CREATE INDEX anomalies_consolidated_severity ON anomalies_consolidated (severity DESC, start_ts);
CREATE INDEX anomalies_consolidated_date ON anomalies_consolidated (date);
