"""Tables of figures: printed as text, written into bench/README.md as markdown."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    targets: list[tuple[str, bool, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, *cells: object) -> None:
        self.rows.append([str(cell) for cell in cells])

    def target(self, name: str, met: bool, figure: str) -> None:
        self.targets.append((name, met, figure))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def text(self) -> str:
        widths = [
            max(len(str(c)) for c in column)
            for column in zip(self.columns, *self.rows, strict=False)
        ]
        lines = [
            self.title,
            "  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=False)),
        ]
        lines += [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) for row in self.rows
        ]
        lines += [
            f"target: {name} — {figure} — {'met' if met else 'NOT MET'}"
            for name, met, figure in self.targets
        ]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [
            f"### {self.title}",
            "",
            "| " + " | ".join(self.columns) + " |",
            "|" + "---|" * len(self.columns),
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.targets:
            lines += ["", "| target | measured | |", "|---|---|---|"]
            lines += [
                f"| {name} | {figure} | {'✅ met' if met else '❌ not met'} |"
                for name, met, figure in self.targets
            ]
        lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines).rstrip() + "\n"
