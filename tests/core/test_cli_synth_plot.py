"""``rlemask synth`` and ``rlemask plot`` run as real subprocesses."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_rlemask
from PIL import Image

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "data"
    res = run_rlemask("synth", out, "--images", 6, "--positive", 0.5, "--seed", 3, "--size", 128)
    assert res.returncode == 0, res.stderr
    assert "wrote 6 DICOMs (128 x 128, JPEG Baseline)" in res.stdout
    assert "3 positive images (3 negative)" in res.stdout
    return out


def _ids(root: Path) -> dict[str, list[str]]:
    rows = (root / "train-rle.csv").read_text().splitlines()[1:]
    out: dict[str, list[str]] = {}
    for row in rows:
        image_id, rle = row.split(", ", 1)
        out.setdefault(image_id, []).append(rle)
    return out


def test_synth_writes_the_data_set(synth_dir):
    dcms = list(synth_dir.rglob("*.dcm"))
    assert len(dcms) == 6
    ids = _ids(synth_dir)
    assert set(ids) == {p.stem for p in dcms}
    assert sum(v != ["-1"] for v in ids.values()) == 3


def test_synth_matches_the_library_byte_for_byte(synth_dir, tmp_path):
    from rlemask.synthetic import make_dataset

    lib = make_dataset(tmp_path / "lib", 6, size=128, positive_fraction=0.5, seed=3)
    assert (lib / "train-rle.csv").read_bytes() == (synth_dir / "train-rle.csv").read_bytes()
    for path in synth_dir.rglob("*.dcm"):
        twin = lib / path.relative_to(synth_dir)
        assert twin.read_bytes() == path.read_bytes()


def test_synth_refuses_to_overwrite_without_flag(synth_dir, tmp_path):
    res = run_rlemask("synth", synth_dir, "--images", 2, "--size", 64)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "add --overwrite" in res.stderr
    assert res.stderr.startswith("rlemask synth: error:") and "overwrite=" not in res.stderr
    out = tmp_path / "again"
    assert run_rlemask("synth", out, "--images", 2, "--size", 64).returncode == 0
    res = run_rlemask("synth", out, "--images", 3, "--size", 64, "--overwrite", "--seed", 9)
    assert res.returncode == 0, res.stderr
    assert len(list(out.rglob("*.dcm"))) == 3


@pytest.mark.parametrize(
    "args",
    [
        ["--positive", "1.5"],
        ["--positive", "x"],
        ["--images", "0"],
        ["--size", "16"],
        ["--difficulty", "-0.1"],
    ],
)
def test_synth_bad_values_exit_2(tmp_path, args):
    res = run_rlemask("synth", tmp_path / "d", "--size", 64, *args)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1
    # the message names the flag, not make_dataset's parameter (issue 9)
    assert f"argument {args[0]}:" in res.stderr and "`" not in res.stderr
    assert not (tmp_path / "d" / "train-rle.csv").exists()


def test_plot_one_image(synth_dir, tmp_path):
    ids = _ids(synth_dir)
    image_id = next(k for k, v in ids.items() if v != ["-1"])
    out = tmp_path / "one.png"
    res = run_rlemask("plot", synth_dir, image_id, "-o", out)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"wrote {out} ({image_id}: {len(ids[image_id])} RLE row")
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC
    with Image.open(out) as img:
        assert img.size[0] > img.size[1] > 100  # two panels side by side
    # the file name works as an id too
    res = run_rlemask("plot", synth_dir, f"{image_id}.dcm", "-o", tmp_path / "two.png")
    assert res.returncode == 0, res.stderr


def test_plot_unknown_id_is_a_one_line_error(synth_dir, tmp_path):
    res = run_rlemask("plot", synth_dir, "1.2.3.4", "-o", tmp_path / "x.png")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1
    assert "no image with id '1.2.3.4'" in res.stderr
    assert not (tmp_path / "x.png").exists()


def test_plot_overview(synth_dir, tmp_path):
    out = tmp_path / "overview.png"
    res = run_rlemask("plot", synth_dir, "--overview", "--samples", 4, "-o", out)
    assert res.returncode == 0, res.stderr
    assert "overview of 6 images" in res.stdout
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_plot_needs_exactly_one_of_id_and_overview(synth_dir, tmp_path):
    res = run_rlemask("plot", synth_dir, "-o", tmp_path / "x.png")
    assert res.returncode == 2 and "exactly one" in res.stderr
    res = run_rlemask("plot", synth_dir, "abc", "--overview", "-o", tmp_path / "x.png")
    assert res.returncode == 2 and "exactly one" in res.stderr


def test_plot_missing_data_folder(tmp_path):
    res = run_rlemask("plot", tmp_path / "nowhere", "abc", "-o", tmp_path / "x.png")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "DATA" in res.stderr and "parameter" not in res.stderr
