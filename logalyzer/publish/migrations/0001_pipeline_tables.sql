-- The pipeline's gold tables, one table for the whole fleet each (indexed by device and time),
-- and the publish bookkeeping. Runs inside one transaction with search_path set to the target schema.
-- Column names and types mirror the lake tables (docs/postgres.md); maps become jsonb, arrays arrays.

CREATE TABLE devices (
    device_id       text PRIMARY KEY,
    first_seen      timestamptz,
    last_seen       timestamptz,
    days_seen       integer,
    sessions        bigint,
    lines           bigint,
    error_lines     bigint,
    black_screens   bigint,
    video_freezes   bigint,
    display_drops   bigint,
    hdmi_events     bigint,
    crashes         bigint
);

CREATE TABLE sessions (
    device_id           text,
    device_key          text NOT NULL,
    session_id          text PRIMARY KEY,
    start_ts            timestamptz NOT NULL,
    end_ts              timestamptz,
    duration_s          double precision,
    start_reason        text,
    content_id          text,
    channel             text,
    uri                 text,
    n_lines             integer,
    n_var_events        integer,
    content_changes     integer,
    playback_starts     integer,
    playback_stops      integer,
    black_screens       integer,
    black_screens_ms    bigint,
    video_freezes       integer,
    video_freezes_ms    bigint,
    video_resumes       integer,
    display_drops       integer,
    display_drops_ms    bigint,
    hdmi_connects       integer,
    hdmi_disconnects    integer,
    hdmi_hotplugs       integer,
    hdmi_events         integer,
    pauses              integer,
    resumes             integer,
    fast_forwards       integer,
    rewinds             integer,
    seeks               integer,
    trick_events        integer,
    standby_enters      integer,
    standby_exits       integer,
    boots               integer,
    crashes             integer,
    event_counts        jsonb,
    error_lines         integer,
    errors_by_tag       jsonb,
    level_counts        jsonb,
    distinct_templates  integer,
    n_files             integer,
    source_files        text[],
    summary             jsonb,
    date                date NOT NULL
);
CREATE INDEX sessions_device_start ON sessions (device_id, start_ts);
CREATE INDEX sessions_start ON sessions (start_ts);
CREATE INDEX sessions_date ON sessions (date);

CREATE TABLE event_sequences (
    kind             text NOT NULL,
    sequence_id      text PRIMARY KEY,
    key              text,
    device_id        text,
    window_start     timestamptz,
    window_end       timestamptz,
    first_ts         timestamptz,
    last_ts          timestamptz,
    n_lines          integer,
    n_templates      integer,
    template_seq     text[],
    template_counts  jsonb,
    date             date
);
CREATE INDEX event_sequences_device_window ON event_sequences (device_id, window_start);
CREATE INDEX event_sequences_kind_window ON event_sequences (kind, window_start);
CREATE INDEX event_sequences_date ON event_sequences (date);

CREATE TABLE device_timeseries (
    device_id         text,
    device_key        text NOT NULL,
    bucket_start      timestamptz NOT NULL,
    bucket_end        timestamptz,
    bucket_s          integer,
    n_lines           integer,
    n_var_events      integer,
    error_lines       integer,
    level_counts      jsonb,
    event_counts      jsonb,
    errors_by_tag     jsonb,
    content_changes   integer,
    playback_starts   integer,
    playback_stops    integer,
    black_screens     integer,
    black_screens_ms  bigint,
    video_freezes     integer,
    video_freezes_ms  bigint,
    video_resumes     integer,
    display_drops     integer,
    display_drops_ms  bigint,
    hdmi_connects     integer,
    hdmi_disconnects  integer,
    hdmi_hotplugs     integer,
    hdmi_events       integer,
    pauses            integer,
    resumes           integer,
    fast_forwards     integer,
    rewinds           integer,
    seeks             integer,
    trick_events      integer,
    standby_enters    integer,
    standby_exits     integer,
    boots             integer,
    crashes           integer,
    date              date NOT NULL,
    PRIMARY KEY (device_key, bucket_start)
);
CREATE INDEX device_timeseries_device_bucket ON device_timeseries (device_id, bucket_start);
CREATE INDEX device_timeseries_bucket ON device_timeseries (bucket_start);
CREATE INDEX device_timeseries_date ON device_timeseries (date);

CREATE TABLE templates (
    template_id  text PRIMARY KEY,
    template     text,
    first_seen   timestamptz,
    last_seen    timestamptz,
    count        bigint,
    example      text,
    version      integer
);

CREATE TABLE template_lineage (
    old_id        text,
    new_id        text,
    old_template  text,
    new_template  text,
    changed_at    timestamptz
);
CREATE INDEX template_lineage_old ON template_lineage (old_id);
CREATE INDEX template_lineage_new ON template_lineage (new_id);

-- the lake's run_log: one row per stage run and status
CREATE TABLE pipeline_runs (
    run_id       text NOT NULL,
    stage        text,
    started_at   timestamptz,
    finished_at  timestamptz,
    status       text,
    input        text,
    counts       jsonb,
    details      jsonb
);
CREATE INDEX pipeline_runs_run ON pipeline_runs (run_id);
CREATE INDEX pipeline_runs_stage_started ON pipeline_runs (stage, started_at);

-- What publish last wrote per table and part (a date, or '*' for a table published whole): row
-- count, a content fingerprint and a signature of the lake files the part was read from, so an
-- incremental publish reads only parts whose files changed and rewrites only those whose rows did.
CREATE TABLE publish_state (
    table_name    text NOT NULL,
    part          text NOT NULL,
    rows          bigint NOT NULL,
    fingerprint   text NOT NULL,
    source_files  text NOT NULL,
    run_id        text,
    published_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, part)
);
