"""Rules that turn evidence into findings with citations (see engine.py and the default policy.yaml)."""

from service.policy.engine import DEFAULT_POLICY_PATH, Condition, Policy, Rule

__all__ = ["DEFAULT_POLICY_PATH", "Condition", "Policy", "Rule"]
