"""Rules that turn evidence and post context into findings with citations (see engine.py and policy.yaml)."""

from service.policy.engine import (
    DEFAULT_POLICY_PATH,
    Condition,
    ExemptAccount,
    ExemptionRegistry,
    Policy,
    Rule,
    load_registry,
)

__all__ = [
    "DEFAULT_POLICY_PATH",
    "Condition",
    "ExemptAccount",
    "ExemptionRegistry",
    "Policy",
    "Rule",
    "load_registry",
]
