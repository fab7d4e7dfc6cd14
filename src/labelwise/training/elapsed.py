"""Training time across processes: what a run spent before it was resumed.

A run's ``train_seconds`` is the time of the process that finished it plus what earlier
processes spent up to their last checkpoint (what a kill lost after it is not counted).
A fusion has no loop of its own: each member it trained records its own total
(:data:`MEMBER_SECONDS`), so a fusion resumed after its first members finished still counts
their time."""

from __future__ import annotations

from pathlib import Path

from labelwise import checkpoint as ckpt
from labelwise import rundir

MEMBER_SECONDS = "member_seconds.json"  # in a fusion member's run directory: its training seconds


def earlier_seconds(run_dir: Path) -> float:
    """Training seconds ``run_dir`` spent before it was resumed: the loop's time up to its
    last checkpoint and the PLANT stage's, which a resumed run does not redo; for a fusion,
    its complete members' recorded totals and an unfinished member's own earlier seconds."""
    from labelwise.plant.pipeline import stage_seconds

    run_dir = Path(run_dir)
    members = run_dir / rundir.MEMBERS_DIR
    if members.is_dir():
        return sum(member_seconds(m) for m in sorted(members.iterdir()) if m.is_dir())
    if not (run_dir / rundir.TRAINER_STATE).is_file():
        return stage_seconds(run_dir)
    state = ckpt.read_json(run_dir / rundir.TRAINER_STATE)
    return float(state.get("train_seconds", 0.0)) + stage_seconds(run_dir)


def member_seconds(member_dir: Path) -> float:
    """A fusion member's training seconds: its recorded total once complete, else what it
    spent up to its last checkpoint."""
    recorded = Path(member_dir) / MEMBER_SECONDS
    if rundir.run_state(member_dir) == "complete" and recorded.is_file():
        return float(ckpt.read_json(recorded).get("train_seconds", 0.0))
    return earlier_seconds(member_dir)


def record_member_seconds(member_dir: Path, seconds: float) -> None:
    """Write a finished member's training seconds into its run directory."""
    ckpt.write_json(Path(member_dir) / MEMBER_SECONDS, {"train_seconds": seconds})
