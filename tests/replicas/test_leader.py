"""Exactly one replica runs the periodic jobs (the jobs lease in PostgreSQL), every replica
says which one, and when the leader is killed with -9 another one takes over well within 30 s
(the lease TTL here is 2 s)."""

from __future__ import annotations

from collections.abc import Callable

from tests.harness.replicas import Replica, wait_for


def agreed_leader(replicas: list[Replica]) -> str | None:
    """The leader every live replica names, once they all name the same live one."""
    seen = {(r.ready() or {}).get("leader") for r in replicas if r.alive}
    names = {r.name for r in replicas if r.alive}
    if len(seen) == 1:
        (leader,) = seen
        return leader if leader in names else None
    return None


def test_three_replicas_elect_one_leader_and_a_kill_moves_it(
    replicas: Callable[..., list[Replica]],
) -> None:
    group = replicas(3, alerts_interval_s=0)
    leader = wait_for("one leader named by all three", lambda: agreed_leader(group))
    assert [(r.ready() or {})["replica"] for r in group] == ["r0", "r1", "r2"]
    old = next(r for r in group if r.name == leader)
    old.kill()
    survivors = [r for r in group if r is not old]
    new = wait_for("a new leader among the survivors", lambda: agreed_leader(survivors), 30)
    assert new != leader and new in {r.name for r in survivors}
    # It stays put while it lives: the other survivor does not take it on its renewals.
    for _ in range(10):
        assert agreed_leader(survivors) == new


def test_a_clean_stop_hands_the_lease_over(replicas: Callable[..., list[Replica]]) -> None:
    group = replicas(2, alerts_interval_s=0, lease_ttl_s=600)  # only a release can move it
    leader = wait_for("a leader", lambda: agreed_leader(group))
    old = next(r for r in group if r.name == leader)
    old.stop()
    other = next(r for r in group if r is not old)
    assert wait_for("the other replica leading", lambda: agreed_leader([other])) == other.name
