"""Display objects: what every API call returns instead of printing.

A `Table` has columns and rows. It shows as plain text in a terminal (``repr``), as an HTML
table in Jupyter (``_repr_html_``), iterates over its rows, and converts to a pandas DataFrame
(``.df``). Subclasses override `__repr__` where a Kafka tool has its own text layout
(kafka-topics --describe, the console consumer), so the text matches what Kafka users know.

>>> t = Table(["topic", "partitions"], [("orders", 3)], title="1 topic")
>>> print(repr(t))
1 topic
topic   partitions
orders  3
>>> t.df.shape
(1, 2)
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from typing import Any


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(_cell(v) for v in value)
    return str(value)


def text_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell, two spaces apart, no trailing blanks.

    >>> print(text_table(["a", "bb"], [(1, 2), (333, None)]))
    a    bb
    1    2
    333
    """
    cells = [[_cell(c) for c in columns]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def html_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
) -> str:
    """A plain HTML table (escaped), with an optional caption line above it."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    caption = f"<p>{html.escape(title)}</p>" if title else ""
    return (
        f'{caption}<table class="kafkabook"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


class Table:
    """Rows under named columns, with notes (progress or warnings) shown above them.

    >>> Table(["id"], [(1,), (2,)]).rows
    [(1,), (2,)]
    """

    def __init__(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        title: str | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        self.columns = list(columns)
        self.rows = [tuple(r) for r in rows]
        self.title = title
        self.notes = list(notes)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> Any:
        return list(self)[index]

    def _header_lines(self) -> list[str]:
        return [*self.notes, *([self.title] if self.title else [])]

    def __repr__(self) -> str:
        return "\n".join([*self._header_lines(), text_table(self.columns, self.rows)])

    def _repr_html_(self) -> str:
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return notes + html_table(self.columns, self.rows, self.title)

    @property
    def df(self) -> Any:
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)


class Message:
    """The outcome of a command that changes something: one line or a few.

    >>> Message("Created topic orders.")
    Created topic orders.
    """

    def __init__(self, text: str, **details: Any) -> None:
        self.text = text
        self.details = details

    def __repr__(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Message):
            return self.text == other.text
        return self.text == other

    __hash__ = None  # type: ignore[assignment]

    def _repr_html_(self) -> str:
        return "<br>".join(f"<span>{html.escape(line)}</span>" for line in self.text.split("\n"))

    def __getattr__(self, name: str) -> Any:
        details = self.__dict__.get("details", {})
        if name in details:
            return details[name]
        raise AttributeError(name)
