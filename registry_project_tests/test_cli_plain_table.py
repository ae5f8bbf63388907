"""The versions table without rich (cli/plain_table.py) is rich's own text, byte for byte.

`render` is compared with rich rendering the same Table, on a console that draws no styles
and on colour terminals (standard, 256 colours, true colour), over tables of every shape it
takes; what it declines (a cell rich would wrap or measure otherwise) returns None.
`output_mode` and `sgr` are compared with rich's own Console and Style deciding the same.
End to end, `registry versions` prints what rich prints, to a pipe and to a terminal.
"""

from __future__ import annotations

import io
import itertools
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from registry_project import ModelRegistry, Stage
from registry_project.cli import cli, plain_table
from registry_project.cli.inspect import versions_table
from registry_project.cli.output import console_width, metrics_text, stage_text, text, when


def rich_cell(cell: plain_table.Cell) -> str | Text:
    if isinstance(cell, str):
        return cell
    base, spans = cell
    text = Text(style=base)
    for part, style in spans:
        text.append(part, style=style or None)
    return text


def rich_text(
    title: str,
    headers: list[str],
    rows: list[list[plain_table.Cell]],
    width: int,
    color_system: str | None = None,
) -> str:
    """What the CLI's console (output.console) prints for the table to a pipe, or to a
    terminal of `color_system`."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        highlight=False,
        soft_wrap=False,
        markup=False,
        emoji=False,
        force_terminal=color_system is not None,
        color_system=color_system,  # type: ignore[arg-type]
    )
    table = Table(*headers, title=title)
    for row in rows:
        table.add_row(*(rich_cell(cell) for cell in row))
    console.print(table)
    return buffer.getvalue()


STYLES = ["", "bold green", "yellow", "cyan", "dim", "red", "bold", "italic", "dim red"]
COLOR_SYSTEMS = [None, "standard", "256", "truecolor"]


WORDS = ["", "a", "auc=0.93", "by ana", "x" * 17, "2026-12-03 14:18", "(data deleted)", "1/2"]


def random_tables(count: int) -> list[tuple[str, list[str], list[list[plain_table.Cell]], int]]:
    draw = random.Random(18)

    def cell() -> plain_table.Cell:
        if draw.random() < 0.6:
            return draw.choice(WORDS)
        spans = tuple(
            (draw.choice(WORDS[1:]), draw.choice(STYLES)) for _ in range(draw.randint(1, 3))
        )
        return (draw.choice(STYLES), spans)

    tables = []
    for _ in range(count):
        columns = draw.randint(1, 6)
        headers = [draw.choice(WORDS[1:]) for _ in range(columns)]
        rows = [[cell() for _ in range(columns)] for _ in range(draw.randint(0, 4))]
        title = draw.choice(["", "m: 3 version(s), by -version", "t", "ab", "x" * 40])
        tables.append((title, headers, rows, draw.choice([20, 40, 80, 120])))
    return tables


@pytest.mark.parametrize("color_system", COLOR_SYSTEMS)
@pytest.mark.parametrize(("title", "headers", "rows", "width"), random_tables(200))
def test_a_table_it_takes_is_rich_s_text(
    title: str,
    headers: list[str],
    rows: list[list[plain_table.Cell]],
    width: int,
    color_system: str | None,
) -> None:
    ansi = color_system is not None
    plain = plain_table.render(title, headers, rows, width, ansi=ansi)
    if plain is not None:
        assert plain == rich_text(title, headers, rows, width, color_system)


def test_most_tables_are_taken_and_the_widest_that_fits_too() -> None:
    taken = [t for t in random_tables(200) if plain_table.render(*t, ansi=True) is not None]
    assert len(taken) > 60  # the comparison above is not vacuous
    assert sum(not isinstance(c, str) for t in taken for row in t[2] for c in row) > 60
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
    assert plain_table.render(title, ["h"], [[("bold", ((cell, "red"),))]], 120) is None


@pytest.mark.parametrize(("base", "style"), list(itertools.product(STYLES, STYLES)))
@pytest.mark.parametrize("color_system", ["standard", "256", "truecolor"])
def test_sgr_is_rich_s_codes(base: str, style: str, color_system: str) -> None:
    console = Console(file=io.StringIO(), force_terminal=True, color_system=color_system)  # type: ignore[arg-type]
    combined = Style.parse(base) + Style.parse(style)
    assert combined.render("x", color_system=console._color_system) == (
        f"\x1b[{plain_table.sgr(base, style)}mx\x1b[0m" if plain_table.sgr(base, style) else "x"
    )


def test_an_unknown_style_is_left_to_rich() -> None:
    assert plain_table.sgr("bold", "bright_red") is None
    cell = ("underline", (("x", ""),))
    assert plain_table.render("t", ["h"], [[cell]], 120, ansi=True) is None
    assert plain_table.render("t", ["h"], [[cell]], 120) is not None  # no styles: plain text


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
    {"NO_COLOR": ""},
    {"TERM": "dumb"},
    {"TERM": "unknown"},
    {"TERM": "xterm-256color"},
    {"TERM": "xterm-kitty", "COLORTERM": "truecolor"},
    {"TERM": "linux", "FORCE_COLOR": "1"},
]


@pytest.mark.parametrize(
    ("environ", "tty", "encoding"),
    list(itertools.product(ENVIRONMENTS, [False, True], ["utf-8", "UTF-8", "ascii"])),
)
def test_the_output_mode_is_rich_s(environ: dict[str, str], tty: bool, encoding: str) -> None:
    stream = Stream(tty, encoding)
    console = Console(file=stream, _environ=environ)
    mode = plain_table.output_mode(stream, environ)
    if mode is not None:
        assert console.encoding.startswith("utf")
    if mode == plain_table.PLAIN:
        assert not console.is_terminal and console.color_system is None
    elif mode == plain_table.ANSI:
        assert console.color_system in ("standard", "256", "truecolor")
        assert not console.no_color
    elif console.encoding.startswith("utf"):
        # left to rich only where rich draws otherwise: without colours on a terminal
        assert console.is_terminal and (console.no_color or console.color_system is None)


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


def rich_versions(
    registry_dir: Path, name: str, args: list[str], title: str, environ: dict[str, str]
) -> str:
    url = f"sqlite:///{registry_dir / '.registry' / 'registry.db'}"
    with ModelRegistry.open(url, str(registry_dir / ".registry" / "artifacts")) as reg:
        order_by = args[args.index("--order-by") + 1] if "--order-by" in args else "-version"
        found = reg.versions(name, order_by=order_by)

    def printed(table: Table) -> str:
        buffer = Stream(tty=False, encoding="utf-8")
        console = Console(
            file=buffer,
            width=console_width(),
            highlight=False,
            soft_wrap=False,
            markup=False,
            emoji=False,
            _environ=environ,
        )
        console.print(table)
        return buffer.getvalue()

    expected = printed(versions_table_as_built_before(found, title))
    # The command's own rich fallback (built from the same cells as the plain table).
    assert printed(versions_table(found, title)) == expected
    return expected


def versions_table_as_built_before(items: list[Any], title: str) -> Table:
    """The versions table as `registry versions` built it with rich before plain_table.py:
    the reference both of the command's ways of printing it are held to."""
    table = Table("version", "stage", "metrics", "created (UTC)", "by", title=title)
    for mv in items:
        stage = stage_text(mv.stage.value)
        if mv.trained_on_deleted_data:
            stage.append(" (data deleted)", style="red")
        table.add_row(
            str(mv.version),
            stage,
            metrics_text(mv.metrics),
            when(mv.created_at, seconds=False),
            text(mv.created_by),
        )
    return table


