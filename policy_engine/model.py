"""The compiled policy: frozen data, built once by the loader and shared by every decision."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Mapping

from .expr import Condition
from .vocabulary import Vocabulary

STRENGTHS = ("mandatory", "generally", "discretionary")


@dataclass(frozen=True, slots=True)
class Citation:
    article: int
    occurrence: int | None
    paragraph: int | None
    item: int | None
    label: str  # 第五条第（五）项

    def to_json(self) -> dict:
        out = {"article": self.article}
        for key in ("occurrence", "paragraph", "item"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class Test:
    """A condition tree: a leaf holds a compiled condition; any/all combine children."""

    op: str  # "leaf" | "any" | "all"
    condition: Condition | None = None
    children: tuple["Test", ...] = ()

    def facts(self) -> frozenset[str]:
        if self.condition is not None:
            return self.condition.facts
        out: frozenset[str] = frozenset()
        for child in self.children:
            out |= child.facts()
        return out


@dataclass(frozen=True, slots=True)
class Exception_:
    test: Test
    effect: str  # "exempt" | "may_exempt"
    cite: Citation
    quote: str
    note: str | None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str | None
    cite: Citation
    quote: str
    strength: str
    test: Test  # require (criteria) or when (triggers, grounds)
    applies_when: Test | None
    unless: tuple[Exception_, ...]
    show: tuple[tuple[str, Condition], ...]
    note: str | None


@dataclass(frozen=True, slots=True)
class Term:
    cite: Citation
    quote: str
    ends: Condition
    note: str | None
    limits: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class InForce:
    start: _dt.date
    until: _dt.date | None  # inclusive
    cite: Citation
    quote: str
    note: str | None

    def covers(self, day: _dt.date) -> bool:
        return self.start <= day and (self.until is None or day <= self.until)

    def describe(self) -> str:
        return f"{self.start.isoformat()} to {self.until.isoformat() if self.until else '(open-ended)'}"


@dataclass(frozen=True, slots=True)
class Scope:
    id: str
    cite: Citation
    quote: str
    applies: str
    note: str | None


@dataclass(frozen=True, slots=True)
class Defect:
    cite: Citation
    quote: str | None
    defect: str
    encoded_as: str


@dataclass(frozen=True, slots=True)
class Provision:
    """A procedural provision the engine applies (contact in order, redraw ...), cited and quoted."""

    cite: Citation
    quote: str
    title: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class Mode:
    id: str
    title: str | None
    method: str  # random | designated | mixed | outside | institution
    cite: Citation
    quote: str
    filters: Provision | None  # the provision letting a request set conditions on experts
    note: str | None

    @property
    def draws(self) -> bool:
        """Panels of this mode are drawn by lot (policy-engine draw); the others are checked (check-panel)."""
        return self.method == "random"


@dataclass(frozen=True, slots=True)
class DrawRules:
    multiplier: int  # candidates per expert needed (1 where the text sets none)
    candidates: Provision | None
    contact: Provision | None
    replenish: Provision | None
    redraw: Provision | None
    backups: Provision | None
    shortfall: Provision | None
    note: str | None


@dataclass(frozen=True, slots=True)
class Selection:
    modes: tuple[Mode, ...]
    draw: DrawRules | None
    exclusions: tuple[Rule, ...]  # triggers over one expert (rotation, yearly caps), besides recusal grounds
    panel: tuple[Rule, ...]  # criteria over panel.* and matter.* facts
    note: str | None

    def mode(self, mode_id: str) -> Mode | None:
        return next((m for m in self.modes if m.id == mode_id), None)


@dataclass(frozen=True, slots=True)
class Policy:
    id: str
    version: str
    title: str
    issuer: str
    document_number: str | None
    in_force: InForce
    supersedes: tuple[Mapping, ...]
    scope: tuple[Scope, ...]
    defects: tuple[Defect, ...]
    vocabulary: Vocabulary
    criteria: tuple[Rule, ...]
    term: Term | None
    triggers: tuple[Rule, ...]
    grounds: tuple[Rule, ...]
    deadlines: tuple[Rule, ...]  # criteria whose conditions the loader generated from from/to/days/unit
    selection: Selection | None
    sha256: str  # of the policy file and the vocabularies it imports
    file: str
    source_file: str
    source_sha256: str
    quotes_verified: int  # every quote in the file, each found in its cited passage
    plans: dict = field(default_factory=dict, compare=False, repr=False)  # decision -> evaluate.Plan, built on first use

    def decisions(self) -> tuple[str, ...]:
        out = []
        if self.criteria:
            out.append("entry")
        if self.term is not None or self.triggers:
            out.append("exit")
        if self.grounds:
            out.append("recusal")
        if self.deadlines:
            out.append("deadline")
        return tuple(out)

    def selection_commands(self) -> tuple[str, ...]:
        """What the policy's selection section answers: draw (a random mode) and panel (check-panel)."""
        if self.selection is None:
            return ()
        return (("draw",) if any(m.draws for m in self.selection.modes) else ()) + ("panel",)
