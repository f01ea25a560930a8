"""The parameters of a sweep: `--vary PATH=VALUES`, their grid or random sample, and how a value
is written into a system file's data before it is parsed.

PATH names a key of the system file, dotted (see docs/timing.md, "irqio sweep"):

- `system.cpi`, or just `cpi` (a key of `[system]` needs no prefix), `system.flash_clkdiv`;
- into arrays of tables by element name, index, glob or family: `lines.can.priority`,
  `lines[0].priority`, `background.sections.atomic_gc.instructions`; the array's own key may be
  left out (`background.atomic_gc.instructions`, `lines.timer.mp_sched_schedule.instructions`);
  a glob (`background.atomic_*.instructions`) or a family name (`background.atomic.instructions`
  = every element named `atomic_...`) sets the same value in every element it selects;
- two names that are not keys of the file: `policy` (which policy to simulate) and `variant`
  (a `[variants.NAME]` of the file, or `none`).

VALUES is `LOW..HIGH:STEP` (inclusive; integers when all three are), `LOW..HIGH` (random samples
only: uniform, integers when both ends are), a list `a,b,c`, or `*` (every policy the chip has;
every variant of the file and none; both placements; every chip).
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from irqio.timing.profile import profile_names
from irqio.timing.system import PLACEMENTS, POLICIES

Value = int | float | str

SPECIAL = ("policy", "variant")  # parameters that are not keys of the file
MAX_VARIANTS = 1_000_000  # a grid larger than this is refused before anything runs


class SweepSpecError(ValueError):
    """A `--vary` that cannot be read or applied. `str()` is the message a user sees."""


@dataclass(frozen=True)
class Param:
    path: str
    values: tuple[Value, ...] = ()  # the grid values; empty for a continuous range
    low: float = 0.0  # a continuous range (random samples only)
    high: float = 0.0
    integer: bool = False

    @property
    def continuous(self) -> bool:
        return not self.values

    @property
    def last_key(self) -> str:
        return split_path(self.path)[-1]


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def _grid(low: float, high: float, step: float, integer: bool) -> tuple[Value, ...]:
    if step <= 0:
        raise SweepSpecError(f"step must be > 0 (got {step:g})")
    if high < low:
        raise SweepSpecError(f"empty range {low:g}..{high:g}: the low end is above the high end")
    count = int((high - low) / step + 1e-9) + 1
    if count > MAX_VARIANTS:
        raise SweepSpecError(
            f"{count} values in {low:g}..{high:g}:{step:g}; at most {MAX_VARIANTS}"
        )
    if integer:
        return tuple(int(low) + k * int(step) for k in range(count))
    # low + k*step, rounded past the step's decimals: 0.1 steps give 0.3, not 0.30000000000000004
    decimals = max(0, -int(f"{step:e}".split("e")[1])) + 6
    return tuple(round(low + k * step, decimals) for k in range(count))


def parse_vary(
    spec: str, *, file_variants: tuple[str, ...] = (), policies: tuple[str, ...] = POLICIES
) -> Param:
    """One `--vary PATH=VALUES` (see the module docstring). `policy=*` means `policies`: the
    ones the file's chip has (no `basepri` on a Cortex-M0+)."""
    path, sep, text = spec.partition("=")
    path, text = path.strip(), text.strip()
    if not sep or not path or not text:
        raise SweepSpecError(
            f"--vary {spec!r}: expected PATH=VALUES, e.g. 'lines.can.priority=1..3:1' or 'policy=*'"
        )
    split_path(path)  # checks the syntax
    where = f"--vary {spec!r}"
    key = split_path(path)[-1]
    if text == "*":
        domain = _star(path, key, file_variants, policies)
        if domain is None:
            raise SweepSpecError(
                f"{where}: `*` needs a parameter with a known set of values "
                "(policy, variant, placement, chip); give a list a,b,c or a range LOW..HIGH:STEP"
            )
        return Param(path, tuple(domain))
    if ".." in text:
        ends, _, step_text = text.partition(":")
        lo_text, _, hi_text = ends.partition("..")
        lo, hi = _number(lo_text), _number(hi_text)
        if lo is None or hi is None:
            raise SweepSpecError(f"{where}: a range is LOW..HIGH[:STEP] with numbers")
        if not step_text:
            if hi < lo:
                raise SweepSpecError(f"{where}: empty range: the low end is above the high end")
            both_int = isinstance(lo, int) and isinstance(hi, int)
            return Param(path, (), float(lo), float(hi), integer=both_int)
        step = _number(step_text)
        if step is None:
            raise SweepSpecError(f"{where}: the step after ':' must be a number")
        integer = all(isinstance(v, int) for v in (lo, hi, step))
        try:
            return Param(path, _grid(lo, hi, step, integer))
        except SweepSpecError as exc:
            raise SweepSpecError(f"{where}: {exc}") from None
    values: list[Value] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise SweepSpecError(f"{where}: an empty value in the list")
        number = _number(item)
        values.append(item if number is None else number)
    return Param(path, tuple(dict.fromkeys(values)))


