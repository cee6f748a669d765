"""The policy pack the analyzer runs (``pulumi preview --policy-pack policy``): every rule
of :mod:`policy.rules`, mandatory."""

import sys
from pathlib import Path

# The project root: the rules use its capability table and the provider's reading of `set` lines.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

from policy.rules import RULES, STACK_RULES

policies: list[Policy] = [ResourceValidationPolicy(name=n, description=d, validate=v) for n, d, v in RULES]
policies += [StackValidationPolicy(name=n, description=d, validate=v) for n, d, v in STACK_RULES]
PolicyPack(name="fabric", enforcement_level=EnforcementLevel.MANDATORY, policies=policies)
