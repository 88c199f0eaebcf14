"""Faults that involve the process itself, each in a fresh interpreter: exiting with spans still
queued (normally, by an uncaught exception, with a trajectory still running), exiting while a
sink is blocked, and forking after ``configure()``.

Each script records trajectories with ``configure()``'s defaults (a BatchSpanProcessor with its
5 s schedule, so spans are still queued when the script ends), writes the ids the
instrumentation gave them to a file, and exits. The test then reads the store and the
dead-letter file: every id is there.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.helpers.faults import dead_letter_ids
from trajectories import attributes as A
from trajectories.model import Trajectory
from trajectories.store import SQLiteTrajectoryStore

PRELUDE = textwrap.dedent(
    """
    import json, os, sys, threading, time
    import trajectories
    from trajectories import trajectory, step

    store_path, dead_path, out_path = sys.argv[1:4]

    class AppError(Exception):
        pass

    def call(k, name="exit"):
        with trajectory(name, attributes={"k": str(k)}) as t:
            for i in range(3):
                with step(f"work{i}"):
                    pass
        return t.id

    def record(ids):
        with open(out_path, "a") as f:
            f.write(json.dumps([int(i) for i in ids]) + "\\n")
    """
)


def run_script(tmp_path: Path, body: str, *, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    script = tmp_path / "app.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    args = [sys.executable, str(script), str(tmp_path / "t.db"), str(tmp_path / "dead.jsonl"), str(tmp_path / "ids.jsonl")]
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
    return done, time.perf_counter() - t0


def recorded_ids(tmp_path: Path) -> list[int]:
    lines = (tmp_path / "ids.jsonl").read_text().splitlines()
    return [i for line in lines for i in json.loads(line)]


def stored(tmp_path: Path) -> dict[int, Trajectory]:
    with SQLiteTrajectoryStore(tmp_path / "t.db") as store:
        return {int(t.id): t for t in store.iter_all()}


def test_exit_with_spans_queued_delivers_everything(tmp_path: Path) -> None:
    done, elapsed = run_script(
        tmp_path,
        """
        trajectories.configure("exit-test", store=store_path, dead_letter_path=dead_path)
        record([call(k) for k in range(200)])
        print("app done")
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "app done\n"
    produced = recorded_ids(tmp_path)
    got = stored(tmp_path)
    assert sorted(got) == sorted(produced)
    assert len(produced) == 200
    assert all(len(t.steps) == 3 for t in got.values())
    assert dead_letter_ids(tmp_path / "dead.jsonl") == []
    assert elapsed < 30  # not the 5 s schedule per batch: one flush at exit


def test_exit_by_an_uncaught_application_exception_delivers_everything(tmp_path: Path) -> None:
    done, _ = run_script(
        tmp_path,
        """
        trajectories.configure("exit-test", store=store_path, dead_letter_path=dead_path)
        ids = [call(k) for k in range(50)]
        record(ids)
        with trajectory("crash") as t:
            record([t.id])
            raise AppError("the application's own crash")
        """,
    )
    assert done.returncode == 1
    assert done.stderr.rstrip().endswith("AppError: the application's own crash")  # its traceback, unchanged
    assert 'raise AppError("the application\'s own crash")' in done.stderr
    produced = recorded_ids(tmp_path)
    got = stored(tmp_path)
    assert sorted(got) == sorted(produced)
    crash = got[produced[-1]]
    assert crash.verdict.kind == "failure"
    assert "the application's own crash" in crash.to_json()
    assert dead_letter_ids(tmp_path / "dead.jsonl") == []


def test_exit_with_a_trajectory_still_running_flags_it_incomplete(tmp_path: Path) -> None:
    """A daemon thread is inside a trajectory when the interpreter exits: its root never ends.
    The steps that did end are delivered, flagged incomplete, not dropped."""
    done, _ = run_script(
        tmp_path,
        """
        trajectories.configure("exit-test", store=store_path, dead_letter_path=dead_path)
        record([call(k) for k in range(20)])
        inside = threading.Event()
        def still_running():
            with trajectory("still-running") as t:
                with step("finished-step"):
                    pass
                record([t.id])
                inside.set()
                time.sleep(3600)
        threading.Thread(target=still_running, daemon=True).start()
        inside.wait()
        """,
    )
    assert done.returncode == 0, done.stderr
    produced = recorded_ids(tmp_path)
    got = stored(tmp_path)
    assert sorted(got) == sorted(produced)
    running = got[produced[-1]]
    assert running.metadata.attributes[A.TRAJECTORY_INCOMPLETE_ATTRIBUTE] == "true"
    assert [s.action for s in running.steps] == ["finished-step"]
    assert "1 trajectory emitted incomplete (1 without its root span" in done.stderr