def _star(
    path: str, key: str, file_variants: tuple[str, ...], policies: tuple[str, ...]
) -> tuple[Value, ...] | None:
    if path == "policy":
        return policies
    if path == "variant":
        return ("none", *file_variants)
    if key == "placement":
        return PLACEMENTS
    if key == "chip":
        return tuple(profile_names())
    return None


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def split_path(path: str) -> list[str]:
    """`lines[0].handler.instructions` -> ['lines', '0', 'handler', 'instructions']."""
    out: list[str] = []
    pos = 0
    for part in path.split("."):
        if not part:
            raise SweepSpecError(f"--vary path {path!r}: an empty name between dots")
        pos = 0
        for m in _SEGMENT.finditer(part):
            if m.start() != pos:
                break
            out.append(m.group(1) or m.group(2))
            pos = m.end()
        if pos != len(part):
            raise SweepSpecError(f"--vary path {path!r}: cannot read {part!r}")
    return out


# -- the variants -------------------------------------------------------------------------------
def variant_count(params: list[Param]) -> int:
    count = 1
    for p in params:
        count *= len(p.values)
    return count


def grid(params: list[Param]) -> Iterator[dict[str, Value]]:
    """Every combination, the first parameter varying slowest."""
    for p in params:
        if p.continuous:
            raise SweepSpecError(
                f"--vary {p.path}: a range without a step needs --sample N "
                "(a grid needs LOW..HIGH:STEP)"
            )
    count = variant_count(params)
    if count > MAX_VARIANTS:
        raise SweepSpecError(f"the grid has {count} variants; at most {MAX_VARIANTS} (or --sample)")
    for combo in itertools.product(*(p.values for p in params)):
        yield {p.path: v for p, v in zip(params, combo, strict=True)}


def sample(params: list[Param], n: int, seed: int) -> list[dict[str, Value]]:
    """`n` random points: grid values uniformly, continuous ranges uniformly (seeded)."""
    rng = random.Random(f"{seed}:sweep-sample")
    out = []
    for _ in range(n):
        point: dict[str, Value] = {}
        for p in params:
            if p.values:
                point[p.path] = rng.choice(p.values)
            elif p.integer:
                point[p.path] = rng.randint(int(p.low), int(p.high))
            else:
                point[p.path] = rng.uniform(p.low, p.high)
        out.append(point)
    return out


# -- writing a value into the file's data -------------------------------------------------------
def apply(data: dict[str, Any], path: str, value: Value) -> None:
    """Set `value` at `path` in the parsed TOML `data` (in place). `policy` and `variant` are
    not keys of the file and are handled by the caller."""
    segments = split_path(path)
    if len(segments) == 1 and segments[0] not in data:
        system = data.get("system")
        if isinstance(system, dict):  # `cpi` = `system.cpi`
            segments = ["system", *segments]
    *route, key = segments
    tables = _select([data], route, path)
    for table in tables:
        if not isinstance(table, dict):
            raise SweepSpecError(f"--vary {path}: {key!r} is not inside a table")
        table[key] = value


def _select(nodes: list[Any], route: list[str], path: str) -> list[Any]:
    for depth, seg in enumerate(route):
        here = ".".join(route[: depth + 1])
        nxt: list[Any] = []
        for node in nodes:
            if isinstance(node, list):
                nxt += _pick(node, seg, path, here)
            elif isinstance(node, dict):
                if seg in node:
                    nxt.append(node[seg])
                else:
                    arrays = [v for v in node.values() if _is_named_array(v)]
                    found = [x for arr in arrays for x in _pick(arr, seg, path, here, quiet=True)]
                    if not found:
                        keys = ", ".join(sorted(node)) or "(none)"
                        names = ", ".join(str(x.get("name")) for arr in arrays for x in arr)
                        raise SweepSpecError(
                            f"--vary {path}: no {seg!r} at {here}; keys there: {keys}"
                            + (f"; named elements: {names}" if names else "")
                        )
                    nxt += found
            else:
                raise SweepSpecError(f"--vary {path}: {here} is not a table")
        nodes = nxt
    return nodes


def _is_named_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(x, dict) for x in value)


def _pick(array: list[Any], seg: str, path: str, here: str, *, quiet: bool = False) -> list[Any]:
    """Elements of an array of tables: by index, exact name, glob, or family (`seg_...`)."""
    if seg.isdigit():
        if int(seg) < len(array):
            return [array[int(seg)]]
        if quiet:
            return []
        raise SweepSpecError(f"--vary {path}: {here}: index {seg} of {len(array)} elements")
    names = [str(x.get("name")) if isinstance(x, dict) else "" for x in array]
    for match in (
        lambda n: n == seg,
        lambda n: fnmatch.fnmatchcase(n, seg),
        lambda n: n.startswith(seg + "_"),
    ):
        hit = [x for x, n in zip(array, names, strict=True) if match(n)]
        if hit:
            return hit
    if quiet:
        return []
    raise SweepSpecError(
        f"--vary {path}: {here}: no element named {seg!r}; names: {', '.join(names)}"
    )
