"""Hostile or broken site files: a clear refusal naming file, line and field; bounded work.

The cases named in issue 10 (section 4) each have a test; a seeded mutator over the
examples checks that any mutant either loads (with plausible numbers only) or is refused
with a :class:`SiteConfigError` naming the file, and that no mutant makes the reader
expand more values than its bound.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from tests.site.test_numbers import implausible_numbers

from heatreuse.cli.main import run
from heatreuse.errors import SiteConfigError
from heatreuse.site import Site, load_site, load_site_text
from heatreuse.site import loader as site_loader

EXAMPLES = sorted(Path(__file__).resolve().parents[2].joinpath("examples").glob("*.yaml"))
POOL = Path(__file__).resolve().parents[2] / "examples" / "pool.yaml"


def _pool() -> str:
    return POOL.read_text()


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _problems(text: str) -> list[str]:
    with pytest.raises(SiteConfigError) as info:
        load_site_text(text, "site.yaml")
    return info.value.problems


def _alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": 9 levels of 9 aliases, 9**9 (387 million) strings when expanded."""
    out = 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels):
        out += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n"
    return out


@pytest.fixture
def constructed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the values the reader constructs (its work once the text is composed)."""
    calls = [0]
    original = site_loader._construct

    def counting(*args: Any) -> Any:
        calls[0] += 1
        return original(*args)

    monkeypatch.setattr(site_loader, "_construct", counting)
    return calls


# ------------------------------------------------------------------ the cases of issue 10
@pytest.mark.parametrize(
    ("old", "new", "field", "expected"),
    [
        (
            "volume_m3: 10",
            'volume_m3: !!int "abc"',
            "plant.buffer_tank.volume_m3",
            "expected an integer (tag !!int); got 'abc'",
        ),
        (
            "indoor: true",
            "indoor: !!bool maybe",
            "customer.indoor",
            "expected true or false (tag !!bool); got 'maybe'",
        ),
        (
            "commissioning_date: 2025-09-01",
            "commissioning_date: !!timestamp 'notadate'",
            "site.commissioning_date",
            "expected a date or date-time",
        ),
        (
            "commissioning_date: 2025-09-01",
            "commissioning_date: 2025-02-30",
            "site.commissioning_date",
            "got '2025-02-30'",
        ),
        ("volume_m3: 10", "volume_m3: !!float ten", "plant.buffer_tank.volume_m3", "a number"),
        ("volume_m3: 10", "volume_m3: !!null 10", "plant.buffer_tank.volume_m3", "null"),
        (
            "volume_m3: 10",
            "volume_m3: !foo 10",
            "plant.buffer_tank.volume_m3",
            "unsupported tag !foo",
        ),
        (
            "name: Potsdam, Germany",
            "name: !!python/object/apply:os.system ['true']",
            "location.name",
            "unsupported tag !!python/object/apply:os.system",
        ),
        (
            "name: Potsdam, Germany",
            "name: !!binary aGVsbG8=",
            "location.name",
            "unsupported tag !!binary",
        ),
        (
            "volume_m3: 10",
            "volume_m3: " + "9" * 5000,
            "plant.buffer_tank.volume_m3",
            "expected a number of at most 64 characters; got a number of 5,000 characters",
        ),
        (
            "name: Potsdam, Germany",
            "name: '" + "x" * 20_000 + "'",
            "location.name",
            "expected a value of at most 10,000 characters; got 20,000 characters",
        ),
        (
            "nameplate_power_w: 30000",
            "nameplate_power_w: .inf",
            "compute.racks[0].nameplate_power_w",
            "expected a finite number in W; got inf",
        ),
    ],
    ids=lambda v: v if len(v) < 40 else v[:37] + "...",
)
def test_bad_tag_or_value_names_line_and_field(
    old: str, new: str, field: str, expected: str
) -> None:
    text = _pool().replace(old, new, 1)
    problems = _problems(text)
    line = _line_of(text, new[:30])
    assert any(p.startswith(f"site.yaml:{line}: {field}") and expected in p for p in problems), (
        problems
    )


def test_merge_key_is_refused_with_a_hint() -> None:
    text = (
        _pool()
        .replace("  buffer_tank:\n", "  buffer_tank: &d\n", 1)
        .replace("  pipe:\n", "  pipe:\n    <<: *d\n", 1)
    )
    (problem,) = _problems(text)
    assert problem.startswith(f"site.yaml:{_line_of(text, '<<: *d')}: plant.pipe.<<: merge keys")
    assert "write the fields out" in problem


def test_anchors_and_aliases_for_whole_values_work() -> None:
    text = (
        _pool()
        .replace("  supply_band:\n", "  supply_band: &band\n", 1)
        .replace("  sla:\n", "  sla:\n    supply_band: *band\n", 1)
    )
    site = load_site_text(text, "site.yaml")
    assert site.contract.sla.supply_band == site.customer.supply_band


def test_deep_nesting_is_refused_with_its_line() -> None:
    text = _pool().replace("volume_m3: 10", "volume_m3: " + "[" * 600 + "]" * 600, 1)
    (problem,) = _problems(text)
    assert problem.startswith(f"site.yaml:{_line_of(text, 'volume_m3')}:")
    assert "plant.buffer_tank.volume_m3[0][0]" in problem
    assert f"nested deeper than {site_loader.MAX_NESTING_DEPTH} levels" in problem


def test_alias_bomb_is_refused_before_anything_is_expanded(constructed: list[int]) -> None:
    text = _pool() + _alias_bomb()
    (problem,) = _problems(text)
    assert "aliases expand this value to more than 20,000 values" in problem
    assert problem.startswith(f"site.yaml:{_line_of(text, 'l4: &l4')}: l4:")  # 9**5 > 20,000
    assert constructed[0] == 0


def test_aliases_nesting_too_deep_and_cycles_are_refused(constructed: list[int]) -> None:
    chain = "a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 60))
    (problem,) = _problems(_pool() + chain)
    assert "aliases nest this value deeper than" in problem
    (problem,) = _problems(_pool() + "loop: &r {again: *r}\n")
    assert "loop.again: an alias refers to a value that contains it" in problem
    assert constructed[0] == 0


def test_too_many_values_refused_while_reading() -> None:
    text = _pool() + "many: [" + ", ".join(["1"] * (site_loader.MAX_EXPANDED_VALUES + 10)) + "]\n"
    (problem,) = _problems(text)
    assert "many[" in problem and "the file holds more than 20,000 values" in problem


def test_anchor_defined_twice_and_second_document() -> None:
    (problem,) = _problems(_pool() + "x: &a 1\ny: &a 2\n")
    assert "anchor &a defined again" in problem
    (problem,) = _problems(_pool() + "---\nsite: {}\n")
    assert "a second YAML document" in problem


def test_control_character_gives_its_line() -> None:
    text = _pool().replace("name: Potsdam", "name: Pots\x00dam", 1)
    (problem,) = _problems(text)
    line = _line_of(text, "Pots\x00")
    assert problem.startswith(f"site.yaml:{line}: malformed YAML: unacceptable character")


def test_oversized_file_and_device_are_refused_after_a_bounded_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(_pool() + "# " + "x" * site_loader.MAX_SITE_FILE_BYTES + "\n")
    with pytest.raises(SiteConfigError, match="expected a site file of at most 262,144 bytes"):
        load_site(big)
    with pytest.raises(SiteConfigError, match="at most 262,144 bytes"):
        load_site("/dev/zero")  # reads 256 KiB, not forever


def test_problems_are_capped() -> None:
    text = _pool() + "".join(f"k{i}: !!int x{i}\n" for i in range(300))
    problems = _problems(text)
    assert len(problems) == site_loader.MAX_PROBLEMS + 1
    assert problems[-1] == "... and 200 more problems"


# ------------------------------------------------------------------ the CLI
@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("volume_m3: 10", 'volume_m3: !!int "abc"', "plant.buffer_tank.volume_m3"),
        ("nameplate_power_w: 30000", "nameplate_power_w: .inf", "nameplate_power_w"),
        ("  max_temp_c: 55", "  max_temp_c: -1e20", "plant.buffer_tank.max_temp_c"),
        ("volume_m3: 10", "volume_m3: " + "[" * 600, "plant.buffer_tank.volume_m3"),
        ("volume_m3: 10", "volume_m3: " + "9" * 5000, "plant.buffer_tank.volume_m3"),
    ],
    ids=["tag", "inf", "temperature", "nesting", "digits"],
)
def test_validate_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, field: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(_pool().replace(old, new, 1))
    assert run(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert str(bad.name) in err and field in err and "Traceback" not in err


def test_validate_exits_2_for_the_alias_bomb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bomb.yaml"
    bad.write_text(_pool() + _alias_bomb())
    assert run(["validate", str(bad)]) == 2
    assert "alias bomb" in capsys.readouterr().err


# ------------------------------------------------------------------ seeded mutants
_HOSTILE = [
    ".nan", ".inf", "-.inf", "1e400", "-1e20", "1e20", "true", "no", "null", "~", "''", "[]",
    "{}", "[1, 2]", "{a: 1}", '!!int "abc"', "!!bool maybe", "!!timestamp 'notadate'",
    "!!float x", "!!null x", "!foo 1", "!!python/object:os.system 1", "!!binary aGVsbG8=",
    "!!set {a, b}", "9" * 5000, "0x1F", "017", "1:30", "-0", "2026-02-30", "*undefined",
    "&a 1", "[" * 600, '"\\ud800"', "-1", "0", "5e-324", "!!str 10", "{<<: {a: 1}}", "'nan'",
    "'1e400'", "x" * 11_000,
]  # fmt: skip
_CHARS = [*"[]{}:,&*!|>'\"%@`#-?\t\x00\\", "\u00a0", "\ufeff"]
_POINTS = """points:
  equipment:
    - {id: hall, brick_class: Hot_Water_System, name: Pool hall}
  modbus_devices:
    - {id: heat-meter, kind: heat_meter, host: 10.0.0.5, port: 5020, word_order: little}
  entries:
    - id: hall.air_temp_c
      equipment: hall
      quantity: temperature
      unit: degC
      kind: measurement
      brick_class: Air_Temperature_Sensor
      min_value: -20
      max_value: 60
      sample_interval_s: 60
      source:
        modbus: {device: heat-meter, address: 20, type: float32, unit: degC, scale: 1.0}
