"""Prices: what a call costs in USD, from its units.

In this order, for a call of some ``kind`` to ``provider:model``:

1. the price table: :data:`DEFAULT_PRICES` overridden key by key by the ``prices``
   setting, keyed ``"kind:provider:model"`` (``model`` may be ``*``), in USD per unit;
2. models that run in-process (local providers) cost 0 (they are still metered);
3. LLM and embedding calls: ``genai-prices``, whose price data ships inside the package
   and is read offline. The provider's price list is chosen from the endpoint URL when
   it is a known provider's, else from miolumi's provider name, else from the model name;
4. otherwise the price is unknown: the cost is ``None`` and a warning is logged once per
   model, never a silent 0. Give the model a price with the ``prices`` setting, e.g.
   ``{"llm:openai:llama3.2": {"input_tokens": "0", "output_tokens": "0"}}`` for a free
   self-hosted model behind an OpenAI-compatible endpoint.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from functools import cache

from miolumi.config import Settings

log = logging.getLogger(__name__)

DEFAULT_PRICES: dict[str, dict[str, Decimal]] = {
    # OpenAI speech, https://openai.com/api/pricing: tts-1 $15 and tts-1-hd $30 per 1M chars.
    "tts:openai:tts-1": {"characters": Decimal("0.000015")},
    "tts:openai:tts-1-hd": {"characters": Decimal("0.00003")},
    # OpenAI transcription: whisper-1 and gpt-4o-transcribe $0.006/min, mini $0.003/min.
    "stt:openai:whisper-1": {"audio_seconds": Decimal("0.0001")},
    "stt:openai:gpt-4o-transcribe": {"audio_seconds": Decimal("0.0001")},
    "stt:openai:gpt-4o-mini-transcribe": {"audio_seconds": Decimal("0.00005")},
    # Google Cloud Vision, label detection: $1.50 per 1,000 images.
    "vision:google:label-detection": {"images": Decimal("0.0015")},
}
"""Built-in unit prices (USD per unit) for services ``genai-prices`` does not cover.

Prices as the vendors published them; override any of them with the ``prices`` setting.
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Units:
    """What one call consumed. Unused units are None."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    characters: int | None = None
    audio_seconds: float | None = None
    images: int | None = None

    def items(self) -> dict[str, int | float]:
        """The units that were used, by name."""
        found: dict[str, int | float] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                found[f.name] = value
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRef:
    """A chat model as prices and budgets see it."""

    provider: str
    name: str
    local: bool

    @property
    def spec(self) -> str:
        """``provider:name``."""
        return f"{self.provider}:{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Priced:
    """The cost of a call: USD, or None when no price is known."""

    cost: Decimal | None
    source: str
    """Where the price came from: ``table``, ``local``, ``genai-prices`` or ``unknown``."""


class PriceBook:
    """Prices calls; one per process, built from the settings."""

    def __init__(self, *, settings: Settings) -> None:
        self._table = {**DEFAULT_PRICES, **settings.prices}
        self._base_url = settings.base_url
        self._warned: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def table_entry(self, kind: str, provider: str, model: str) -> Mapping[str, Decimal] | None:
        """The table's prices for the call, exact key first, then ``model = *``."""
        return self._table.get(f"{kind}:{provider}:{model}") or self._table.get(
            f"{kind}:{provider}:*"
        )

    def price(
        self,
        *,
        kind: str,
        provider: str,
        model: str,
        units: Units,
        local: bool = False,
        when: datetime | None = None,
    ) -> Priced:
        """The cost of ``units`` on ``provider:model``; see the module docs for the order."""
        entry = self.table_entry(kind, provider, model)
        if entry is not None:
            return self._from_table(entry, kind=kind, provider=provider, model=model, units=units)
        if local:
            return Priced(cost=Decimal(0), source="local")
        if kind in ("llm", "embedding"):
            cost = self._genai(provider=provider, model=model, units=units, when=when)
            if cost is not None:
                return Priced(cost=cost, source="genai-prices")
        self._warn_unknown(kind, provider, model)
        return Priced(cost=None, source="unknown")

    def _from_table(
        self, entry: Mapping[str, Decimal], *, kind: str, provider: str, model: str, units: Units
    ) -> Priced:
        total = Decimal(0)
        for unit, amount in units.items().items():
            price = entry.get(unit)
            if price is None:
                if amount:
                    self._warn_unknown(kind, provider, model, unit=unit)
                    return Priced(cost=None, source="unknown")
                continue
            total += price * Decimal(str(amount))
        return Priced(cost=total, source="table")

    def _genai(
        self, *, provider: str, model: str, units: Units, when: datetime | None
    ) -> Decimal | None:
        import genai_prices

        usage = genai_prices.Usage(
            input_tokens=units.input_tokens or 0, output_tokens=units.output_tokens or 0
        )
        provider_id, api_url = _genai_provider(provider, self._base_url)
        try:
            if api_url is not None:
                result = genai_prices.calc_price(
                    usage, model, provider_api_url=api_url, genai_request_timestamp=when
                )
            else:
                result = genai_prices.calc_price(
                    usage, model, provider_id=provider_id, genai_request_timestamp=when
                )
        except LookupError:
            return None
        return result.total_price

    def _warn_unknown(self, kind: str, provider: str, model: str, *, unit: str = "") -> None:
        key = (kind, provider, f"{model}/{unit}")
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        what = f"{unit!r} of " if unit else ""
        log.warning(
            "No price for %s%s call to %s:%s: its cost is recorded as unknown (null). "
            "Set one with MIOLUMI_PRICES, e.g. {%r: {...}}.",
            what,
            kind,
            provider,
            model,
            f"{kind}:{provider}:{model}",
        )


@cache
def _genai_provider_ids() -> frozenset[str]:
    from genai_prices.data_snapshot import get_snapshot

    return frozenset(p.id for p in get_snapshot().providers)


@cache
def _known_api_url(base_url: str) -> bool:
    from genai_prices.data_snapshot import get_snapshot

    try:
        get_snapshot().find_provider(None, None, base_url)
    except LookupError:
        return False
    return True


def _genai_provider(provider: str, base_url: str | None) -> tuple[str | None, str | None]:
    """Which price list applies: ``(provider_id, None)`` or ``(None, api_url)``.

    The ``openai`` provider of miolumi serves any OpenAI-compatible endpoint: its URL names
    the price list when it is a known vendor's; a URL of no known vendor (a self-hosted
    server, a proxy) leaves the choice to the model name.
    """
    if provider == "openai" and base_url:
        return (None, base_url) if _known_api_url(base_url) else (None, None)
    return (provider, None) if provider in _genai_provider_ids() else (None, None)
