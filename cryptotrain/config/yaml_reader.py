"""Reading config YAML safely: the safe loader, plus three refusals a plain `yaml.safe_load` lacks.

- Alias expansion is measured before anything is built: `b: &b [*a, *a, ...]` nested a few levels
  deep names millions of values in a few lines (an "alias bomb") and would hang validation and
  error messages. The expanded size is counted on the node graph (each node once, memoized), and a
  document over MAX_NODES values is refused.
- A key given twice in one mapping is refused naming the key and both lines (YAML keeps the last
  one silently).
- Unquoted dates stay strings: the safe loader turns `2026-02-30` into a ValueError before the
  config can say which key is wrong; the config validates date strings itself.
"""

from __future__ import annotations

from typing import Any

import yaml

from cryptotrain.errors import UserError

MAX_NODES = 100_000   # values after alias expansion; the biggest shipped config has a few hundred


class _Loader(yaml.SafeLoader):
    """SafeLoader without the implicit timestamp type (dates stay the strings they were written as)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Values the node stands for once every alias is expanded (an alias is the same node object)."""
    key = id(node)
    if key not in memo:
        memo[key] = 0  # a node that contains itself (a recursive alias) counts once
        if isinstance(node, yaml.SequenceNode):
            size = 1 + sum(_expanded_size(child, memo) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
        else:
            size = 1
        memo[key] = size
    return memo[key]


def _check_duplicate_keys(node: yaml.Node, origin: str, seen: set[int]) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for k, _ in node.value:
            if isinstance(k, yaml.ScalarNode):
                line = k.start_mark.line + 1
                if k.value in first_line:
                    raise UserError(f"{origin}: key '{cut(k.value)}' is given twice (lines {first_line[k.value]} "
                                    f"and {line}); keep one of them")
                first_line[k.value] = line
        children = [c for pair in node.value for c in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = node.value
    else:
        return
    for child in children:
        _check_duplicate_keys(child, origin, seen)


def load_yaml(text: str, origin: str) -> Any:
    """Parse one YAML document (None when empty); UserError for bad YAML, alias bombs and duplicate keys."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {})
        if size > MAX_NODES:
            raise UserError(f"{origin}: its aliases expand to {size:,} values (more than {MAX_NODES:,}); "
                            "write the values out instead of nesting aliases")
        _check_duplicate_keys(node, origin, set())
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        raise UserError(f"{origin}: not valid YAML ({cut(str(err).splitlines()[0], 160)}); fix the file") from err
    finally:
        loader.dispose()


def cut(text: str, limit: int = 80) -> str:
    """`text` for a message, cut to `limit` characters: a message never quotes a whole document."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quote(value: Any, limit: int = 80) -> str:
    """repr of a value for a message, cut to `limit` characters."""
    return cut(repr(value), limit)
