"""The versions table without rich (cli/plain_table.py) is rich's own text, byte for byte.

`render` is compared with rich rendering the same Table on a console that draws no styles,
over tables of every shape it takes; what it declines (a cell rich would wrap or measure
otherwise) returns None. `_rich_would_style` is compared with rich's own Console deciding
the same stream and environment. End to end, `registry versions` through the plain path
prints what rich printed before, and on a terminal (FORCE_COLOR) still goes through rich.
"""

from __future__ import annotations

import io
import itertools
import random
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from rich.console import Console
from rich.table import Table

from registry_project import ModelRegistry, Stage
from registry_project.cli import cli, plain_table
from registry_project.cli.inspect import versions_table
from registry_project.cli.output import console_width


def rich_text(title: str, headers: list[str], rows: list[list[str]], width: int) -> str:
    """What the CLI's console (output.console) prints for the table to a pipe."""
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, highlight=False, soft_wrap=False, markup=False, emoji=False
    )
    table = Table(*headers, title=title)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return buffer.getvalue()


WORDS = ["", "a", "auc=0.93", "by ana", "x" * 17, "2026-12-03 14:18", "(data deleted)", "1/2"]


def random_tables(count: int) -> list[tuple[str, list[str], list[list[str]], int]]:
    draw = random.Random(18)
    tables = []
    for _ in range(count):
        columns = draw.randint(1, 6)
        headers = [draw.choice(WORDS[1:]) for _ in range(columns)]
        rows = [[draw.choice(WORDS) for _ in range(columns)] for _ in range(draw.randint(0, 4))]
        title = draw.choice(["", "m: 3 version(s), by -version", "t", "ab", "x" * 40])
        tables.append((title, headers, rows, draw.choice([20, 40, 80, 120])))
    return tables


@pytest.mark.parametrize(("title", "headers", "rows", "width"), random_tables(300))
def test_a_table_it_takes_is_rich_s_text(
    title: str, headers: list[str], rows: list[list[str]], width: int
) -> None:
    plain = plain_table.render(title, headers, rows, width)
    if plain is not None:
        assert plain == rich_text(title, headers, rows, width)


def test_most_tables_are_taken_and_the_widest_that_fits_too() -> None:
    taken = [t for t in random_tables(300) if plain_table.render(*t) is not None]
    assert len(taken) > 100  # the comparison above is not vacuous
    # exactly the console's width: 3 columns of 34 + 10 border and padding columns = 112
    rows = [["a" * 34, "b" * 34, "c" * 34]]
    assert plain_table.render("t", ["x", "y", "z"], rows, 112) == rich_text(
        "t", ["x", "y", "z"], rows, 112
    )
    assert plain_table.render("t", ["x", "y", "z"], rows, 111) is None  # rich wraps it


@pytest.mark.parametrize(
    ("title", "cell"),
    [
        ("t", "jürgen"),  # not ASCII: rich measures cells, some are two columns wide
        ("t", "漢字"),
        ("t", " ana"),  # rich trims a space at either end of a cell
        ("t", "ana "),
        ("t", "x" * 200),  # wider than the console: rich wraps it
        ("a title far longer than the table it names", "x"),  # rich wraps the title
        ("t", "tab\there"),
    ],
)
def test_what_rich_would_lay_out_otherwise_is_left_to_rich(title: str, cell: str) -> None:
    assert plain_table.render(title, ["h"], [[cell]], 120) is None


class Stream(io.StringIO):
    def __init__(self, tty: bool, encoding: str) -> None:
        super().__init__()
        self._tty, self._encoding = tty, encoding

    def isatty(self) -> bool:
        return self._tty

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


ENVIRONMENTS = [
    {},
    {"FORCE_COLOR": "1"},
    {"FORCE_COLOR": ""},
    {"FORCE_COLOR": "0"},
    {"TTY_COMPATIBLE": "0"},
    {"TTY_COMPATIBLE": "1"},
    {"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"},
    {"TTY_COMPATIBLE": "x", "FORCE_COLOR": "1"},
    {"NO_COLOR": "1"},
    {"TERM": "dumb"},
]


