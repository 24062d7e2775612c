"""rlemask.progress: a tqdm bar on a terminal, plain periodic lines elsewhere (issue 19.20)."""

from __future__ import annotations

import io

import pytest

from rlemask.progress import PlainProgress, is_terminal, keras_verbose, progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_terminal_gives_plain_lines_without_carriage_returns():
    out = io.StringIO()
    with progress(total=1000, desc="cache", unit="img", file=out, every=3600) as bar:
        for _ in range(1000):
            bar.update(1)
    text = out.getvalue()
    assert "\r" not in text
    assert text.count("\n") == 1  # one line at the end: no time had passed for another
    assert text.startswith("cache: 1000/1000 img (100%, ")


def test_plain_lines_come_every_interval():
    out = io.StringIO()
    bar = PlainProgress(total=3, desc="d", file=out, every=0)
    bar.update(1)
    bar.update(2)
    bar.close()
    bar.close()  # nothing new: no second final line
    lines = [line.split(" (")[0] for line in out.getvalue().splitlines()]
    assert lines == ["d: 1/3 it", "d: 3/3 it"]


def test_iterating_and_unknown_totals():
    out = io.StringIO()
    assert list(progress(iter(range(4)), desc="x", file=out, every=0)) == [0, 1, 2, 3]
    assert out.getvalue().splitlines()[-1].startswith("x: 4 it (")  # no total, no share
    with pytest.raises(TypeError, match="without an iterable"):
        iter(PlainProgress()).__next__()


def test_disabled_prints_nothing_and_a_terminal_gets_tqdm():
    out = io.StringIO()
    with progress(total=2, disable=True, file=out) as bar:
        bar.update(2)
    assert out.getvalue() == ""
    term = _Terminal()
    bar = progress(total=2, desc="t", file=term)
    assert type(bar).__module__.startswith("tqdm")
    bar.update(2)
    bar.close()
    assert "\r" in term.getvalue()
    assert is_terminal(term) and not is_terminal(io.StringIO())


def test_keras_verbose():
    assert keras_verbose(True, _Terminal()) == 1
    assert keras_verbose(True, io.StringIO()) == 2
    assert keras_verbose(False, _Terminal()) == 0
