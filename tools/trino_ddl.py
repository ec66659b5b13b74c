"""Print Trino DDL for the lake's Parquet tables (Hive connector), from the tables' own Parquet schemas.

    python tools/trino_ddl.py --lake lake --location s3://my-bucket/lake > lake.sql

For a Parquet lake (no Delta jar) Trino needs each table declared once: an external table over its
folder, partition column last, then `sync_partition_metadata` to find the date folders (run that
again after each load that adds dates). A Delta lake needs no column list: see docs/trino.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import yaml

ROOT = Path(__file__).resolve().parent.parent


def trino_type(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "varchar"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t):
        return "tinyint"
    if pa.types.is_int16(t):
        return "smallint"
    if pa.types.is_int32(t):
        return "integer"
    if pa.types.is_int64(t):
        return "bigint"
    if pa.types.is_float32(t):
        return "real"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_timestamp(t):
        return "timestamp"  # the catalog's hive.timestamp-precision (MICROSECONDS, docs/trino.md) applies
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "varbinary"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision}, {t.scale})"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array({trino_type(t.value_type)})"
    if pa.types.is_map(t):
        return f"map({trino_type(t.key_type)}, {trino_type(t.item_type)})"
    if pa.types.is_struct(t):
        return "row(" + ", ".join(f'"{f.name}" {trino_type(f.type)}' for f in t) + ")"
    raise ValueError(f"no Trino type for {t}")


def table_ddl(name: str, folder: Path, location: str, partition_by: list[str], schema: str) -> str:
    data = ds.dataset(str(folder), format="parquet", partitioning="hive")
    fields = [f for f in data.schema if f.name not in partition_by]
    cols = [f'    "{f.name}" {trino_type(f.type)}' for f in fields]
    cols += [f'    "{p}" varchar' for p in partition_by]  # partition values are folder names: text
    props = [f"external_location = '{location}'", "format = 'PARQUET'"]
    if partition_by:
        props.append("partitioned_by = ARRAY[" + ", ".join(f"'{p}'" for p in partition_by) + "]")
    out = f'CREATE TABLE IF NOT EXISTS {schema}."{name}" (\n' + ",\n".join(cols) + "\n)\nWITH (" + ", ".join(props) + ");"
    if partition_by:
        catalog = schema.split(".")[0]
        out += f"\nCALL {catalog}.system.sync_partition_metadata('{schema.split('.')[-1]}', '{name}', 'FULL');"
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", default="lake", help="local copy (or mount) of the lake to read schemas from")
    parser.add_argument("--location", help="the lake's URI as Trino sees it (default: --lake)")
    parser.add_argument("--schema", default="hive.logalyzer", help="CATALOG.SCHEMA to create the tables in")
    parser.add_argument("--catalog-yml", default=str(ROOT / "conf" / "base" / "catalog.yml"))
    args = parser.parse_args(argv)
    tables = yaml.safe_load(Path(args.catalog_yml).read_text())["tables"]
    location = (args.location or str(Path(args.lake).resolve())).rstrip("/")
    print(f"CREATE SCHEMA IF NOT EXISTS {args.schema} WITH (location = '{location}');")
    for name, spec in tables.items():
        folder = Path(args.lake) / spec.get("path", name)
        if not any(folder.rglob("*.parquet")):
            print(f"-- {name}: no Parquet files under {folder}, skipped", file=sys.stderr)
            continue
        print()
        print(table_ddl(name, folder, f"{location}/{spec.get('path', name)}", list(spec.get("partition_by") or []),
                        args.schema))
    return 0


if __name__ == "__main__":
    sys.exit(main())
