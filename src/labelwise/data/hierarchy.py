"""Label hierarchies: ``parent<TAB>child`` edges under a virtual root ``ROOT``.

A node that never appears as a child is attached to ``ROOT``, so files without ``ROOT``
rows work too. Trees are the default; ``allow_dag=True`` accepts several parents per node
(EUROVOC in EURLEX57K is a DAG). In a DAG a node's depth is its longest path from ``ROOT``,
so every parent sits on a shallower level than its children.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from labelwise.data.errors import DataError
from labelwise.data.formats import iter_lines

ROOT = "ROOT"
_DAG_HINT = ("If the hierarchy is a DAG (such as EUROVOC), set data.hierarchy_dag: true "
             "(Hierarchy.from_tsv(..., allow_dag=True) in Python)")


class Hierarchy:
    """A validated tree (or DAG) of label names; ``ROOT`` itself is not a node.

    Args:
        edges: ``(parent, child)`` pairs; ``parent`` may be ``ROOT``.
        allow_dag: Accept nodes with several parents.
        source: File the edges came from (for error messages).
        lines: 1-based line number of each edge in ``source``.
    """

    def __init__(
        self,
        edges: Iterable[tuple[str, str]],
        *,
        allow_dag: bool = False,
        source: str | Path | None = None,
        lines: list[int] | None = None,
    ) -> None:
        self.allow_dag = allow_dag
        self._parents: dict[str, list[str]] = {}
        self._children: dict[str, list[str]] = {ROOT: []}
        self.edges: list[tuple[str, str]] = []
        for i, (parent, child) in enumerate(edges):
            line = lines[i] if lines else None
            if child == ROOT or parent == child:
                raise DataError(
                    f"invalid edge {parent!r} -> {child!r}: {ROOT} cannot be a child and a "
                    "node cannot be its own parent",
                    "Remove the row",
                    path=source,
                    line=line,
                )
            known = self._parents.setdefault(child, [])
            if parent in known:
                continue  # a repeated row changes nothing
            if known and not allow_dag:
                raise DataError(
                    f"node {child!r} has two parents, {known[0]!r} and {parent!r}, but a tree "
                    "allows one",
                    _DAG_HINT,
                    path=source,
                    line=line,
                )
            known.append(parent)
            self._children.setdefault(parent, []).append(child)
            self._children.setdefault(child, [])
            self._parents.setdefault(parent, [])
            self.edges.append((parent, child))
        self._parents.pop(ROOT, None)
        for node, parents in self._parents.items():
            if not parents:  # implicit top-level node
                parents.append(ROOT)
                self._children[ROOT].append(node)
        self._depth = self._compute_depths(source)

    @classmethod
    def from_tsv(cls, path: str | Path, *, allow_dag: bool = False) -> Hierarchy:
        """Read ``parent<TAB>child`` rows; blank lines and ``#`` comments are skipped."""
        edges, lines = [], []
        for lineno, line in iter_lines(path):
            if not line.strip() or line.startswith("#"):
                continue
            fields = [f.strip() for f in line.split("\t")]
            if len(fields) != 2 or not all(fields):
                raise DataError(
                    f"expected 'parent<TAB>child', got {line!r}",
                    "Write one edge per line: the parent, a tab, the child",
                    path=path,
                    line=lineno,
                )
            edges.append((fields[0], fields[1]))
            lines.append(lineno)
        if not edges:
            raise DataError(
                "the hierarchy file has no edges", "Add parent<TAB>child rows", path=path
            )
        return cls(edges, allow_dag=allow_dag, source=path, lines=lines)

    def _compute_depths(self, source: str | Path | None) -> dict[str, int]:
        """Longest-path depth from ROOT (Kahn's order); leftover nodes lie on a cycle."""
        pending = {n: len(ps) for n, ps in self._parents.items()}
        depth = {ROOT: 0}
        queue = [ROOT]
        while queue:
            node = queue.pop()
            for child in self._children[node]:
                depth[child] = max(depth.get(child, 0), depth[node] + 1)
                pending[child] -= 1
                if pending[child] == 0:
                    queue.append(child)
        stuck = sorted(n for n, k in pending.items() if k > 0)
        if stuck:
            cycle = self._find_cycle(stuck[0], set(stuck))
            raise DataError(
                f"the hierarchy has a cycle: {' -> '.join(cycle)}",
                "Remove one edge of the cycle so that every node leads up to ROOT",
                path=source,
            )
        del depth[ROOT]
        return depth

    def _find_cycle(self, start: str, stuck: set[str]) -> list[str]:
        """Walk up through unresolved parents (one always exists) until a node repeats."""
        path, seen, node = [start], {start: 0}, start
        while True:
            node = next(p for p in self._parents[node] if p in stuck)
            if node in seen:
                return list(reversed(path[seen[node] :] + [node]))  # parent -> child order
            seen[node] = len(path)
            path.append(node)

    # -- queries -------------------------------------------------------------------------
    @property
    def nodes(self) -> list[str]:
        """All nodes (without ROOT), ordered by depth then name."""
        return sorted(self._depth, key=lambda n: (self._depth[n], n))

    def __contains__(self, node: object) -> bool:
        return node in self._depth

    def __len__(self) -> int:
        return len(self._depth)

    def _check(self, node: str) -> None:
        if node not in self._depth and node != ROOT:
            raise KeyError(f"{node!r} is not a node of the hierarchy")

    def parents(self, node: str) -> tuple[str, ...]:
        """Direct parents, ROOT left out (top-level nodes have none)."""
        self._check(node)
        return tuple(p for p in self._parents.get(node, ()) if p != ROOT)

    def children(self, node: str = ROOT) -> tuple[str, ...]:
        """Direct children; ``children(ROOT)`` are the top-level nodes."""
        self._check(node)
        return tuple(self._children[node])

    def ancestors(self, node: str) -> tuple[str, ...]:
        """Every node above ``node`` (ROOT excluded), ordered by depth then name."""
        found: set[str] = set()
        stack = list(self.parents(node))
        while stack:
            p = stack.pop()
            if p not in found:
                found.add(p)
                stack.extend(self.parents(p))
        return tuple(sorted(found, key=lambda n: (self._depth[n], n)))

    def depth(self, node: str) -> int:
        """1 for children of ROOT, 2 below them, ... (longest path in a DAG)."""
        self._check(node)
        return self._depth.get(node, 0)

    @property
    def levels(self) -> list[list[str]]:
        """Nodes grouped by depth: ``levels[0]`` holds the depth-1 nodes, sorted by name."""
        out: list[list[str]] = [[] for _ in range(max(self._depth.values(), default=0))]
        for node in self.nodes:
            out[self._depth[node] - 1].append(node)
        return out

    @property
    def leaves(self) -> list[str]:
        """Nodes without children, sorted by name."""
        return sorted(n for n in self._depth if not self._children[n])

    # -- serialisation -------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: ``{"root", "allow_dag", "edges": [[parent, child], ...]}``."""
        return {"root": ROOT, "allow_dag": self.allow_dag, "edges": [list(e) for e in self.edges]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Hierarchy:
        """Rebuild from :meth:`to_json` output."""
        if not isinstance(data, dict) or not isinstance(data.get("edges"), list):
            raise DataError("a hierarchy must be an object with an 'edges' list of [parent, child]")
        return cls(
            [(str(p), str(c)) for p, c in data["edges"]], allow_dag=bool(data.get("allow_dag"))
        )
