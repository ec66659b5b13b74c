"""Template mining at fleet scale: mask → distinct → drain3 per partition key → join back.

Modules (one idea each): ``settings`` (the ``templates:`` conf), ``masking`` (presets, Spark
``regexp_replace``), ``tokens`` (mined text, partition key), ``miner`` (drain3 + enumerations +
state for one key), ``mining`` (the pandas-UDF fan-out), ``params`` (parameter extraction),
``ids`` (stable ids), ``store`` (templates, lineage, drain_state), ``pipeline`` (the stage).
See docs/templates.md.
"""
from logalyzer.templates.ids import template_id
from logalyzer.templates.pipeline import (assign_templates, distinct_keys, distinct_messages, key_lines, mask_keys,
                                         mask_messages, run_templates, select_new_lines)

__all__ = ["run_templates", "mask_messages", "key_lines", "distinct_keys", "mask_keys", "distinct_messages",
           "assign_templates", "select_new_lines", "template_id"]
