"""Publish pieces that need no server: URLs and secrets, redaction, type compatibility, value formats."""
from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import types as T

from logalyzer.publish.columns import PgColumn, SchemaDriftError, check_columns, compatible, prepare
from logalyzer.publish.connection import (DatabaseConfigError, DbTarget, parse_url, read_password_file, redact,
                                          target_from_conf)
from logalyzer.publish.migrations import MigrationError, load_migrations
from logalyzer.publish.tables import TABLES, select_tables


def test_urls_of_every_form_parse():
    p = parse_url("postgresql://ann:s%40cret@db.example:6543/fleet?sslmode=require&bogus=1")
    assert (p["host"], p["port"], p["dbname"], p["user"], p["password"]) == ("db.example", 6543, "fleet", "ann", "s@cret")
    assert p["params"] == (("sslmode", "require"),)
    j = parse_url("jdbc:postgresql://db:5432/fleet?user=bob&password=pw")
    assert (j["user"], j["password"], j["dbname"]) == ("bob", "pw", "fleet")
    assert parse_url("postgres://h/d")["port"] == 5432
    for bad in ("mysql://h/d", "postgresql://h:notaport/d", "just words"):
        with pytest.raises(DatabaseConfigError):
            parse_url(bad)


def test_jdbc_url_carries_options_but_never_the_password():
    t = DbTarget("db", 5432, "fleet", "ann", "topsecret", params=(("sslmode", "require"),))
    url = t.jdbc_url({"reWriteBatchedInserts": "true"})
    assert url.startswith("jdbc:postgresql://db:5432/fleet?") and "sslmode=require" in url
    assert "reWriteBatchedInserts=true" in url and "topsecret" not in url
    assert "topsecret" not in repr(t) and "topsecret" not in t.describe()
    assert t.jdbc_properties()["password"] == "topsecret"


def test_redact_masks_secrets_in_any_form():
    text = "failed for postgresql://ann:topsecret@db/x password=topsecret and 'topsecret' PASSWORD: hunter2"
    out = redact(text, ["topsecret"])
    assert "topsecret" not in out and "hunter2" not in out
    assert "postgresql://ann:***@db/x" in out


