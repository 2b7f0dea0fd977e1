"""One policy for every output file, with real symlinks, hard links, FIFOs and modes:
0600 whatever the umask, no symlink followed, nothing clobbered without --force, the JSONL
log appended to only when it is plainly ours. Then each command that writes a file."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.capture.outfile import OutputError, open_fd, open_output
from tests.conftest import CAPTURES, ROOT


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would make files world-readable (the policy must not care)."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return os.lstat(path).st_mode & 0o777


def test_a_new_file_is_0600_even_with_umask_0(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "new.pcapng"
    with open_output(path, binary=True) as f:
        f.write(b"x")
    assert mode(path) == 0o600 and path.read_bytes() == b"x"


def test_an_existing_file_is_refused_then_replaced_with_force(tmp_path: Path) -> None:
    path = tmp_path / "run.pcapng"
    path.write_bytes(b"yesterday's call")
    os.chmod(path, 0o644)
    with pytest.raises(OutputError) as info:
        open_fd(path)
    assert str(info.value) == f"{path}: exists; use --force to replace it"
    assert path.read_bytes() == b"yesterday's call"
    # a hard link to someone's file planted under the name: --force replaces the name,
    # it never writes through the link
    precious = tmp_path / "precious"
    precious.write_bytes(b"keep me")
    path.unlink()
    os.link(precious, path)
    with open_output(path, force=True) as f:
        f.write("today")
    assert precious.read_bytes() == b"keep me"
    assert path.read_text() == "today" and mode(path) == 0o600
    assert os.stat(path).st_ino != os.stat(precious).st_ino


@pytest.mark.parametrize("target_exists", [True, False])
@pytest.mark.parametrize("force,append", [(False, False), (True, False), (False, True)])
def test_a_symlink_is_never_followed(tmp_path: Path, target_exists: bool, force: bool,
                                     append: bool) -> None:
    """A link planted in a shared directory (/tmp) pointing at a victim file, or at a
    name where the victim would be created: refused, victim untouched."""
    victim = tmp_path / "victim"
    if target_exists:
        victim.write_bytes(b"secret")
    link = tmp_path / "run.jsonl"
    link.symlink_to(victim)
    with pytest.raises(OutputError) as info:
        open_fd(link, force=force, append=append)
    assert "is a symbolic link: not followed" in str(info.value)
    assert victim.read_bytes() == b"secret" if target_exists else not victim.exists()
    assert link.is_symlink()


def test_append_to_our_log_sets_0600_but_not_to_a_shared_one(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    log.write_text("line 1\n")
    os.chmod(log, 0o644)
    with open_output(log, append=True) as f:
        f.write("line 2\n")
    assert log.read_text() == "line 1\nline 2\n" and mode(log) == 0o600
    other = tmp_path / "other-name"
    os.link(log, other)  # the same file under two names: not plainly ours to append to
    with pytest.raises(OutputError, match="has 2 hard links: not appended to"):
        open_fd(log, append=True)
    other.unlink()
    if os.geteuid() == 0:  # a file of another user (root can make one)
        os.chown(log, 65534, 65534)
        with pytest.raises(OutputError, match="belongs to another user: not appended to"):
            open_fd(log, append=True)
        assert log.read_text() == "line 1\nline 2\n"


def test_a_fifo_and_dev_null_are_written_as_they_are(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    with open_output(fifo, binary=True) as f:  # no --force needed: nothing is clobbered
        f.write(b"through the pipe")
    reader.join(10)
    assert got == [b"through the pipe"] and mode(fifo) == 0o644 & ~_umask()
    with open_output("/dev/null", force=False) as f:
        f.write("gone")
    assert os.stat("/dev/null").st_mode & 0o777 == 0o666  # untouched


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def test_a_directory_or_a_missing_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a directory"):
        open_fd(tmp_path)
    with pytest.raises(OutputError) as info:
        open_fd(tmp_path / "no" / "x.jsonl")
    assert info.value.strerror == f"no such directory {tmp_path / 'no'}"


# ---------------------------------------------------------------- the commands


def dtlsproxy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proxy", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_analyze_output_is_0600_refused_if_it_exists_and_never_a_symlink(tmp_path: Path) -> None:
    capture = str(CAPTURES / "dtls1_2.pcap")
    out = tmp_path / "x.jsonl"
    r = dtlsproxy("analyze", capture, "--format", "jsonl", "-o", str(out), cwd=tmp_path)
    assert r.returncode == 0 and mode(out) == 0o600
    first = out.read_text()
    r = dtlsproxy("analyze", capture, "-o", str(out), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == f"dtlsproxy analyze: -o {out}: exists; use --force to replace it\n"
    assert out.read_text() == first
    r = dtlsproxy("analyze", capture, "-o", str(out), "--force", cwd=tmp_path)
    assert r.returncode == 0 and out.read_text().startswith("Session s1: ") and mode(out) == 0o600
    victim = tmp_path / "victim"
    victim.write_text("mine")
    link = tmp_path / "planted.jsonl"
    link.symlink_to(victim)
    r = dtlsproxy("analyze", capture, "-o", str(link), "--force", cwd=tmp_path)
    assert r.returncode == 2 and "is a symbolic link: not followed" in r.stderr
    assert victim.read_text() == "mine"
    # an unreadable capture leaves no empty output behind
    r = dtlsproxy("analyze", str(tmp_path / "victim"), "-o", str(tmp_path / "y.txt"),
                  cwd=tmp_path)
    assert r.returncode == 1 and not (tmp_path / "y.txt").exists()


def test_run_refuses_an_existing_pcap_and_a_planted_log_link(tmp_path: Path) -> None:
    pcap, log = tmp_path / "run.pcapng", tmp_path / "run.jsonl"
    pcap.write_bytes(b"an older capture")
    base = ("run", "--side-a", "127.0.0.1:0", "--side-b", "127.0.0.1:0", "--headless",
            "--duration", "0.5")
    r = dtlsproxy(*base, "--pcap", str(pcap), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == (f"dtlsproxy run: cannot write --pcap {pcap}: exists; use --force "
                        "to replace it\n")
    assert pcap.read_bytes() == b"an older capture"
    victim = tmp_path / "victim"
    victim.write_text("mine")
    log.symlink_to(victim)
    r = dtlsproxy(*base, "--log-file", str(log), cwd=tmp_path)
    assert r.returncode == 2 and f"cannot write --log-file {log}: is a symbolic link" in r.stderr
    assert victim.read_text() == "mine"
    log.unlink()
    log.write_text('{"event":"notice"}\n')  # an earlier run's log: appended to
    os.chmod(log, 0o644)
    r = dtlsproxy(*base, "--pcap", str(pcap), "--force", "--log-file", str(log), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert mode(pcap) == 0o600 and mode(log) == 0o600
    assert pcap.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # a new pcapng section header
    lines = log.read_text().splitlines()
    assert lines[0] == '{"event":"notice"}' and len(lines) > 2
    assert any('"code":"relay_summary"' in line for line in lines)


def test_tui_export_never_replaces_a_file_nor_follows_a_planted_link(tmp_path: Path) -> None:
    from proxy.analyze.pipeline import analyze_capture
    from ui.export import export_name, export_session
    from ui.model import Model

    model = Model()
    model.absorb(analyze_capture(CAPTURES / "dtls1_2.pcap"))
    st = model.sessions["s1"]
    victim = tmp_path / "victim"
    victim.write_text("mine")
    (tmp_path / f"{export_name(st)}.jsonl").symlink_to(victim)
    first = export_session(st, tmp_path)
    second = export_session(st, tmp_path)
    stem = tmp_path / export_name(st)
    assert first == [Path(f"{stem}-2.{ext}") for ext in ("jsonl", "pcapng", "html")]
    assert second == [Path(f"{stem}-3.{ext}") for ext in ("jsonl", "pcapng", "html")]
    assert victim.read_text() == "mine"
    assert all(mode(p) == 0o600 for p in first + second)
