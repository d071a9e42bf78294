"""tenant-mgmt's per-tenant token windows, on a clock the test moves."""

from __future__ import annotations

from chaosllm.sandbox.app.tenantmgmt import Limits


class Clock:
    def __init__(self) -> None:
        self.now = 600.0

    def __call__(self) -> float:
        return self.now


def test_a_tenant_gets_its_plans_tokens_per_minute_and_then_a_retry_after() -> None:
    clock = Clock()
    limits = Limits(clock)
    limits.load({"initech": "starter", "acme": "enterprise"}, {"starter": 40, "enterprise": 1000})
    assert limits.admit("initech", 16)[1]["remaining"] == 24
    assert limits.admit("initech", 16)[1]["remaining"] == 8
    clock.now = 645.2
    status, refused = limits.admit("initech", 16)
    assert status == 429 and refused["retryAfter"] == 15 and refused["used"] == 32
    assert limits.admit("acme", 16)[0] == 200  # another tenant has its own window
    clock.now = 660.0  # a new minute
    assert limits.admit("initech", 16) == (200, {
        "admitted": True, "tenantId": "initech", "plan": "starter", "tokensPerMinute": 40,
        "remaining": 24})


def test_an_unknown_tenant_or_plan_is_refused() -> None:
    limits = Limits(Clock())
    limits.load({"initech": "legacy"}, {"starter": 40})
    assert limits.admit("nobody", 1)[0] == 404
    assert limits.admit("initech", 1)[0] == 429  # a plan with no limit row admits nothing