def test_password_comes_from_env_url_or_secrets_file(tmp_path, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    plain = tmp_path / "pw"
    plain.write_text("from-file\n")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text("# comment\nother:*:*:*:nope\ndb:5432:fleet:ann:from-pgpass\n*:*:*:*:fallback\n")
    assert read_password_file(str(plain), "db", 5432, "fleet", "ann") == "from-file"
    assert read_password_file(str(pgpass), "db", 5432, "fleet", "ann") == "from-pgpass"
    assert read_password_file(str(pgpass), "db", 5432, "fleet", "zed") == "fallback"
    with pytest.raises(DatabaseConfigError, match="cannot read the database secrets file"):
        read_password_file(str(tmp_path / "missing"), "db", 5432, "fleet", "ann")

    conf = {"publish": {"url": "postgresql://ann@db/fleet", "password": "", "password_file": str(pgpass)}}
    assert target_from_conf(conf).password == "from-pgpass"
    conf["publish"]["password"] = "from-env"          # ${env:LOGALYZER_DB_PASSWORD} resolved by the config loader
    assert target_from_conf(conf).password == "from-env"
    monkeypatch.setenv("PGPASSWORD", "pg-env")
    assert target_from_conf({"publish": {"url": "postgresql://ann@db/fleet"}}).password == "pg-env"
    with pytest.raises(DatabaseConfigError, match="no database user"):
        monkeypatch.delenv("PGUSER", raising=False)
        target_from_conf({"publish": {"url": "postgresql://db/fleet"}})


def test_env_references_fill_the_publish_settings(monkeypatch):
    from logalyzer.config import load_config

    monkeypatch.setenv("LOGALYZER_DB_URL", "postgresql://ann@db:5433/fleet")
    monkeypatch.setenv("LOGALYZER_DB_PASSWORD", "s3")
    conf = load_config(env="__tests_ignore_local__")
    t = target_from_conf(conf)
    assert (t.host, t.port, t.user, t.password, t.schema) == ("db", 5433, "ann", "s3", "logalyzer")
    assert conf["project"]["work_dir"] == "work"


@pytest.mark.parametrize("spark_type,pg_type,ok", [
    (T.StringType(), "text", True), (T.StringType(), "jsonb", True), (T.StringType(), "integer", False),
    (T.IntegerType(), "integer", True), (T.IntegerType(), "bigint", True), (T.LongType(), "integer", False),
    (T.IntegerType(), "smallint", False), (T.DoubleType(), "double precision", True),
    (T.DoubleType(), "integer", False), (T.BooleanType(), "boolean", True),
    (T.TimestampType(), "timestamp with time zone", True), (T.DateType(), "date", True),
    (T.DateType(), "timestamp with time zone", False),
    (T.MapType(T.StringType(), T.IntegerType()), "jsonb", True),
    (T.MapType(T.StringType(), T.IntegerType()), "text", False),
    (T.ArrayType(T.StringType()), "text[]", True), (T.ArrayType(T.StringType()), "integer[]", False),
    (T.ArrayType(T.IntegerType()), "bigint[]", True), (T.ArrayType(T.StringType()), "jsonb", True),
    (T.BinaryType(), "bytea", True),
])
def test_type_compatibility(spark_type, pg_type, ok):
    assert compatible(spark_type, pg_type) is ok


def test_drift_check_names_each_column():
    lake = T.StructType([T.StructField("a", T.StringType()), T.StructField("n", T.LongType()),
                         T.StructField("extra_counter", T.IntegerType())])
    pg = [PgColumn("a", "text", True, False), PgColumn("n", "integer", False, False),
          PgColumn("opt", "integer", False, False), PgColumn("must", "text", True, False)]
    with pytest.raises(SchemaDriftError) as err:
        check_columns("sessions", "logalyzer.sessions", lake, pg)
    msg = str(err.value)
    assert "sessions.extra_counter" in msg and "sessions.n is bigint" in msg and "logalyzer.sessions.must" in msg
    assert "opt" not in msg            # a nullable PostgreSQL-only column is simply left NULL
    ok = check_columns("t", "s.t", lake, [PgColumn("a", "text", True, False), PgColumn("n", "bigint", False, False),
                                          PgColumn("extra_counter", "integer", False, False)])
    assert ok == ["a", "n", "extra_counter"]
    with pytest.raises(SchemaDriftError, match="does not exist"):
        check_columns("t", "s.t", lake, [])


def test_copy_values_are_built_with_spark_builtins(spark):
    rows = [("a\x00b", ["x", 'q"uo\\te', None, "{,}"], {"k": 1}, [1, None], dt.date(2026, 11, 20))]
    df = spark.createDataFrame(rows, "s string, arr array<string>, m map<string,int>, ints array<int>, d date")
    pg = [PgColumn("s", "text", False, False), PgColumn("arr", "text[]", False, False),
          PgColumn("m", "jsonb", False, False), PgColumn("ints", "integer[]", False, False),
          PgColumn("d", "date", False, False)]
    out = prepare(df, df.columns, pg, mode="csv")
    got = out.first()
    assert got.s == "ab"
    assert got.arr == '{"x","q\\"uo\\\\te",NULL,"{,}"}'
    assert got.m == '{"k":1}' and got.ints == "{1,NULL}"
    plan = out._jdf.queryExecution().executedPlan().toString()
    assert "BatchEvalPython" not in plan and "ArrowEvalPython" not in plan
    jdbc = prepare(df, df.columns, pg, mode="jdbc").first()
    assert jdbc.arr == ["x", 'q"uo\\te', None, "{,}"] and jdbc.m == '{"k":1}'
    # binary COPY needs each value in the exact width of its column
    wide = [PgColumn("s", "text", False, False), PgColumn("arr", "text[]", False, False),
            PgColumn("m", "jsonb", False, False), PgColumn("ints", "bigint[]", False, False),
            PgColumn("d", "date", False, False)]
    binary = prepare(df, df.columns, wide, mode="binary")
    assert dict(binary.dtypes) == {"s": "string", "arr": "array<string>", "m": "string", "ints": "array<bigint>",
                                   "d": "date"}


def test_tables_and_aliases():
    names = [t.name for t in TABLES]
    for want in ("devices", "sessions", "event_sequences", "device_timeseries", "templates", "anomaly_scores",
                 "anomalies_consolidated", "pipeline_runs"):
        assert want in names
    assert [t.name for t in select_tables(["run_log", "sessions"])] == ["sessions", "pipeline_runs"]
    with pytest.raises(ValueError, match="unknown table 'nope'"):
        select_tables(["nope"])


def test_migrations_are_numbered_and_unique(tmp_path):
    migs = load_migrations()
    assert [m.version for m in migs] == sorted({m.version for m in migs}) and migs[0].version == 1
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="two migrations with version 0001"):
        load_migrations(tmp_path)
    (tmp_path / "0001_b.sql").unlink()
    (tmp_path / "2_bad.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="does not match"):
        load_migrations(tmp_path)
