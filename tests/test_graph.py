"""Tests for slaspec.graph: the lifecycle graph's answers, its renderings, and its lazy build."""

from __future__ import annotations

import json
import pickle

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from slaspec.graph import EdgeInfo, NodeInfo, StateGraph


def _node(name: str, initial: bool = False, terminal: bool = False) -> NodeInfo:
    return NodeInfo(name, name.title(), "sales", initial, terminal, f"stage {name}")


def _edge(source: str, target: str, title: str = "") -> EdgeInfo:
    return EdgeInfo(source, target, title, bool(title), f"handoff {source} -> {target}")


FUNNEL = StateGraph(
    [_node("lead", initial=True), _node("mql"), _node("sql"), _node("won", terminal=True)],
    [
        _edge("lead", "mql", "Qualified"),
        _edge("mql", "sql"),
        _edge("mql", "lead", "Recycled"),
        _edge("sql", "won"),
    ],
)


def test_answers_in_declaration_order() -> None:
    assert [node.name for node in FUNNEL.stages] == ["lead", "mql", "sql", "won"]
    assert [(e.source, e.target) for e in FUNNEL.handoffs] == [
        ("lead", "mql"),
        ("mql", "sql"),
        ("mql", "lead"),
        ("sql", "won"),
    ]
    assert FUNNEL.successors("mql") == ("sql", "lead")
    assert FUNNEL.successors("won") == ()
    assert FUNNEL.has_handoff("lead", "mql")
    assert not FUNNEL.has_handoff("mql", "won")
    assert FUNNEL.reachable(["sql"]) == frozenset({"sql", "won"})
    assert FUNNEL.reachable(["mql", "nowhere"]) == frozenset({"lead", "mql", "sql", "won"})
    assert FUNNEL.reachable([]) == frozenset()


def test_renderings() -> None:
    assert FUNNEL.to_mermaid() == (
        "flowchart LR\n"
        '    lead(["Lead"])\n'
        '    mql["Mql"]\n'
        '    sql["Sql"]\n'
        '    won[["Won"]]\n'
        '    lead -->|"Qualified"| mql\n'
        "    mql --> sql\n"
        '    mql -->|"Recycled"| lead\n'
        "    sql --> won\n"
    )
    document = json.loads(FUNNEL.to_json())
    assert [stage["name"] for stage in document["stages"]] == ["lead", "mql", "sql", "won"]
    assert document["handoffs"][0] == {
        "source": "lead",
        "target": "mql",
        "title": "Qualified",
        "has_criteria": True,
        "clause": "handoff lead -> mql",
    }
    assert '"lead" -> "mql" [label="Qualified"];' in FUNNEL.to_dot()


def test_built_from_one_pass_over_iterators() -> None:
    # The compiler passes generators; they are read once, when the graph is made.
    graph = StateGraph(iter([_node("a"), _node("b")]), (e for e in [_edge("a", "b")]))
    assert graph.successors("a") == ("b",)
    assert [node.name for node in graph.stages] == ["a", "b"]
    assert graph.stages == graph.stages


def test_networkx_graph_is_built_once_and_frozen() -> None:
    graph = StateGraph([_node("a"), _node("b")], [_edge("a", "b")])
    built = graph._built()
    assert graph._built() is built
    assert nx.is_frozen(built)


def test_pickled_graph_answers_the_same() -> None:
    for graph in (StateGraph([_node("a"), _node("b")], [_edge("a", "b")]), FUNNEL):
        copy = pickle.loads(pickle.dumps(graph))
        assert copy.to_json() == graph.to_json()
        assert copy.reachable(["lead", "a"]) == graph.reachable(["lead", "a"])


@st.composite
def stages_and_handoffs(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    """Stage names and handoffs between them (the compiler only joins declared stages)."""
    names = draw(st.lists(st.sampled_from("abcdef"), min_size=1, unique=True))
    pairs = draw(st.lists(st.tuples(st.sampled_from(names), st.sampled_from(names))))
    return names, pairs


@settings(max_examples=60, deadline=None)
@given(stages_and_handoffs())
def test_same_answers_as_a_plain_networkx_graph(
    drawn: tuple[list[str], list[tuple[str, str]]],
) -> None:
    names, pairs = drawn
    graph = StateGraph([_node(n) for n in names], [_edge(s, t, f"{s}{t}") for s, t in pairs])
    plain: nx.DiGraph[str] = nx.DiGraph()
    plain.add_nodes_from(names)
    plain.add_edges_from(pairs)
    assert [node.name for node in graph.stages] == names
    # A repeated handoff is listed once, in its first place, as networkx lists it.
    assert [(e.source, e.target) for e in graph.handoffs] == list(plain.edges)
    for name in plain.nodes:
        assert graph.successors(name) == tuple(plain.successors(name))
        assert graph.reachable([name]) == frozenset({name} | nx.descendants(plain, name))
        for other in plain.nodes:
            assert graph.has_handoff(name, other) == plain.has_edge(name, other)
