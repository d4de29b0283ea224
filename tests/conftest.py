import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True,
    derandomize=True,
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    """Feature tags are rule IDs: register them as markers (``-m KAP-INT-001`` selects)."""
    from kapcheck.protocol import load_protocol, shipped_protocols
    from kapcheck.rules import WAIVER_RULE

    ids = {r.id for name in shipped_protocols() for r in load_protocol(name).rules}
    from kapcheck.protocol.templates import TEMPLATES

    for name in TEMPLATES:
        config.addinivalue_line("markers", f"template-{name}: scenarios of a rule of {name}")
    for rule_id in [*sorted(ids), WAIVER_RULE]:
        config.addinivalue_line("markers", f"{rule_id}: scenarios that specify {rule_id}")