"""


def _mutate(text: str, rnd: random.Random) -> str:
    """One random edit: a hostile value, a lost/duplicated/moved line, a stray character,
    a cut, an anchor with an alias elsewhere, or an alias bomb."""
    lines = text.split("\n")
    i = rnd.randrange(len(lines))
    keyed = [j for j, line in enumerate(lines) if ":" in line and not line.lstrip().startswith("#")]
    kind = rnd.randrange(11)
    if kind <= 3:
        j = rnd.choice(keyed)
        lines[j] = lines[j].split(":")[0] + ": " + rnd.choice(_HOSTILE)
    elif kind == 4:
        del lines[i]
    elif kind == 5:
        lines.insert(i, lines[i])
    elif kind == 6:
        lines[i] = " " * rnd.randrange(1, 4) + lines[i] if rnd.random() < 0.5 else lines[i][2:]
    elif kind == 7:
        p = rnd.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:p] + rnd.choice(_CHARS) + lines[i][p:]
    elif kind == 8:
        return text[: rnd.randrange(len(text))]
    elif kind == 9:
        j, k = sorted(rnd.sample(keyed, 2))  # the anchor before its alias
        lines[j] = lines[j].split(":")[0] + ": &a " + lines[j].split(":", 1)[1].strip()
        lines[k] = lines[k].split(":")[0] + ": *a"
    else:
        return text + "\n" + _alias_bomb(rnd.randrange(2, 10))
    return "\n".join(lines)


def _mutants(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    bases = [p.read_text() for p in EXAMPLES] + [_pool() + _POINTS]
    out = []
    for _ in range(n):
        text = rnd.choice(bases)
        for _ in range(rnd.choice((1, 1, 2, 3))):
            text = _mutate(text, rnd)
        out.append(text)
    return out


def test_mutants_load_or_are_refused_naming_the_file(constructed: list[int]) -> None:
    """150 seeded mutants of the examples: a site with plausible numbers, or a refusal whose
    every line names the file; the values constructed per mutant stay within the bound."""
    outcomes = {"loaded": 0, "refused": 0}
    for n, text in enumerate(_mutants(150, seed=10)):
        constructed[0] = 0
        try:
            site = load_site_text(text, "mutant.yaml")
        except SiteConfigError as exc:
            outcomes["refused"] += 1
            # expand_points (points section) names the site, not yet the file and line
            unnamed = [
                p for p in exc.problems if not p.startswith(("mutant.yaml", "site '", "..."))
            ]
            assert unnamed == [], (n, unnamed)
        else:
            outcomes["loaded"] += 1
            assert isinstance(site, Site)
            assert implausible_numbers(site) == [], n
        assert constructed[0] <= site_loader.MAX_EXPANDED_VALUES, n
    assert outcomes["loaded"] >= 5 and outcomes["refused"] >= 100


def test_mutants_through_the_cli_exit_0_or_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for n, text in enumerate(_mutants(6, seed=3)):
        path = tmp_path / f"m{n}.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        code = run(["validate", str(path)])
        err = capsys.readouterr().err
        assert code in (0, 2) and "Traceback" not in err, (n, code, err[-500:])


def test_lone_surrogate_in_text_is_refused_with_its_line() -> None:
    text = _pool() + "note: '\ud800'\n"
    (problem,) = _problems(text)
    assert problem.startswith(f"site.yaml:{_line_of(text, 'note:')}: not valid Unicode text")


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (_alias_bomb(), "aliases expand this value to more than"),
        ("deep: " + "[" * 600 + "\n", "deep[0][0][0]"),
        ("nul: \x00\n", "unacceptable character"),
        ("n: !!int x\n", "expected an integer (tag !!int)"),
    ],
    ids=["bomb", "nesting", "control", "tag"],
)
def test_pure_python_parser_refuses_the_same(
    monkeypatch: pytest.MonkeyPatch, tail: str, expected: str
) -> None:
    """Without libyaml (PyYAML built from source) the reader keeps its bounds."""
    import yaml

    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    (problem,) = _problems(_pool() + tail)
    assert problem.startswith("site.yaml:") and expected in problem
