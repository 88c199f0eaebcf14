"""make bench-learning cannot rot: its ``--quick`` run must show memory-on beating memory-off.

A correctness check of the loop (record -> store -> recall -> choose a plan -> act), not a
timing. The margin is one the full run has shown to hold for every seed (docs/learning.md).
The world's and the policy's rules are checked directly as well.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from learning.agent import AgentConfig  # noqa: E402
from learning.memory import FAILED, WORKED, check_rank, choose_plan, parse_plan  # noqa: E402
from learning.phrasing import HELD_OUT, TEMPLATES  # noqa: E402
from learning.stream import make_world  # noqa: E402
from learning.world import FAMILIES, Environment, plan_text  # noqa: E402

from trajectories.learning import PastExperience, Recall  # noqa: E402
from trajectories.model import StepOutcome, TrajectoryRecorder, Verdict  # noqa: E402

#: memory-on's success rate over the quick stream exceeds memory-off's by at least this much,
#: averaged over the quick seeds. Measured: the full run's smallest per-seed gap is 0.42
#: (10 seeds x 2000 tasks); at the quick size (3 seeds x 500 tasks) the mean is 0.47.
MARGIN = 0.2
#: In the misleading arms (a third of the memory poisoned, late verdicts applied), effect ranking's
#: success exceeds similarity ranking's by at least this much, averaged over the quick seeds.
#: Measured: at the quick size the mean is 0.052, smallest per seed 0.026; the full run's gap is
#: in docs/learning.md. At 250 tasks it was only 0.007: effect ranking needs a memory to have
#: been used a few times (prior strength 6) before its record moves its rank, hence 500.
EFFECT_MARGIN = 0.02


def _bench(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``bench_learning.py *args`` in a fresh interpreter (configure() is process-wide)."""
    script = str(ROOT / "benchmarks" / "bench_learning.py")
    return subprocess.run([sys.executable, script, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False)


def test_quick_run_memory_on_beats_memory_off(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = _bench(tmp_path, "--quick", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    off, on = results["arms"]["memory off"], results["arms"]["memory on, similarity"]
    assert on["seeds"] == off["seeds"] == 3
    assert on["success"][0] >= off["success"][0] + MARGIN, (on["success"], off["success"])
    assert on["steps_per_solved"][0] < off["steps_per_solved"][0]
    assert on["followed_memory"] > 0.5
    assert off["followed_memory"] == 0.0
    assert on["recall_ms"][0] > 0.0
    sim, eff = results["arms"]["misleading, similarity + feedback"], results["arms"]["misleading, effect + feedback"]
    assert eff["success"][0] >= sim["success"][0] + EFFECT_MARGIN, (eff["success"], sim["success"])
    assert eff["late_applied"] > 0
    assert eff["late_applied"] == eff["late_verdicts"]
    assert "| memory on, similarity |" in proc.stdout


def test_world_is_deterministic_and_late_families_start_late() -> None:
    a, b = make_world(7, 400), make_world(7, 400)
    assert [t.text for t in a.tasks] == [t.text for t in b.tasks]
    assert a.tool_order == b.tool_order
    assert [t.text for t in make_world(8, 400).tasks] != [t.text for t in a.tasks]
    first: dict[str, int] = {}
    for t in a.tasks:
        first.setdefault(t.family.name, t.index)
    for fam in FAMILIES:
        assert first[fam.name] >= fam.first_at * 400
    assert set(TEMPLATES) == set(HELD_OUT) == {f.name for f in FAMILIES}


def test_environment_refuses_reads_and_breaks_on_wrong_actions() -> None:
    fam = next(f for f in FAMILIES if f.name == "double_charge")
    env = Environment(fam)
    assert not env.call("lookup_customer", "phone").ok  # a read with a wrong argument: refused
    assert not env.broken
    reply = env.call("issue_refund", "original_payment")  # an action before its turn: irreversible
    assert not reply.ok
    assert reply.message.startswith("irreversible")
    assert env.broken
    env = Environment(fam)
    for tool, arg in fam.recipe:
        assert env.call(tool, arg).ok
    assert env.truly_solved
    trap = next(f for f in FAMILIES if f.trap_arg is not None)
    env = Environment(trap)
    for tool, arg in trap.recipe[:-1]:
        env.call(tool, arg)
    assert env.call(trap.recipe[-1][0], trap.trap_arg or "").resolved
    assert env.resolved
    assert not env.truly_solved


def _experience(lesson: str, similarity: float) -> PastExperience:
    rec = TrajectoryRecorder(query_embedding=[1.0, 0.0])
    rec.add_step("triage", "", StepOutcome.success(), 1.0)
    rec.add_lesson(lesson)
    return PastExperience(rec.complete(Verdict.success()), similarity, (lesson,))


def test_choose_plan_follows_what_worked_and_vetoes_what_failed() -> None:
    good = (("lookup_customer", "email"), ("lookup_order", "order_id"), ("issue_refund", "original_payment"))
    bad = (("lookup_customer", "email"), ("lookup_order", "order_id"), ("issue_refund", "store_credit"))
    assert parse_plan(plan_text(good)) == good
    assert parse_plan("no plan here") is None
    found = Recall((_experience(WORKED + plan_text(bad), 0.9), _experience(WORKED + plan_text(good), 0.6)), ())
    assert choose_plan(found).plan == bad  # similarity alone trusts the closer memory
    vetoed = Recall((*found.experiences, _experience(FAILED + plan_text(bad), 0.95)), ())
    decision = choose_plan(vetoed)
    assert decision.plan == good
    assert (bad[:-1], bad[-1]) in decision.avoid
    assert choose_plan(Recall((), ())).plan == ()


def test_ranking_names_are_checked() -> None:
    assert check_rank("similarity") == "similarity"
    assert AgentConfig().rank == "effect"
    with pytest.raises(ValueError, match="rank must be one of"):
        check_rank("popularity")


def test_arms_and_prior_strength_select_a_sweep(tmp_path: Path) -> None:
    small = ("--seeds", "1", "--tasks", "40")
    sweep = (*small, "--arms", "sim,eff+fb", "--prior-strength", "2")
    proc = _bench(tmp_path, *sweep, "--json", str(tmp_path / "sweep.json"), timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "sweep.json").read_text())
    assert list(results["arms"]) == ["memory on, similarity", "memory on, effect + feedback"]
    assert results["params"]["prior_strength"] == 2.0
    assert results["distillation"] == {}
    assert results["retrieval"] == []
    assert "prior strength set to 2 for this run" in proc.stdout
    rerun = _bench(tmp_path, *sweep, "--json", str(tmp_path / "again.json"), timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    seeded = ("per_seed_success", "steps_per_solved", "followed_memory", "late_verdicts", "looked_solved_but_failed")
    for name, arm in json.loads((tmp_path / "again.json").read_text())["arms"].items():  # seeded ids: the same run
        assert {k: arm[k] for k in seeded} == {k: results["arms"][name][k] for k in seeded}
    bad = _bench(tmp_path, *small, "--arms", "sim,popularity", timeout=60)
    assert bad.returncode == 2
    assert "--arms takes keys from off, sim" in bad.stderr
    docs = _bench(tmp_path, *small, "--prior-strength", "3", "--docs", str(tmp_path / "x.md"), timeout=60)
    assert docs.returncode == 2
    assert "--docs takes the full run only" in docs.stderr


def test_the_sweeps_prior_strength_reaches_the_sdks_ranking() -> None:
    import bench_learning

    from trajectories._internal.learning import effect
    from trajectories.store import MemoryCredit

    before = effect.PRIOR_STRENGTH
    used = MemoryCredit(4, 4, 4.0)
    try:
        bench_learning._set_prior_strength(None)
        assert effect.PRIOR_STRENGTH == before == 6.0
        default = effect.measure(0.8, used, 0.6).smoothed_rate
        bench_learning._set_prior_strength(2.0)
        assert effect.measure(0.8, used, 0.6).smoothed_rate == pytest.approx(5.2 / 6) != default
    finally:
        effect.PRIOR_STRENGTH = before  # type: ignore[misc]
