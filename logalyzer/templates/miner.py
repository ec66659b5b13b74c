"""Mining one partition key's messages with drain3, plus the state that lets the next batch go on.

``GroupMiner`` wraps one drain3 ``TemplateMiner`` (its state saved and restored with drain3's own
serialisation) and adds two things drain3 does not keep:

* **Enumerations.** Drain replaces any token that differs between two messages by ``<*>``, so
  ``Link error`` and ``Link ok``, or ``Transitioned from NEW to RUNNING`` and ``... from RUNNING to
  DONE``, end up in one template. For every wildcard position the miner records the values seen
  there. While they are at most ``max_enum_values`` (3) distinct plain words (``ok``, ``user=root``,
  ``alt<NUM>``; not numbers-only variants like ``node7``/``node9``), or at most 10 upper-case
  identifiers (``RUNNING``, ``CONTAINER_REMOTE_LAUNCH``: enum constants by naming convention), the
  position counts as a constant and each message keeps its own word in its template; once more
  values (or a non-word) show up it becomes a real parameter for good. Deterministic, one pass. The
  limit is small because beyond a handful of lower-case words a position usually holds data (users,
  hosts, process names) on systems nobody tuned for (docs/templates.md, section 5).
* **Emitted templates.** The templates each cluster has given out, with one example message, so when
  a later batch generalises a cluster (Drain adds a ``<*>``, or an enumeration outgrows the limit)
  the old template id gets a lineage row to its successor.

Messages must come in a deterministic order (the pipeline sorts by count, then text): Drain is
order-sensitive, and this keeps the result a function of the data.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field

from drain3 import TemplateMiner
from drain3.memory_buffer_persistence import MemoryBufferPersistence
from drain3.template_miner_config import TemplateMinerConfig

from logalyzer.templates.ids import EMPTY_TEMPLATE
from logalyzer.templates.settings import TemplateSettings
from logalyzer.templates.tokens import PARAM

log = logging.getLogger(__name__)

# A plain word, optionally key=word, with light punctuation around it: the shape of enum values.
# Digit runs inside a word are <NUM> after masking (alt0 -> alt<NUM>): still a word.
WORD = re.compile(r"""^[(\["']?(?:[A-Za-z](?:[A-Za-z0-9_.-]|<NUM>)*=)?[A-Za-z](?:[A-Za-z0-9_+-]|<NUM>)*[.,:;!?)\]"']*$""")
_DIGITS = re.compile(r"[0-9]+")
EXTRA_VERSION = 1


def drain_config(settings: TemplateSettings) -> TemplateMinerConfig:
    cfg = TemplateMinerConfig()
    cfg.drain_sim_th = settings.drain.sim_th
    cfg.drain_depth = settings.drain.depth
    cfg.drain_max_children = settings.drain.max_children
    cfg.drain_extra_delimiters = []         # applied in Spark before mining (tokens.py)
    cfg.masking_instructions = []           # applied in Spark before mining (masking.py)
    cfg.parametrize_numeric_tokens = True
    cfg.snapshot_compress_state = True
    cfg.profiling_enabled = False
    return cfg


# An upper-case identifier (RUNNING, CONTAINER_REMOTE_LAUNCH, "GET): by the common naming convention an
# enum constant or state in the code, not data, so such a position may hold more values.
CONSTANT = re.compile(r"""^[(\["']?[A-Z][A-Z0-9_]*[A-Z](?:<NUM>)?[.,:;!?)\]"']*$""")
CONSTANT_LIMIT = 10


def _still_enum(values: set, limit: int) -> bool:
    if limit == 0:
        return False
    if len(values) > limit and not (len(values) <= CONSTANT_LIMIT and all(CONSTANT.match(v) for v in values)):
        return False
    if not all(WORD.match(v) for v in values):
        return False
    return len({_DIGITS.sub("#", v) for v in values}) == len(values)   # node7/node9: a numbered entity


@dataclass
class MinedGroup:
    templates: list            # per input message, its template
    raw: list                  # per input message, its drain3 cluster template (before enum refinement)
    lineage: list              # (old_template, new_template)
    state: str | None          # drain3 serialisation
    extra: str | None          # JSON: enum statistics and emitted templates per cluster
    n_clusters: int = 0
    errors: list = field(default_factory=list)


class GroupMiner:
    """drain3 for one partition key, with enumeration statistics and emitted-template bookkeeping."""

    def __init__(self, settings: TemplateSettings, state: str | None = None, extra: str | None = None):
        self.settings = settings
        self.limit = settings.max_enum_values
        handler = MemoryBufferPersistence()
        if state:
            handler.state = state.encode("ascii")
        self.tm = TemplateMiner(persistence_handler=handler, config=drain_config(settings))
        self.tm.persistence_handler = None      # no snapshot per message; saved once in dump()
        self._handler = handler
        self.drain = self.tm.drain
        data = json.loads(extra) if extra else {}
        # cluster id -> {position: set of values, or None once it is a real parameter}
        self.pos: dict[int, dict[int, set | None]] = {}
        self.emitted: dict[int, dict[str, str]] = {}
        for cid, c in (data.get("clusters") or {}).items():
            self.pos[int(cid)] = {int(i): (set(v) if v is not None else None) for i, v in c.get("pos", {}).items()}
            self.emitted[int(cid)] = dict(c.get("emitted") or {})
        self._last = {c.cluster_id: c.log_template_tokens for c in self.drain.clusters}

    # -- mining ----------------------------------------------------------------------------------
    def add(self, text: str) -> int:
        """Add one message (its tokens joined by single spaces); returns its drain3 cluster id."""
        tokens = text.split()
        cid = self.tm.add_log_message(text)["cluster_id"]
        new = self.drain.id_to_cluster[cid].log_template_tokens
        old = self._last.get(cid)
        stats = self.pos.setdefault(cid, {})
        for i, tok in enumerate(new):
            if tok != PARAM or (i in stats and stats[i] is None):
                continue
            if i not in stats:
                # newly generalised: every earlier message of the cluster had the old literal here
                stats[i] = {old[i]} if old is not None and old[i] != PARAM else None
                if stats[i] is None:
                    continue
            values = stats[i]
            values.add(tokens[i])
            if not _still_enum(values, self.limit):
                stats[i] = None
        self._last[cid] = new
        return cid

    def template_for(self, cid: int, tokens: list) -> str:
        """The message's template: its cluster's, with enumeration positions filled from the message."""
        stats = self.pos.get(cid, {})
        tpl = self.drain.id_to_cluster[cid].log_template_tokens
        return " ".join(tokens[i] if tok == PARAM and stats.get(i) is not None else tok
                        for i, tok in enumerate(tpl))

    def finish(self, texts: list, cids: list) -> tuple[list, list]:
        """Templates of this batch's messages, and lineage of earlier templates that changed."""
        lineage = []
        for cid, emitted in self.emitted.items():
            for old in list(emitted):
                example = emitted[old]
                new = self.template_for(cid, example.split())
                if new != old:
                    lineage.append((old, new))
                    del emitted[old]
                    emitted.setdefault(new, example)
        templates = []
        for text, cid in zip(texts, cids):
            tpl = self.template_for(cid, text.split())
            self.emitted.setdefault(cid, {}).setdefault(tpl, text)
            templates.append(tpl)
        return templates, lineage

    def dump(self) -> tuple[str, str]:
        self.tm.persistence_handler = self._handler
        self.tm.save_state("batch")
        self.tm.persistence_handler = None
        clusters = {}
        for cid in sorted(set(self.pos) | set(self.emitted)):
            clusters[str(cid)] = {
                "pos": {str(i): (sorted(v) if v is not None else None)
                        for i, v in sorted(self.pos.get(cid, {}).items())},
                "emitted": dict(sorted(self.emitted.get(cid, {}).items())),
            }
        extra = json.dumps({"version": EXTRA_VERSION, "clusters": clusters}, ensure_ascii=False, sort_keys=True)
        return self._handler.state.decode("ascii"), extra


def mine_group(texts: list, settings: TemplateSettings, state: str | None = None,
               extra: str | None = None) -> MinedGroup:
    """Mine one partition key's messages (already in their deterministic order)."""
    if all(t == "" for t in texts) and not state:
        return MinedGroup([EMPTY_TEMPLATE] * len(texts), [""] * len(texts), [], None, None, 0)
    miner = GroupMiner(settings, state, extra)
    cids = [miner.add(t) for t in texts]
    templates, lineage = miner.finish(texts, cids)
    raw = [miner.drain.id_to_cluster[c].get_template() for c in cids]
    templates = [t if t != "" else EMPTY_TEMPLATE for t in templates]
    state, extra = miner.dump()
    return MinedGroup(templates, raw, lineage, state, extra, len(miner.drain.clusters))