def test_exit_with_a_blocked_sink_does_not_hang(tmp_path: Path) -> None:
    """A sink that never returns. Without a bound the exit flush would wait forever. With it the
    process exits, the store has every trajectory and the dead-letter file has the blocked sink's."""
    done, elapsed = run_script(
        tmp_path,
        """
        from trajectories.export import CallbackSink
        never = threading.Event()
        config = trajectories.configure(
            "exit-test", store=store_path, dead_letter_path=dead_path,
            sinks=[CallbackSink(lambda t: never.wait(), name="blocking")], sink_timeout=0.5,
        )
        config.exit_timeout_millis = 1000
        record([call(k) for k in range(30)])
        print("app done")
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "app done\n"
    assert elapsed < 20, f"exit took {elapsed:.1f} s"
    assert "flush did not finish within 1000 ms" in done.stderr
    produced = recorded_ids(tmp_path)
    assert sorted(stored(tmp_path)) == sorted(produced)
    assert sorted(dead_letter_ids(tmp_path / "dead.jsonl")) == sorted(produced)


def test_fork_after_configure(tmp_path: Path) -> None:
    """The child records trajectories that arrive; the parent's pending spans stay the parent's.

    A trajectory is running in another thread at the fork, with a step already in the
    exporter's buffer. The parent finishes it; the child must not deliver its own copy of that
    buffer (which, flagged incomplete, would replace the parent's complete trajectory in the
    store at the child's exit). The store's connections do not cross the fork.
    """
    done, _ = run_script(
        tmp_path,
        """
        config = trajectories.configure("fork-test", store=store_path, dead_letter_path=dead_path)
        record([call(k, "parent-before") for k in range(5)])
        config.flush()

        step_done, finish = threading.Event(), threading.Event()
        def across():
            with trajectory("across-fork") as t:
                with step("before-fork"):
                    pass
                step_done.set()
                finish.wait()
                with step("after-fork"):
                    pass
            record([t.id])
        thread = threading.Thread(target=across)
        thread.start()
        step_done.wait()
        config.processor.force_flush()   # the step is in the exporter's buffer, waiting for its root

        parent_done_r, parent_done_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(parent_done_w)
            record([call(k, "child") for k in range(100, 110)])
            os.read(parent_done_r, 1)     # exit only after the parent stored the trajectory across the fork
            sys.exit(0)                   # atexit: the child's flush and shutdown
        os.close(parent_done_r)
        finish.set()
        thread.join()
        config.flush()
        os.write(parent_done_w, b"x")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        record([call(k, "parent-after") for k in range(5)])
        """,
    )
    assert done.returncode == 0, done.stderr
    produced = recorded_ids(tmp_path)
    assert len(produced) == len(set(produced)) == 21
    got = stored(tmp_path)
    assert sorted(got) == sorted(produced)
    by_name: dict[str, list[Trajectory]] = {}
    for t in got.values():
        by_name.setdefault(t.metadata.attributes.get(A.TRAJECTORY_NAME_ATTRIBUTE, "?"), []).append(t)
    assert {k: len(v) for k, v in by_name.items()} == {"parent-before": 5, "across-fork": 1, "child": 10, "parent-after": 5}
    (across,) = by_name["across-fork"]
    assert [s.action for s in across.steps] == ["before-fork", "after-fork"]
    assert A.TRAJECTORY_INCOMPLETE_ATTRIBUTE not in across.metadata.attributes
    for t in got.values():
        assert A.TRAJECTORY_INCOMPLETE_ATTRIBUTE not in t.metadata.attributes
    assert dead_letter_ids(tmp_path / "dead.jsonl") == []
    assert "incomplete" not in done.stderr
    with sqlite3.connect(tmp_path / "t.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_multiprocessing_fork_child_delivers_its_trajectories(tmp_path: Path) -> None:
    """A multiprocessing child (fork start method) ends with os._exit, which skips atexit: its
    spans, still queued in its batch processor, used to be lost. Now they are flushed by
    multiprocessing's own exit hook."""
    done, _ = run_script(
        tmp_path,
        """
        import multiprocessing
        config = trajectories.configure("mp-test", store=store_path, dead_letter_path=dead_path)

        def work(n):
            record([call(k, "mp-child") for k in range(n)])

        if __name__ == "__main__":
            children = [multiprocessing.get_context("fork").Process(target=work, args=(7,)) for _ in range(2)]
            for c in children:
                c.start()
            for c in children:
                c.join()
                assert c.exitcode == 0, c.exitcode
            record([call(k, "mp-parent") for k in range(3)])
        """,
    )
    assert done.returncode == 0, done.stderr
    produced = recorded_ids(tmp_path)
    assert len(produced) == 17
    got = stored(tmp_path)
    assert sorted(got) == sorted(produced)
    names = sorted(t.metadata.attributes[A.TRAJECTORY_NAME_ATTRIBUTE] for t in got.values())
    assert names == ["mp-child"] * 14 + ["mp-parent"] * 3
    assert dead_letter_ids(tmp_path / "dead.jsonl") == []
