"""Metrics as a rich table on the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_metrics(columns: dict[str, dict[str, float]], title: str = "metrics") -> None:
    """One row per metric, one column per system or split."""
    names: list[str] = []
    for values in columns.values():
        names.extend(n for n in values if n not in names and isinstance(values[n], (int, float)))
    table = Table(title=title)
    table.add_column("metric")
    for col in columns:
        table.add_column(col, justify="right")
    for n in names:
        table.add_row(n, *(f"{columns[c][n]:.4f}" if n in columns[c] else "-" for c in columns))
    Console().print(table)
