"""atomic_write: permissions follow the umask; killed writes leave nothing behind for long."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pytest

import rlemask
from rlemask import _atomic
from rlemask._atomic import STALE_SECONDS, atomic_write, remove_stale_temporaries

posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX permissions and pids")


@posix_only
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077, 0o002])
def test_written_files_respect_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        rlemask.write_rle_csv(tmp_path / "sub.csv", {"a": "-1"})
        with atomic_write(tmp_path / "b.bin", "wb") as handle:
            handle.write(b"x")
    finally:
        os.umask(old)
    for name in ("sub.csv", "b.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@posix_only
def test_a_killed_write_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    target = tmp_path / "sub.csv"
    code = (
        "import os, sys\n"
        "from rlemask._atomic import atomic_write\n"
        "with atomic_write(sys.argv[1]) as f:\n"
        "    f.write('half a file'); f.flush()\n"
        "    os._exit(9)  # killed mid-write: no clean-up runs\n"
    )
    subprocess.run([sys.executable, "-c", code, str(target)], check=False)
    left = [p.name for p in tmp_path.iterdir()]
    assert not target.exists() and len(left) == 1 and left[0].startswith(".sub.csv.")
    rlemask.write_rle_csv(target, {"a": "0 1"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub.csv"]


@posix_only
def test_only_stale_temporaries_of_the_same_target_are_removed(tmp_path):
    target = tmp_path / "a.csv"
    host = _atomic._HOST
    dead = tmp_path / f".a.csv.{_dead_pid()}@{host}.0a1b.tmp"
    live = tmp_path / f".a.csv.{os.getppid()}@{host}.0a1c.tmp"  # the parent: alive
    own = tmp_path / f".a.csv.{os.getpid()}@{host}.0a1d.tmp"  # this process: alive
    legacy_old = tmp_path / ".a.csv.k2j_x9qa.tmp"  # rlemask 0.1 name, unknown writer
    legacy_new = tmp_path / ".a.csv.p0q1r2s3.tmp"
    remote_old = tmp_path / f".a.csv.{_dead_pid()}@{'f' * 8 if host != 'f' * 8 else 'e' * 8}.1.tmp"
    other_target = tmp_path / f".a.csv.bak.{_dead_pid()}@{host}.0a1e.tmp"
    unrelated = tmp_path / ".a.csv.notes.tmp"
    for p in (dead, live, own, legacy_old, legacy_new, remote_old, other_target, unrelated):
        p.write_text("x")
    old = time.time() - STALE_SECONDS - 60
    for p in (legacy_old, remote_old, unrelated):
        os.utime(p, (old, old))
    removed = remove_stale_temporaries(target)
    assert sorted(removed) == sorted([dead, legacy_old, remote_old])
    for p in (live, own, legacy_new, other_target, unrelated):
        assert p.exists()


def test_a_failed_write_removes_its_temporary_and_keeps_the_target(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write("new")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]


@posix_only
def test_a_replaced_file_keeps_its_mode(tmp_path):
    # a labels file the user made private must not come back world-readable
    target = tmp_path / "private.csv"
    rlemask.write_rle_csv(target, {"a": "-1"})
    target.chmod(0o600)
    old = os.umask(0o022)
    try:
        rlemask.write_rle_csv(target, {"b": "-1"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "b" in rlemask.read_rle_csv(target)


def _unused_pid() -> int:
    """A pid no process of this namespace has (checked, not assumed)."""
    for pid in range(_dead_pid() + 5000, _dead_pid() + 20000, 97):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except OSError:
            continue
    pytest.skip("no unused pid found")


@pytest.mark.skipif(sys.platform != "linux", reason="Linux pid namespaces")
def test_a_live_writer_in_another_pid_namespace_is_left_alone(tmp_path):
    """Containers sharing a folder and a hostname: the other's live pid looks dead here."""
    import shutil

    if shutil.which("unshare") is None:
        pytest.skip("no unshare command")
    target = tmp_path / "sub.csv"
    pid = _unused_pid()  # the writer gets this pid in its namespace; here nobody has it
    writer = (
        f"echo {pid - 1} > /proc/sys/kernel/ns_last_pid && "
        f"{sys.executable} -c 'import sys\n"
        "from rlemask._atomic import atomic_write\n"
        "with atomic_write(sys.argv[1]) as f:\n"
        "    f.write(\"whole\"); f.flush(); print(\"writing\", flush=True); sys.stdin.read()\n"
        f"' {target}"
    )
    proc = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", writer],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        if proc.stdout.readline() != "writing\n":
            proc.kill()
            why = proc.stderr.read()[-300:]
            pytest.skip(f"cannot start a writer in a new pid namespace: {why}")
        (tmp,) = tmp_path.glob(".sub.csv.*.tmp")
        assert tmp.name.startswith(f".sub.csv.{pid}@")  # the namespace's own number
        assert remove_stale_temporaries(target) == []  # it is alive: not ours to judge
        out, err = proc.communicate("", timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert target.read_text() == "whole"