@pytest.mark.parametrize(
    ("environ", "tty", "encoding"),
    list(itertools.product(ENVIRONMENTS, [False, True], ["utf-8", "UTF-8", "ascii"])),
)
def test_plain_only_where_rich_draws_plain_utf8(
    environ: dict[str, str], tty: bool, encoding: str
) -> None:
    stream = Stream(tty, encoding)
    console = Console(file=stream, _environ=environ)
    styled = plain_table._rich_would_style(stream, environ)
    if not styled:
        assert not console.is_terminal and console.color_system is None
        assert console.encoding.startswith("utf")
    elif console.encoding.startswith("utf"):
        assert console.is_terminal  # no needless detour through rich


@pytest.fixture
def registry_dir(tmp_path: Path) -> Path:
    """Model m: versions by several actors, one with a signature, one trained on a dataset
    since deleted (the "(data deleted)" mark), one promoted; model u registered by jürgen."""
    url = f"sqlite:///{tmp_path / '.registry' / 'registry.db'}"
    (tmp_path / ".registry").mkdir()
    with ModelRegistry.open(url, str(tmp_path / ".registry" / "artifacts")) as reg:
        frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
        data = reg.snapshot_dataset("train", frame)
        for i in range(6):
            metrics = {"auc": 0.5 + i / 10, "loss": 1 / (i + 1)} if i != 2 else {}
            if i == 3:
                with reg.start_run("fit", inputs=[data]) as run:
                    reg.register_model("m", i, run=run, metrics=metrics, signature=frame)
            else:
                reg.register_model("m", i, metrics=metrics, actor=f"ana {i}")
        reg.promote("m/5", reason="best")
        reg.delete_dataset(data, reason="retention test", force=True)
        reg.register_model("u", 1, actor="jürgen")
        assert reg.versions("m", stage=Stage.EXPERIMENT)[-1].version == 1
    return tmp_path


def rich_versions(registry_dir: Path, name: str, args: list[str], title: str) -> str:
    url = f"sqlite:///{registry_dir / '.registry' / 'registry.db'}"
    with ModelRegistry.open(url, str(registry_dir / ".registry" / "artifacts")) as reg:
        order_by = args[args.index("--order-by") + 1] if "--order-by" in args else "-version"
        found = reg.versions(name, order_by=order_by)
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=console_width(), highlight=False, soft_wrap=False, markup=False
    )
    console.print(versions_table(found, title))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "args", "title"),
    [
        ("m", [], "m: 6 version(s), by -version"),
        ("m", ["--order-by", "-metrics.auc"], "m: 6 version(s), by -metrics.auc"),
        ("u", [], "u: 1 version(s), by -version"),  # not ASCII: rich renders it
    ],
)
def test_versions_prints_what_rich_prints(
    registry_dir: Path, monkeypatch: pytest.MonkeyPatch, name: str, args: list[str], title: str
) -> None:
    monkeypatch.chdir(registry_dir)
    for variable in ("FORCE_COLOR", "TTY_COMPATIBLE", "REGISTRY_DATABASE_URL"):
        monkeypatch.delenv(variable, raising=False)
    result = CliRunner().invoke(cli, ["versions", name, *args])
    assert result.exit_code == 0, result.output
    assert result.output == rich_versions(registry_dir, name, args, title)
    assert "(data deleted)" in result.output or name == "u"


def test_versions_on_a_terminal_goes_through_rich(
    registry_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(registry_dir)
    result = CliRunner().invoke(cli, ["versions", "m"], env={"FORCE_COLOR": "1"})
    assert result.exit_code == 0, result.output
    # rich's styles: the title in italics, the header in bold
    assert result.output.startswith("\x1b[3m") and "\x1b[1mversion\x1b[0m" in result.output
