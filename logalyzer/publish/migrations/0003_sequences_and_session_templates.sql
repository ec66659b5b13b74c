-- Playback sessions keep their ordered template sequence and count vector (the anomaly models'
-- input); generic sequences carry the same counters as sessions (VAR events and their durations,
-- levels, errors).
ALTER TABLE sessions
    ADD COLUMN template_seq     text[],
    ADD COLUMN template_counts  jsonb;

ALTER TABLE event_sequences
    ADD COLUMN n_var_events      integer,
    ADD COLUMN error_lines       integer,
    ADD COLUMN level_counts      jsonb,
    ADD COLUMN event_counts      jsonb,
    ADD COLUMN errors_by_tag     jsonb,
    ADD COLUMN content_changes   integer,
    ADD COLUMN playback_starts   integer,
    ADD COLUMN playback_stops    integer,
    ADD COLUMN black_screens     integer,
    ADD COLUMN black_screens_ms  bigint,
    ADD COLUMN video_freezes     integer,
    ADD COLUMN video_freezes_ms  bigint,
    ADD COLUMN video_resumes     integer,
    ADD COLUMN display_drops     integer,
    ADD COLUMN display_drops_ms  bigint,
    ADD COLUMN hdmi_connects     integer,
    ADD COLUMN hdmi_disconnects  integer,
    ADD COLUMN hdmi_hotplugs     integer,
    ADD COLUMN hdmi_events       integer,
    ADD COLUMN pauses            integer,
    ADD COLUMN resumes           integer,
    ADD COLUMN fast_forwards     integer,
    ADD COLUMN rewinds           integer,
    ADD COLUMN seeks             integer,
    ADD COLUMN trick_events      integer,
    ADD COLUMN standby_enters    integer,
    ADD COLUMN standby_exits     integer,
    ADD COLUMN boots             integer,
    ADD COLUMN crashes           integer;
