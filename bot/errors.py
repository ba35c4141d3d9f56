"""The bot's error taxonomy.

    BotError                      anything the bot reports as one clear line, never a traceback
    ├── ConfigError               a config file or setting is wrong: a human must fix it
    ├── DataError                 prices are missing, stale, NaN or otherwise unusable
    ├── PlanningError             targets/prices cannot be turned into safe orders
    ├── BrokerError               the broker refused or failed an operation
    │   ├── DuplicateOrderError   a client_order_id was already used (Alpaca's 422 40010001)
    │   ├── TransientBrokerError  timeout, dropped link, 429, 5xx: outcome unknown, retry later
    │   │   └── UnknownOutcomeError   an order's answer did not parse: it may exist, look it up
    │   ├── UnexpectedAnswerError  a read's answer did not parse (missing field, wrong type)
    │   ├── UnknownOrderStateError  a submit failed and the lookup by id failed too: stop
    │   ├── BrokerAuthError       401/403 on credentials: a human must fix the keys
    │   └── OrderRejectedError    400/403/422 on an order: final for that intent
    ├── PreTradeCheckError        an account, asset or data check failed: no orders
    └── StateError                the state directory or tracker is unusable

Every error aborts the affected strategy's cycle *before* any order is sent, unless it is a
BrokerError raised by an order submission, which stops the remaining orders of that cycle.
"""

from __future__ import annotations


class BotError(Exception):
    """Base class: the message is shown to the user as-is, so it says what, where and what to do."""


class ConfigError(BotError):
    """A configuration file or setting is invalid."""


class DataError(BotError):
    """Market data cannot be trusted for a decision."""


class PlanningError(BotError):
    """Targets, prices or the account snapshot cannot be turned into safe orders."""


class BrokerError(BotError):
    """The broker refused or failed an operation."""


class DuplicateOrderError(BrokerError):
    """The client_order_id was already used at the broker; look it up, never resend."""


class TransientBrokerError(BrokerError):
    """The broker could not be reached or asked us to slow down; the outcome may be unknown."""


class UnknownOutcomeError(TransientBrokerError):
    """A request that changes state got an answer that did not parse: it may have taken
    effect, so the order is looked up by its client_order_id before anything else."""


class UnexpectedAnswerError(BrokerError):
    """The broker's answer to a read did not parse (not JSON, a missing field, a wrong type):
    reported as one line naming the endpoint, not retried."""


class UnknownOrderStateError(BrokerError):
    """A submit failed and the order could not be looked up: nothing else may be sent."""


class BrokerAuthError(BrokerError):
    """The broker refused the credentials."""


class OrderRejectedError(BrokerError):
    """The broker refused an order; sending the same intent again would be refused too."""


class PreTradeCheckError(BotError):
    """A pre-trade check failed (account, asset, data freshness): the strategy does not trade."""


class StateError(BotError):
    """The state directory or the tracker database is unusable."""
