"""The `templates:` section of the configuration (conf/base/templates.yml), parsed and checked once.

``TemplateSettings.of(x)`` accepts the full configuration dict, its ``templates`` section, or a
``TemplateSettings``, so tests and benchmarks can pass the shipped ``conf`` and override a key.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

PARTITIONINGS = ("token_count_lead", "token_count")


@dataclass(frozen=True)
class DrainSettings:
    sim_th: float = 0.4
    depth: int = 4
    max_children: int = 100
    extra_delimiters: tuple[str, ...] = ()


@dataclass(frozen=True)
class TemplateSettings:
    masks_default: tuple[str, ...] = ()
    masks_by_format: tuple[tuple[str, tuple[str, ...]], ...] = ()
    custom_masks: tuple[tuple, ...] = ()                     # (name, java regex, placeholder, guard)
    drain: DrainSettings = field(default_factory=DrainSettings)
    max_enum_values: int = 3
    max_chars: int = 4096
    max_tokens: int = 128
    partitioning: str = "token_count_lead"
    mining_partitions: int = 0                               # 0: spark.sql.shuffle.partitions
    broadcast_max_keys: int = 5_000_000                      # broadcast the key → template map up to this
    per_line_masks: int = 0                                  # leading masks applied per line, not per key

    @classmethod
    def of(cls, conf) -> "TemplateSettings":
        if isinstance(conf, TemplateSettings):
            return conf
        conf = conf or {}
        section = conf.get("templates", conf) if isinstance(conf, dict) else {}
        masks = section.get("masks") or {}
        drain = section.get("drain") or {}
        by_format = tuple((str(k), tuple(v or ())) for k, v in sorted((masks.get("by_format") or {}).items()))
        custom = []
        for name, spec in sorted((masks.get("custom") or {}).items()):
            if not isinstance(spec, dict) or "regex" not in spec or "placeholder" not in spec:
                raise ValueError(f"templates.masks.custom.{name}: expected {{regex: ..., placeholder: <NAME>, "
                                 "guard: [optional literals]}}")
            custom.append((str(name), str(spec["regex"]), str(spec["placeholder"]),
                           tuple(str(g) for g in spec.get("guard") or ())))
        settings = cls(
            masks_default=tuple(masks.get("default") or ()),
            masks_by_format=by_format,
            custom_masks=tuple(custom),
            drain=DrainSettings(
                sim_th=float(drain.get("sim_th", 0.4)),
                depth=int(drain.get("depth", 4)),
                max_children=int(drain.get("max_children", 100)),
                extra_delimiters=tuple(drain.get("extra_delimiters") or ()),
            ),
            max_enum_values=int(section.get("max_enum_values", 3)),
            max_chars=int(section.get("max_chars", 4096)),
            max_tokens=int(section.get("max_tokens", 128)),
            partitioning=str(section.get("partitioning", "token_count_lead")),
            mining_partitions=int(section.get("mining_partitions", 0) or 0),
            broadcast_max_keys=int(section.get("broadcast_max_keys", 5_000_000)),
            per_line_masks=int(masks.get("per_line") or 0),
        )
        settings.check()
        return settings

    def check(self) -> None:
        if not 0.0 < self.drain.sim_th <= 1.0:
            raise ValueError(f"templates.drain.sim_th must lie in (0, 1], got {self.drain.sim_th}")
        if self.drain.depth < 3:
            raise ValueError(f"templates.drain.depth must be at least 3 (drain3's minimum), got {self.drain.depth}")
        if self.drain.max_children < 2:
            raise ValueError(f"templates.drain.max_children must be at least 2, got {self.drain.max_children}")
        if self.max_chars < 1 or self.max_tokens < 1:
            raise ValueError("templates.max_chars and templates.max_tokens must be positive")
        if self.max_enum_values < 0:
            raise ValueError("templates.max_enum_values must be 0 (off) or positive")
        if self.partitioning not in PARTITIONINGS:
            raise ValueError(f"templates.partitioning must be one of {', '.join(PARTITIONINGS)}, "
                             f"got {self.partitioning!r}")

    @property
    def split_by_lead(self) -> bool:
        """Partition by leading token too: exact only where drain3's tree has a leading-token level."""
        return self.partitioning == "token_count_lead" and self.drain.depth >= 4

    def masks_for(self, fmt: str | None) -> tuple[str, ...]:
        return dict(self.masks_by_format).get(fmt, self.masks_default) if fmt is not None else self.masks_default

    def mining_fingerprint(self) -> str:
        """What the persisted Drain state depends on: a state mined under other settings is not reused."""
        # enum_rules: the version of the miner's enumeration rules (miner.py WORD / CONSTANT), so a state
        # mined under older rules is not continued with new ones
        keys = {"drain": asdict(self.drain), "max_enum_values": self.max_enum_values, "enum_rules": 2,
                "max_tokens": self.max_tokens, "max_chars": self.max_chars, "split_by_lead": self.split_by_lead}
        return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:12]
