"""The rule modules of the kap catalog, in the order of the contract."""

from __future__ import annotations

from types import ModuleType

from . import (
    kap_asmt_001,
    kap_clin_001,
    kap_dose_001,
    kap_dose_002,
    kap_dx_001,
    kap_int_001,
    kap_mod_001,
    kap_mon_001,
    kap_ovl_001,
    kap_prep_001,
    kap_role_001,
)
from .base import Rule

MODULES: tuple[ModuleType, ...] = (
    kap_prep_001,
    kap_int_001,
    kap_mod_001,
    kap_dx_001,
    kap_dose_001,
    kap_dose_002,
    kap_mon_001,
    kap_ovl_001,
    kap_clin_001,
    kap_role_001,
    kap_asmt_001,
)

RULES: dict[str, Rule] = {mod.RULE.id: mod.RULE for mod in MODULES}
BY_ID: dict[str, ModuleType] = {mod.RULE.id: mod for mod in MODULES}

#: Findings about the schedule's waivers rather than its sessions.
WAIVER_RULE = "WAIVER-001"