TERMINALS = [
    {},  # a pipe
    {"FORCE_COLOR": "1", "TERM": "xterm"},  # standard colours
    {"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLORTERM": "truecolor"},
    {"FORCE_COLOR": "1", "NO_COLOR": "1"},  # rich: styles without colours
    {"FORCE_COLOR": "1", "TERM": "dumb"},  # rich: no styles on a terminal
]


@pytest.mark.parametrize("environ", TERMINALS)
@pytest.mark.parametrize(
    ("name", "args", "title"),
    [
        ("m", [], "m: 6 version(s), by -version"),
        ("m", ["--order-by", "-metrics.auc"], "m: 6 version(s), by -metrics.auc"),
        ("u", [], "u: 1 version(s), by -version"),  # not ASCII: rich renders it
    ],
)
def test_versions_prints_what_rich_prints(
    registry_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    args: list[str],
    title: str,
    environ: dict[str, str],
) -> None:
    monkeypatch.chdir(registry_dir)
    for variable in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR", "TERM", "COLORTERM"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["versions", name, *args], env=environ)
    assert result.exit_code == 0, result.output
    assert result.output == rich_versions(registry_dir, name, args, title, environ)
    # (rich lays a dumb terminal out 80 columns wide, whatever the width: wrapped there)
    assert "(data deleted)" in result.output or name == "u" or environ.get("TERM") == "dumb"
    if name == "m" and environ.get("TERM", "").startswith("xterm"):
        assert "\x1b[1;32mproduction" in result.output  # coloured, not plain
