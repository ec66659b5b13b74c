"""The `field_events.service` section: where to listen, the accepted tokens and the request limits."""
from __future__ import annotations

from dataclasses import dataclass, field

from logalyzer.errors import ConfigError


class ServiceConfigError(ConfigError, ValueError):
    """The service settings are unusable (no token, a bad port): the CLI prints it and exits 2."""


@dataclass(frozen=True)
class ServiceSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    tokens: tuple = field(default=(), repr=False)   # never printed
    max_body_bytes: int = 262144
    max_devices: int = 10000
    max_list: int = 10000
    db_connections: int = 8

    @classmethod
    def of(cls, conf: dict) -> "ServiceSettings":
        svc = ((conf.get("field_events") or {}).get("service") or {})
        raw = svc.get("tokens") or ""
        tokens = tuple(t.strip() for t in (raw.split(",") if isinstance(raw, str) else raw) if str(t).strip())
        try:
            s = cls(host=str(svc.get("host") or "127.0.0.1"), port=int(svc.get("port", 8080)), tokens=tokens,
                    max_body_bytes=int(svc.get("max_body_bytes") or 262144),
                    max_devices=int(svc.get("max_devices") or 10000), max_list=int(svc.get("max_list") or 10000),
                    db_connections=int(svc.get("db_connections") or 8))
        except (TypeError, ValueError) as exc:
            raise ServiceConfigError(f"field_events.service: {exc}") from None
        if not 0 <= s.port <= 65535:
            raise ServiceConfigError(f"field_events.service.port must be 0..65535, not {s.port}")
        if min(s.max_body_bytes, s.max_devices, s.max_list, s.db_connections) < 1:
            raise ServiceConfigError("field_events.service: max_body_bytes, max_devices, max_list and "
                                     "db_connections must be >= 1")
        return s

    def require_tokens(self) -> None:
        if not self.tokens:
            raise ServiceConfigError(
                "no API token configured: set LOGALYZER_EVENT_TOKENS (comma-separated; "
                "field_events.service.tokens) before `logalyzer serve`: the service never runs open")
        short = [t for t in self.tokens if len(t) < 16]
        if short:
            raise ServiceConfigError(f"{len(short)} API token(s) shorter than 16 characters in "
                                     "LOGALYZER_EVENT_TOKENS: use long random tokens (e.g. `openssl rand -hex 32`)")
