"""System files: a chip, its interrupt lines, background code, resources and policies to compare.

`load_system(path)` reads and validates a system TOML. Every mistake raises `SystemFileError`
naming the file, the key path and what is allowed. See docs/timing.md for every key.
"""

from __future__ import annotations

import copy
import itertools
import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from irqio.timing import limits
from irqio.timing.errors import SystemFileError
from irqio.timing.profile import ChipProfile, load_profile, profile_names

POLICIES = ("global", "ram", "basepri", "source-mask", "pin-mask")
PLACEMENTS = ("ram", "flash")
ARRIVALS = ("periodic", "sporadic", "trace")
BACKGROUND = "background"  # the user name of background code in a resource's user list


@dataclass(frozen=True)
class Arrival:
    """When a line fires, in cycles. `gap` is the period or the minimum gap (the analysis' T)."""

    kind: str
    gap: int
    jitter: int = 0
    offset: int = 0
    mean_gap: int = 0
    times: tuple[int, ...] = ()


@dataclass(frozen=True)
class Section:
    """A critical section: code that holds `resource` for `instructions` instructions."""

    name: str
    resource: str
    instructions: int
    placement: str
    data_loads: int = 0  # loads of const data from flash (they stay in flash under `ram`)
    rate_hz: float = 0.0  # background sections only: how often the VM enters it


@dataclass(frozen=True)
class Part:
    """A piece of straight code with its own placement: a function a handler calls (a RAM handler
    calling a flash function), or a step of an interpreter's interrupt path."""

    name: str
    instructions: int
    placement: str
    data_loads: int = 0  # const loads from flash


@dataclass(frozen=True)
class Handler:
    instructions: int
    placement: str
    footprint_bytes: int
    sections: tuple[Section, ...] = ()
    parts: tuple[Part, ...] = ()  # when given, the handler is these parts in order


@dataclass(frozen=True)
class Line:
    name: str
    priority: int  # irqio priority: higher = more urgent
    nvic: str  # the NVIC line (shared by all pins of a GPIO bank)
    pin: int | None
    arrival: Arrival
    handler: Handler
    order: int  # position in the file; ties between equal priorities go to the lower order
    # Code the background runs for this line once its handler has returned (a soft IRQ: the
    # interpreter runs the callback the handler scheduled), before its own code goes on.
    deferred: tuple[Part, ...] = ()


@dataclass(frozen=True)
class Background:
    name: str
    cpi: float
    misses_per_kinstr: float  # flash misses of the VM's own code (outside sections)
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class Resource:
    name: str
    users: tuple[str, ...]  # line names and/or "background"
    ceiling: int  # computed from the users, never hand-set


@dataclass(frozen=True)
class System:
    name: str
    path: str
    profile: ChipProfile
    cpi: float
    lines: tuple[Line, ...]
    background: Background
    resources: dict[str, Resource]
    policies: tuple[str, ...]
    seed: int
    seconds: float
    variant: str | None = None
    variants: dict[str, str] = field(default_factory=dict)  # name -> description

    def line(self, name: str) -> Line:
        for line in self.lines:
            if line.name == name:
                return line
        raise KeyError(name)

    def hw_level(self, line: Line) -> int:
        """The priority the hardware runs `line`'s handler at: its NVIC line's, which is the most
        urgent of the lines sharing it (a GPIO bank has one NVIC priority for all its pins)."""
        return max(other.priority for other in self.lines if other.nvic == line.nvic)

    def user_level(self, user: str) -> int:
        return 0 if user == BACKGROUND else self.hw_level(self.line(user))

    def hw_ceiling(self, resource: str) -> int:
        """The ceiling in hardware levels: what BASEPRI must mask to keep every user out."""
        return max(self.user_level(u) for u in self.resources[resource].users)

    def cycles(self, us: float) -> int:
        return round(us * self.profile.clock_hz / 1e6)


