"""The state graph: compiled stages and handoffs -> a frozen networkx graph, and its renderings.

This is the only module that imports networkx. Nodes are stage names, edges are handoffs;
every node and edge carries the agreement clause it came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What the graph knows about a stage."""

    name: str
    title: str
    owner: str | None
    initial: bool
    terminal: bool
    clause: str


@dataclass(frozen=True, slots=True)
class EdgeInfo:
    """What the graph knows about a handoff."""

    source: str
    target: str
    title: str
    has_criteria: bool
    clause: str


class StateGraph:
    """The agreement's lifecycle: a frozen directed graph of stages and handoffs."""

    __slots__ = ("_edges", "_graph", "_nodes")

    def __init__(self, nodes: Iterable[NodeInfo], edges: Iterable[EdgeInfo]) -> None:
        self._nodes = tuple(nodes)
        self._edges = tuple(edges)
        self._graph: nx.DiGraph[str] | None = None

    def _built(self) -> nx.DiGraph[str]:
        """The frozen networkx graph, built on first use.

        Importing networkx takes a tenth of a second, and lint and replay never ask the graph
        anything; only the commands that draw or walk it pay for it.
        """
        if self._graph is None:
            import networkx as nx

            graph: nx.DiGraph[str] = nx.DiGraph()
            for node in self._nodes:
                graph.add_node(node.name, info=node)
            for edge in self._edges:
                graph.add_edge(edge.source, edge.target, info=edge)
            self._graph = nx.freeze(graph)
        return self._graph

    @property
    def stages(self) -> tuple[NodeInfo, ...]:
        """Every stage, in declaration order."""
        return tuple(data["info"] for _, data in self._built().nodes(data=True))

    @property
    def handoffs(self) -> tuple[EdgeInfo, ...]:
        """Every handoff, in declaration order of their source stages then targets."""
        return tuple(data["info"] for _, _, data in self._built().edges(data=True))

    def has_handoff(self, source: str, target: str) -> bool:
        """Whether a handoff from source to target is declared."""
        return bool(self._built().has_edge(source, target))

    def successors(self, stage: str) -> tuple[str, ...]:
        """Stages a lead may move to from the given stage."""
        return tuple(self._built().successors(stage))

    def reachable(self, sources: Iterable[str]) -> frozenset[str]:
        """Stages reachable from the sources (the sources included)."""
        import networkx as nx

        graph = self._built()
        seen: set[str] = set()
        for source in sources:
            if source in graph and source not in seen:
                seen.add(source)
                seen.update(nx.descendants(graph, source))
        return frozenset(seen)

    def to_mermaid(self) -> str:
        """A Mermaid flowchart (renders in git hosting and Markdown)."""
        lines = ["flowchart LR"]
        for node in self.stages:
            label = _mermaid_text(f"{node.title}" if node.title else node.name)
            shape = (
                f'(["{label}"])'
                if node.initial
                else f'[["{label}"]]'
                if node.terminal
                else f'["{label}"]'
            )
            lines.append(f"    {node.name}{shape}")
        for edge in self.handoffs:
            arrow = f'-->|"{_mermaid_text(edge.title)}"|' if edge.title else "-->"
            lines.append(f"    {edge.source} {arrow} {edge.target}")
        return "\n".join(lines) + "\n"

    def to_dot(self) -> str:
        """A Graphviz digraph."""
        lines = [
            "digraph agreement {",
            "    rankdir=LR;",
            '    node [shape=box, style=rounded, fontname="Helvetica"];',
        ]
        for node in self.stages:
            attrs = [f"label={_dot_quote(node.title or node.name)}"]
            if node.initial:
                attrs.append("penwidth=2")
            if node.terminal:
                attrs.append("peripheries=2")
            lines.append(f"    {_dot_quote(node.name)} [{', '.join(attrs)}];")
        for edge in self.handoffs:
            label = f" [label={_dot_quote(edge.title)}]" if edge.title else ""
            lines.append(f"    {_dot_quote(edge.source)} -> {_dot_quote(edge.target)}{label};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        """The graph as JSON: stages and handoffs with their clauses."""
        document: dict[str, Any] = {
            "stages": [
                {
                    "name": node.name,
                    "title": node.title,
                    "owner": node.owner,
                    "initial": node.initial,
                    "terminal": node.terminal,
                    "clause": node.clause,
                }
                for node in self.stages
            ],
            "handoffs": [
                {
                    "source": edge.source,
                    "target": edge.target,
                    "title": edge.title,
                    "has_criteria": edge.has_criteria,
                    "clause": edge.clause,
                }
                for edge in self.handoffs
            ],
        }
        return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
