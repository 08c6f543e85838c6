"""Cost: every paid call priced, attributed to a user, and held to budgets.

- :class:`CostTracker` (``Services.cost``): the price book, the budget policy and the
  usage ledger of a process; its :attr:`~CostTracker.handler` is attached by the model
  catalog to every chat model, and :meth:`~CostTracker.meter` wraps other paid calls.
- :func:`run_metadata`: the run-config metadata that attributes a graph run's calls.
- :mod:`miolumi.core.cost.usage`: reports over the ledger (``miolumi usage``).
"""

import logging

from miolumi.core.cost.budget import BudgetPolicy, Cap, Decision
from miolumi.core.cost.callback import LedgerCallbackHandler, model_metadata, run_metadata
from miolumi.core.cost.ledger import Attribution, Call, Ledger
from miolumi.core.cost.prices import DEFAULT_PRICES, ModelRef, PriceBook, Priced, Units
from miolumi.core.cost.tracker import Admission, CostTracker, Meter

# Warnings (unpriced models, budgets near their caps) are records for the application's
# logging configuration, not lines on a chat user's terminal.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "DEFAULT_PRICES",
    "Admission",
    "Attribution",
    "BudgetPolicy",
    "Call",
    "Cap",
    "CostTracker",
    "Decision",
    "Ledger",
    "LedgerCallbackHandler",
    "Meter",
    "ModelRef",
    "PriceBook",
    "Priced",
    "Units",
    "model_metadata",
    "run_metadata",
]