def system_names() -> list[str]:
    """The systems shipped with irqio (`timing/systems/*.toml`), usable by name."""
    folder = resources.files("irqio.timing") / "systems"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_system(path: str | Path, variant: str | None = None) -> System:
    """Load a system file, or a shipped system by name (`pico-can`) when no such file exists."""
    p = str(path)
    if not p:
        raise SystemFileError("''", "", "empty file name: give a system TOML file or a name")
    if not Path(path).exists() and p in system_names():
        text = (resources.files("irqio.timing") / "systems" / f"{p}.toml").read_text()
        p = f"systems/{p}.toml"
    else:
        text = read_text(Path(path))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SystemFileError(p, "", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise SystemFileError(p, "", "not valid TOML: arrays or tables nested too deeply") from None
    return parse_system(data, p, variant)


def read_text(path: Path, limit: int = limits.MAX_FILE_BYTES) -> str:
    """The UTF-8 text of `path`, read up to `limit` bytes (a device or a huge file costs
    nothing); every failure is a SystemFileError that says what the file is."""
    p = str(path)
    try:
        if path.is_dir():
            raise SystemFileError(p, "", "is a directory; give a system TOML file")
        with path.open("rb") as f:
            raw = f.read(limit + 1)
    except FileNotFoundError:
        raise SystemFileError(
            p, "", f"file not found (shipped systems, by name: {_fmt(system_names())})"
        ) from None
    except OSError as exc:
        raise SystemFileError(p, "", f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise SystemFileError(p, "", f"larger than {limit:,} bytes: not a system file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SystemFileError(
            p, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None


def parse_system(data: dict[str, Any], path: str, variant: str | None = None) -> System:
    return _Parser(path).system(data, variant)


def _fmt(allowed: Iterable[str]) -> str:
    return ", ".join(sorted(allowed))


class _Parser:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> SystemFileError:
        return SystemFileError(self.path, key, message)

    def keys(self, table: Any, key: str, required: set[str], optional: set[str]) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise self.fail(key, "must be a table")
        for k in table:
            if k not in required | optional:
                where = f"{key}.{k}" if key else k
                raise self.fail(where, f"unknown key; allowed: {_fmt(required | optional)}")
        for k in sorted(required):
            if k not in table:
                raise self.fail(f"{key}.{k}" if key else k, "missing required key")
        return table

    def number(
        self,
        value: Any,
        key: str,
        *,
        minimum: float = 0,
        maximum: float = math.inf,
        integer: bool = False,
        why: str = "",
    ) -> float:
        """A finite number in [minimum, maximum]; `why` says where the maximum comes from."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, "must be a number")
        if integer and not isinstance(value, int):
            raise self.fail(key, "must be an integer")
        if not math.isfinite(value):
            raise self.fail(key, f"got {value}; must be a finite number")
        if value < minimum:
            raise self.fail(key, f"must be >= {minimum:g} (got {value})")
        if value > maximum:
            reason = f": {why}" if why else ""
            most = f"{int(maximum):,}" if maximum == int(maximum) else f"{maximum:g}"
            raise self.fail(key, f"must be <= {most} (got {value:,}){reason}")
        return value

    def name(self, value: Any, key: str) -> str:
        """A name shown in tables, reports and file names: a short printable string."""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        if not value.isprintable():
            bad = next(ch for ch in value if not ch.isprintable())
            raise self.fail(key, f"contains the control character {bad!a}; names must be printable")
        if len(value) > 100:
            raise self.fail(key, f"is {len(value)} characters long; at most 100")
        return value

    def choice(self, value: Any, key: str, allowed: Iterable[str]) -> str:
        allowed = tuple(allowed)
        if value not in allowed:
            raise self.fail(key, f"got {value!r}; allowed: {', '.join(allowed)}")
        return str(value)

    # -- the file ----------------------------------------------------------------------------
    def system(self, data: dict[str, Any], variant: str | None) -> System:
        top = self.keys(data, "", {"system", "lines", "background"}, {"resources", "variants"})
        variants = top.get("variants", {})
        if not isinstance(variants, dict):
            raise self.fail("variants", "must be a table of tables")
        descriptions = {}
        for name, v in variants.items():
            self.name(name, f"variants.{name}")
            self.keys(v, f"variants.{name}", {"description", "lines"}, set())
            descriptions[name] = str(v["description"])
        lines_raw = self.array(top["lines"], "lines")
        if variant is not None:
            if variant not in variants:
                raise self.fail("variants", f"no variant {variant!r}; allowed: {_fmt(variants)}")
            more = self.array(variants[variant]["lines"], f"variants.{variant}.lines")
            lines_raw = [*lines_raw, *copy.deepcopy(more)]

        head = self.keys(
            top["system"],
            "system",
            {"name", "chip"},
            {"clock_hz", "flash_clkdiv", "cpi", "seed", "seconds", "policies", "description"},
        )
        chip = self.choice(head["chip"], "system.chip", profile_names())
        profile = load_profile(chip)
        if "clock_hz" in head:
            clock = self.number(
                head["clock_hz"],
                "system.clock_hz",
                minimum=limits.MIN_CLOCK_HZ,
                maximum=limits.MAX_CLOCK_HZ,
                integer=True,
                why="no microcontroller runs faster",
            )
            profile = profile.with_clock(int(clock))
        if "flash_clkdiv" in head:
            div = int(
                self.number(
                    head["flash_clkdiv"],
                    "system.flash_clkdiv",
                    minimum=1,
                    maximum=256,
                    integer=True,
                )
            )
            if profile.flash_sck_per_line is None:
                raise self.fail("system.flash_clkdiv", f"chip {chip} has no flash clock divider")
            profile = profile.with_flash_clkdiv(div)
        self.profile = profile
        cpi = self.cpi(head.get("cpi", 1.0), "system.cpi")
        policies = head.get("policies", list(POLICIES))
        if not isinstance(policies, list) or not policies:
            raise self.fail(
                "system.policies", f"must be a non-empty list of: {', '.join(POLICIES)}"
            )
        for i, pol in enumerate(policies):
            self.choice(pol, f"system.policies[{i}]", POLICIES)
            if pol == "basepri" and not profile.basepri:
                raise self.fail(
                    f"system.policies[{i}]",
                    f"chip {chip} has no BASEPRI; allowed here: "
                    + ", ".join(p for p in POLICIES if p != "basepri"),
                )

        if not isinstance(lines_raw, list) or not lines_raw:
            raise self.fail("lines", "must be a non-empty array of tables ([[lines]])")
        lines = tuple(self.line(raw, i) for i, raw in enumerate(lines_raw))
        names = [line.name for line in lines]
        for i, name in enumerate(names):
            if name in names[:i] or name == BACKGROUND:
                raise self.fail(f"lines[{i}].name", f"duplicate or reserved name {name!r}")

        background = self.background(top["background"])
        resources_raw = top.get("resources", {})
        if not isinstance(resources_raw, dict):
            raise self.fail("resources", "must be a table of tables")
        for rname, r in resources_raw.items():
            self.name(rname, f"resources.{rname}")
            self.keys(r, f"resources.{rname}", set(), {"description"})
        users: dict[str, list[str]] = {r: [] for r in resources_raw}
        places: list[tuple[str, str, tuple[Section, ...]]] = [
            (BACKGROUND, "background.sections", background.sections)
        ]
        places += [(ln.name, f"lines[{ln.order}].sections", ln.handler.sections) for ln in lines]
        for user, key, sections in places:
            for j, s in enumerate(sections):
                if s.resource not in users:
                    raise self.fail(
                        f"{key}[{j}].resource",
                        f"unknown resource {s.resource!r}; declared: {_fmt(users) or '(none)'}",
                    )
                if user not in users[s.resource]:
                    users[s.resource].append(user)
        prio = {ln.name: ln.priority for ln in lines}
        resources = {}
        for rname, us in users.items():
            if not us:
                raise self.fail(
                    f"resources.{rname}",
                    "resource nobody uses; reference it from a section's `resource` or remove it",
                )
            # The ceiling is the highest priority among the declared users (docs/architecture.md).
            ceiling = max(0 if u == BACKGROUND else prio[u] for u in us)
            resources[rname] = Resource(rname, tuple(us), ceiling)

        seconds = self.number(
            head.get("seconds", 1.0),
            "system.seconds",
            maximum=limits.MAX_SECONDS,
            why="the simulated time per policy",
        )
        if round(seconds * profile.clock_hz) < 1:
            raise self.fail(
                "system.seconds", f"got {seconds} s, less than one cycle at {profile.clock_hz:,} Hz"
            )
        return System(
            name=self.name(head["name"], "system.name"),
            path=self.path,
            profile=profile,
            cpi=cpi,
            lines=lines,
            background=background,
            resources=resources,
            policies=tuple(policies),
            seed=int(self.number(head.get("seed", 1), "system.seed", integer=True)),
            seconds=float(seconds),
            variant=variant,
            variants=descriptions,
        )

    def line(self, raw: Any, i: int) -> Line:
        key = f"lines[{i}]"
        t = self.keys(
            raw,
            key,
            {"name", "priority", "arrival", "handler"},
            {"pin", "nvic", "sections", "description", "deferred"},
        )
        levels = self.profile.priority_levels
        pr = t["priority"]
        if isinstance(pr, bool) or not isinstance(pr, int) or not 1 <= pr <= levels:
            raise self.fail(
                f"{key}.priority",
                f"got {pr!r}; chip {self.profile.name} has {levels} levels: allowed 1..{levels} "
                "(higher = more urgent)",
            )
        pin = t.get("pin")
        nvic = t.get("nvic")
        if pin is not None:
            pin = int(self.number(pin, f"{key}.pin", integer=True))
            bank = self.profile.pin_line(pin)
            if bank is None:
                raise self.fail(
                    f"{key}.pin", f"chip {self.profile.name} has pins 0..{self.profile.pins - 1}"
                )
            if nvic is not None and nvic != bank:
                raise self.fail(
                    f"{key}.nvic",
                    f"pin {pin} raises NVIC line {bank} on {self.profile.name}; allowed: {bank}",
                )
            nvic = bank
        if not isinstance(nvic, str) or not nvic:
            raise self.fail(key, "needs `pin` (a GPIO) or `nvic` (the NVIC line name)")
        handler = self.handler(t["handler"], f"{key}.handler")
        sections = tuple(
            self.section(s, f"{key}.sections[{j}]", background=False)
            for j, s in enumerate(self.array(t.get("sections", []), f"{key}.sections"))
        )
        handler = Handler(
            handler.instructions,
            handler.placement,
            handler.footprint_bytes,
            sections,
            handler.parts,
        )
        deferred = tuple(
            self.part(d, f"{key}.deferred[{j}]")
            for j, d in enumerate(self.array(t.get("deferred", []), f"{key}.deferred"))
        )
        return Line(
            name=self.name(t["name"], f"{key}.name"),
            priority=pr,
            nvic=nvic,
            pin=pin,
            arrival=self.arrival(t["arrival"], f"{key}.arrival"),
            handler=handler,
            order=i,
            deferred=deferred,
        )

    def array(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(key, "must be an array of tables")
        return value

    def time(
        self, t: dict[str, Any], key: str, name: str, required: bool, minimum: int = 0
    ) -> int | None:
        """A time given as `NAME_us` or `NAME_cycles`, in cycles: at least `minimum` cycles,
        at most limits.MAX_SECONDS; the message for a value below the minimum is the same in
        both units (a period of 0 µs and of 0.001 µs both round to 0 cycles at 125 MHz)."""
        us, cyc = t.get(f"{name}_us"), t.get(f"{name}_cycles")
        if us is not None and cyc is not None:
            raise self.fail(f"{key}.{name}_us", f"give {name}_us or {name}_cycles, not both")
        if us is None and cyc is None:
            if required:
                raise self.fail(f"{key}.{name}_us", "missing required key (or give it in _cycles)")
            return None
        clock = self.profile.clock_hz
        field = f"{key}.{name}_us" if us is not None else f"{key}.{name}_cycles"
        value = self.number(
            us if us is not None else cyc,
            field,
            minimum=-math.inf,
            maximum=limits.MAX_SECONDS * (1e6 if us is not None else clock),
            integer=us is None,
            why=f"{limits.MAX_SECONDS:g} s",
        )
        cycles = round(value * clock / 1e6) if us is not None else int(value)
        if cycles < minimum:
            got = f"{value:g} µs = {cycles} cycles" if us is not None else f"{cycles} cycles"
            at_least = "1 cycle" if minimum == 1 else f"{minimum} cycles"
            raise self.fail(
                field,
                f"got {got} at {clock / 1e6:g} MHz; must be at least {at_least} "
                f"({minimum * 1e6 / clock:g} µs)",
            )
        return cycles

    def arrival(self, raw: Any, key: str) -> Arrival:
        if not isinstance(raw, dict):
            raise self.fail(key, "must be a table")
        kind = self.choice(raw.get("kind"), f"{key}.kind", ARRIVALS)
        units = ("_us", "_cycles")
        if kind == "periodic":
            names = ["period", "jitter", "offset"]
            self.keys(raw, key, {"kind"}, {n + u for n in names for u in units})
            period = self.time(raw, key, "period", True, minimum=1) or 0
            jitter = self.time(raw, key, "jitter", False) or 0
            return Arrival(kind, period, jitter, self.time(raw, key, "offset", False) or 0)
        if kind == "sporadic":
            names = ["min_gap", "mean_gap", "jitter"]
            self.keys(raw, key, {"kind"}, {n + u for n in names for u in units})
            gap = self.time(raw, key, "min_gap", True, minimum=1) or 0
            mean = self.time(raw, key, "mean_gap", False) or 2 * gap
            if mean < gap:
                raise self.fail(f"{key}.mean_gap_us", "must be >= min_gap")
            return Arrival(kind, gap, self.time(raw, key, "jitter", False) or 0, mean_gap=mean)
        self.keys(raw, key, {"kind"}, {"times_us", "times_cycles"})
        if ("times_us" in raw) == ("times_cycles" in raw):
            raise self.fail(f"{key}.times_us", "give times_us or times_cycles (one of them)")
        field = "times_us" if "times_us" in raw else "times_cycles"
        scale = self.profile.clock_hz / 1e6 if field == "times_us" else 1.0
        values = raw[field]
        if not isinstance(values, list) or not values:
            raise self.fail(f"{key}.{field}", "must be a non-empty list of times")
        if len(values) > limits.MAX_TRACE_TIMES:
            raise self.fail(f"{key}.{field}", f"at most {limits.MAX_TRACE_TIMES:,} times")
        most = limits.MAX_SECONDS * self.profile.clock_hz / scale  # in the unit given
        times = sorted(
            round(self.number(v, f"{key}.{field}[{n}]", maximum=most, why="3600 s") * scale)
            for n, v in enumerate(values)
        )
        gaps = [b - a for a, b in itertools.pairwise(times)]
        if gaps and min(gaps) <= 0:
            raise self.fail(f"{key}.times_us", "times must be distinct")
        return Arrival(kind, min(gaps) if gaps else 1 << 62, times=tuple(times))

    def part(self, raw: Any, key: str) -> Part:
        t = self.keys(
            raw, key, {"name", "instructions", "placement"}, {"data_loads", "description"}
        )
        return Part(
            name=str(t["name"]),
            instructions=int(
                self.number(t["instructions"], f"{key}.instructions", minimum=1, integer=True)
            ),
            placement=self.choice(t["placement"], f"{key}.placement", PLACEMENTS),
            data_loads=int(self.number(t.get("data_loads", 0), f"{key}.data_loads", integer=True)),
        )

    def handler(self, raw: Any, key: str) -> Handler:
        if isinstance(raw, dict) and "parts" in raw:
            # A handler made of parts (RAM code calling a flash function, an interpreter's path).
            t = self.keys(raw, key, {"parts"}, set())
            parts = tuple(
                self.part(x, f"{key}.parts[{j}]")
                for j, x in enumerate(self.array(t["parts"], f"{key}.parts"))
            )
            if not parts:
                raise self.fail(f"{key}.parts", "must list at least one part")
            n = sum(x.instructions for x in parts)
            flash = any(x.placement == "flash" for x in parts)
            return Handler(
                n, "flash" if flash else "ram", n * self.profile.instruction_bytes, (), parts
            )
        t = self.keys(raw, key, {"instructions", "placement"}, {"footprint_bytes"})
        n = self.instructions(t["instructions"], f"{key}.instructions")
        placement = self.choice(t["placement"], f"{key}.placement", PLACEMENTS)
        default = n * self.profile.instruction_bytes  # straight-line code by default
        fp = int(
            self.number(
                t.get("footprint_bytes", default),
                f"{key}.footprint_bytes",
                minimum=1,
                maximum=limits.MAX_FOOTPRINT_BYTES,
                integer=True,
                why="a 32-bit address space",
            )
        )
        return Handler(n, placement, fp)

    def section(self, raw: Any, key: str, *, background: bool) -> Section:
        optional = {"data_loads", "description"} | ({"rate_hz"} if background else set())
        required = {"name", "resource", "instructions", "placement"}
        t = self.keys(raw, key, required | ({"rate_hz"} if background else set()), optional)
        rate = 0.0
        if background:
            clock = self.profile.clock_hz
            rate = self.number(t["rate_hz"], f"{key}.rate_hz", maximum=clock, why="the clock")
            if rate < limits.MIN_RATE_HZ:
                raise self.fail(
                    f"{key}.rate_hz",
                    f"must be >= {limits.MIN_RATE_HZ:g} (got {rate}): how often the VM enters it",
                )
        loads = self.number(
            t.get("data_loads", 0),
            f"{key}.data_loads",
            maximum=limits.MAX_DATA_LOADS,
            integer=True,
            why="each is a fetch the model walks",
        )
        return Section(
            name=self.name(t["name"], f"{key}.name"),
            resource=self.name(t["resource"], f"{key}.resource"),
            instructions=self.instructions(t["instructions"], f"{key}.instructions"),
            placement=self.choice(t["placement"], f"{key}.placement", PLACEMENTS),
            data_loads=int(loads),
            rate_hz=float(rate),
        )

    def instructions(self, value: Any, key: str) -> int:
        return int(
            self.number(
                value,
                key,
                minimum=1,
                maximum=limits.MAX_INSTRUCTIONS,
                integer=True,
                why="the model walks code line by line; give a loop a footprint_bytes instead",
            )
        )

    def cpi(self, value: Any, key: str) -> float:
        return float(self.number(value, key, minimum=1, maximum=limits.MAX_CPI))

    def background(self, raw: Any) -> Background:
        t = self.keys(
            raw, "background", {"name"}, {"cpi", "misses_per_kinstr", "sections", "description"}
        )
        sections = tuple(
            self.section(s, f"background.sections[{j}]", background=True)
            for j, s in enumerate(self.array(t.get("sections", []), "background.sections"))
        )
        return Background(
            name=self.name(t["name"], "background.name"),
            cpi=self.cpi(t.get("cpi", 1.0), "background.cpi"),
            misses_per_kinstr=float(
                self.number(
                    t.get("misses_per_kinstr", 0.0),
                    "background.misses_per_kinstr",
                    maximum=limits.MAX_MISSES_PER_KINSTR,
                    why="one miss per instruction",
                )
            ),
            sections=sections,
        )
