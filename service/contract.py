"""Generate the parts of openapi.yaml and README.md that restate the strategy registry.

Generated from the registry (strategies, aliases, input kinds, feature params):

- openapi.yaml: the enums of StrategyName, StrategyAlias and InputName; the
  RankParams properties (every strategy, input-kind and feature param); the
  query parameter components for those params, their $refs in POST /v1/rank
  and their RankMultipart properties.
- README.md: the "## Strategies" table.

Each generated block sits between two marker lines, indented like the block::

    # generated <block> from the registry by python -m service.contract; do not edit
    ...
    # end generated <block>

(``<!-- ... -->`` comments in README.md). Everything outside the markers is
hand-written prose and is never touched.

    python -m service.contract          # rewrite the blocks in place
    python -m service.contract --check  # exit 1, naming file, block and diff, on drift

The check runs in the test suite (tests/test_contract.py). No third-party
import: the YAML is emitted by hand, deterministically.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeAlias

ROOT = Path(__file__).resolve().parents[1]
OPENAPI_PATH = ROOT / "openapi.yaml"
README_PATH = ROOT / "README.md"
COMMAND = "python -m service.contract"
# The owner named in the descriptions of the feature params.
FEATURES = "features"

Scalar: TypeAlias = str | int | float | bool
Yaml: TypeAlias = Scalar | list["Yaml"] | dict[str, "Yaml"]


class ParamLike(Protocol):
    """What the contract reads of a declared parameter (service.ranking.params.Param)."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def describe(self) -> dict[str, object]: ...


class InputKindLike(Protocol):
    """What the contract reads of an input kind."""

    @property
    def name(self) -> str: ...

    @property
    def params(self) -> Sequence[ParamLike]: ...


class StrategyLike(Protocol):
    """What the contract reads of a registered strategy."""

    @property
    def name(self) -> str: ...

    @property
    def family(self) -> str: ...

    @property
    def formula(self) -> str: ...

    @property
    def inputs(self) -> Sequence[str]: ...

    @property
    def arrays(self) -> Sequence[str]: ...

    @property
    def params(self) -> Sequence[ParamLike]: ...


@dataclass(frozen=True)
class Registry:
    """The registry's parts the contract restates, in registry order."""

    strategies: Sequence[StrategyLike]
    aliases: Sequence[str]
    input_kinds: Sequence[InputKindLike]
    feature_params: Sequence[ParamLike]


def load_registry() -> Registry:
    """The registry as the service runs it: the one place that imports it."""
    from service.jobs.features import FEATURE_PARAMS
    from service.ranking.inputs import INPUT_KINDS
    from service.ranking.registry import ALIASES, STRATEGIES

    return Registry(
        strategies=tuple(STRATEGIES.values()),
        aliases=tuple(ALIASES),
        input_kinds=tuple(INPUT_KINDS.values()),
        feature_params=tuple(FEATURE_PARAMS),
    )


class ContractError(Exception):
    """The registry cannot be rendered, or a file's markers are broken."""


# Parameters.

# Schema keys in the order they are written; unknown keys of Param.describe() follow.
SCHEMA_ORDER = ("type", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "enum")
BOUNDS = frozenset({"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"})


@dataclass(frozen=True)
class DeclaredParam:
    """One request parameter: its name, who declares it, its prose and its JSON Schema."""

    name: str
    owners: tuple[str, ...]
    description: str
    schema: dict[str, Yaml]

    @property
    def query_component(self) -> str:
        """Its query parameter's component name, e.g. OutputKindQuery."""
        return "".join(word.capitalize() for word in self.name.split("_")) + "Query"


def _to_yaml(value: object) -> Yaml:
    """``value`` (from Param.describe()) as YAML data; TypeError for anything else."""
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_to_yaml(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _to_yaml(item) for key, item in value.items()}
    raise TypeError(f"cannot write {value!r} into the contract")


def _schema_value(key: str, value: object) -> Yaml:
    data = _to_yaml(value)
    if key in BOUNDS and isinstance(data, float) and data.is_integer():
        return int(data)  # the same bound in JSON Schema, written as today: 0, not 0.0
    return data


def param_schema(param: ParamLike) -> dict[str, Yaml]:
    """The JSON Schema of ``param``, without its description: Param.describe() reordered."""
    described = param.describe()
    rest = [key for key in described if key not in (*SCHEMA_ORDER, "name", "description")]
    rest.sort(key=lambda key: key == "default")  # the default last, as everywhere in the file
    keys = [key for key in SCHEMA_ORDER if key in described] + rest
    return {key: _schema_value(key, described[key]) for key in keys}


def _lower_first(text: str) -> str:
    """``text`` with a capitalized first word lowered (not an acronym like BALD)."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def prefixed(owners: Sequence[str], description: str) -> str:
    """``owner: description``, unless the description already names its owner."""
    prefix = ", ".join(owners) + ": "
    return description if description.startswith(prefix) else prefix + _lower_first(description)


def declared_params(registry: Registry) -> list[DeclaredParam]:
    """Every param a request may send, once each: input kinds', features', strategies'."""
    owned: list[tuple[str, ParamLike]] = [
        *((kind.name, param) for kind in registry.input_kinds for param in kind.params),
        *((FEATURES, param) for param in registry.feature_params),
        *((strategy.name, param) for strategy in registry.strategies for param in strategy.params),
    ]
    first: dict[str, ParamLike] = {}
    owners: dict[str, list[str]] = {}
    for owner, param in owned:
        seen = first.setdefault(param.name, param)
        if seen.describe() != param.describe():
            raise ContractError(
                f"param {param.name!r} is declared differently by {owners[param.name][0]} "
                f"and {owner}; one name must mean one thing in a request"
            )
        owners.setdefault(param.name, []).append(owner)
    return [
        DeclaredParam(
            name,
            tuple(owners[name]),
            prefixed(owners[name], param.description),
            param_schema(param),
        )
        for name, param in first.items()
    ]


# YAML text.

_PLAIN = re.compile(r"[A-Za-z_$][A-Za-z0-9_$./-]*")
# Plain words YAML 1.1 (PyYAML) reads as booleans or null.
_RESERVED = frozenset({"yes", "no", "on", "off", "true", "false", "null", "y", "n"})


def _string(text: str) -> str:
    """``text`` as a YAML scalar: plain when unambiguous, else single-quoted."""
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    if text.isprintable():
        return "'" + text.replace("'", "''") + "'"
    return json.dumps(text)  # a JSON string is a valid double-quoted YAML scalar


def _number(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "e" in text and "." not in text:  # YAML 1.1 needs the dot: 1.0e-05, not 1e-05
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def scalar(value: Scalar) -> str:
    """``value`` as YAML text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    return _string(value)


def _is_scalar_list(value: list[Yaml]) -> bool:
    return all(not isinstance(item, list | dict) for item in value)


def _entry(key: str, value: Yaml, indent: str, flow: bool) -> list[str]:
    """The lines of one mapping entry."""
    head = f"{indent}{_string(key)}:"
    if isinstance(value, dict):
        return [*([head] if value else [head + " {}"]), *emit(value, indent + "  ", flow)]
    if isinstance(value, list):
        if not value or (flow and _is_scalar_list(value)):
            items: list[str] = [scalar(item) for item in value if not isinstance(item, list | dict)]
            return [f"{head} [{', '.join(items)}]"]
        return [head, *emit(value, indent + "  ", flow)]
    return [f"{head} {scalar(value)}"]


def emit(value: Yaml, indent: str = "", flow: bool = True) -> list[str]:
    """Block-style YAML lines for a mapping's entries or a sequence's items.

    ``flow``: write lists of scalars on one line, ``[a, b]``.
    """
    if isinstance(value, dict):
        return [line for key, item in value.items() for line in _entry(key, item, indent, flow)]
    if isinstance(value, list):
        lines: list[str] = []
        for item in value:
            if isinstance(item, dict | list):
                inner = emit(item, indent + "  ", flow)
                lines += [f"{indent}- {inner[0].lstrip()}", *inner[1:]]
            else:
                lines.append(f"{indent}- {scalar(item)}")
        return lines
    raise ContractError(f"a block is a mapping or a sequence, not {value!r}")


# The generated blocks.


@dataclass(frozen=True)
class Block:
    """A generated block: its data (for tests that parse it) and its lines."""

    data: Yaml | None
    lines: list[str]


def _yaml_block(data: Yaml, flow: bool = True) -> Block:
    return Block(data, emit(data, flow=flow))


def openapi_data(registry: Registry) -> dict[str, tuple[Yaml, bool]]:
    """Block name -> (YAML data, flow lists) for openapi.yaml."""
    params = declared_params(registry)
    return {
        "StrategyName.enum": ({"enum": [s.name for s in registry.strategies]}, False),
        "StrategyAlias.enum": ({"enum": list(registry.aliases)}, False),
        "InputName.enum": ({"enum": [kind.name for kind in registry.input_kinds]}, True),
        "RankParams.properties": (
            {"properties": {p.name: {"description": p.description, **p.schema} for p in params}},
            True,
        ),
        "RankMultipart.params": ({p.name: dict(p.schema) for p in params}, True),
        "rank.query-params": (
            [{"$ref": f"#/components/parameters/{p.query_component}"} for p in params],
            True,
        ),
        "parameters.query-params": (
            {
                p.query_component: {
                    "name": p.name,
                    "in": "query",
                    "description": _query_description(p),
                    # A default here would be sent by generated clients on every
                    # call, to strategies that do not take the parameter.
                    "schema": {k: v for k, v in p.schema.items() if k != "default"},
                }
                for p in params
            },
            True,
        ),
    }


def _query_description(param: DeclaredParam) -> str:
    """A query parameter's description, saying its default since its schema has none."""
    default = param.schema.get("default")
    absent = "" if isinstance(default, list | dict | None) else f" {scalar(default)} when absent."
    return f"{param.description}{absent} Same as `params.{param.name}` of a JSON request."


def openapi_blocks(registry: Registry) -> dict[str, Block]:
    """The generated blocks of openapi.yaml, by name."""
    data = openapi_data(registry)
    return {name: _yaml_block(value, flow) for name, (value, flow) in data.items()}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    """``text`` as a code span in a table cell (pipes escaped, as GFM tables need)."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{_cell(text)}{pad}{fence}"


def strategy_table(registry: Registry) -> list[str]:
    """The README's strategy table, one row per strategy in registry order."""
    lines = ["| strategy | family | inputs | score (higher = label first) |", "|---|---|---|---|"]
    for strategy in registry.strategies:
        inputs = ", ".join((*strategy.inputs, *strategy.arrays))
        cells = (_code(strategy.name), _cell(strategy.family), inputs, _code(strategy.formula))
        lines.append(f"| {' | '.join(cells)} |")
    return lines


def readme_blocks(registry: Registry) -> dict[str, Block]:
    """The generated blocks of README.md; blank lines keep the table apart from the markers."""
    return {"strategies": Block(None, ["", *strategy_table(registry), ""])}


# Markers and files.


@dataclass(frozen=True)
class Document:
    """A file with generated blocks: its comment syntax and what generates its blocks."""

    label: str
    path: Path
    opener: str
    closer: str
    blocks: Callable[[Registry], dict[str, Block]]

    def begin(self, name: str) -> str:
        marker = f"generated {name} from the registry by {COMMAND}; do not edit"
        return self.opener + marker + self.closer

    def end(self, name: str) -> str:
        return f"{self.opener}end generated {name}{self.closer}"

    def pattern(self, marker: Callable[[str], str]) -> re.Pattern[str]:
        """A regex matching a line of ``marker`` (begin or end), capturing indent and name."""
        parts = [re.escape(part) for part in marker("\0").split("\0")]
        return re.compile(r"(?P<indent>[ \t]*)" + r"(?P<name>\S+)".join(parts) + r"[ \t]*")


def openapi_document(path: Path = OPENAPI_PATH) -> Document:
    return Document(path.name, path, "# ", "", openapi_blocks)


def readme_document(path: Path = README_PATH) -> Document:
    return Document(path.name, path, "<!-- ", " -->", readme_blocks)


@dataclass(frozen=True)
class Span:
    """Where a block sits: the lines strictly between its markers, and their indent."""

    name: str
    indent: str
    start: int
    stop: int


def find_spans(document: Document, lines: Sequence[str]) -> list[Span]:
    """The marked blocks of ``lines``; ContractError on broken or unbalanced markers."""
    begin = document.pattern(document.begin)
    end = document.pattern(document.end)
    spans: list[Span] = []
    open_: tuple[str, str, int] | None = None
    for number, line in enumerate(lines):
        if match := begin.fullmatch(line):
            if open_ is not None:
                raise ContractError(f"block {open_[0]} (line {open_[2] + 1}) has no end marker")
            open_ = (match["name"], match["indent"], number)
        elif match := end.fullmatch(line):
            if open_ is None or open_[0] != match["name"]:
                raise ContractError(f"line {number + 1}: end of block {match['name']} unopened")
            spans.append(Span(open_[0], open_[1], open_[2] + 1, number))
            open_ = None
    if open_ is not None:
        raise ContractError(f"block {open_[0]} (line {open_[2] + 1}) has no end marker")
    return spans


def _matched_spans(document: Document, lines: Sequence[str], names: Sequence[str]) -> list[Span]:
    """The spans of ``lines``, exactly one per expected block name."""
    spans = find_spans(document, lines)
    found = [span.name for span in spans]
    for name in names:
        if found.count(name) != 1:
            how = "missing" if name not in found else "marked more than once"
            raise ContractError(
                f"block {name} is {how}: expected one line {document.begin(name)!r}"
            )
    if unknown := sorted(set(found) - set(names)):
        raise ContractError(f"unknown generated block(s): {', '.join(unknown)}")
    return spans


def _indented(lines: Sequence[str], indent: str) -> list[str]:
    return [indent + line if line else "" for line in lines]


def render(document: Document, text: str, registry: Registry) -> str:
    """``text`` with every generated block rewritten from ``registry``."""
    lines = text.split("\n")
    blocks = document.blocks(registry)
    out: list[str] = []
    done = 0
    for span in _matched_spans(document, lines, list(blocks)):
        out += lines[done : span.start] + _indented(blocks[span.name].lines, span.indent)
        done = span.stop
    return "\n".join(out + lines[done:])


def problems(document: Document, text: str, registry: Registry, max_diff: int = 40) -> list[str]:
    """What differs between ``text`` and what the registry generates, one message per block."""
    lines = text.split("\n")
    blocks = document.blocks(registry)
    try:
        spans = _matched_spans(document, lines, list(blocks))
    except ContractError as error:
        return [f"{document.label}: {error}"]
    found: list[str] = []
    for span in spans:
        committed = lines[span.start : span.stop]
        generated = _indented(blocks[span.name].lines, span.indent)
        if committed == generated:
            continue
        diff = list(
            difflib.unified_diff(
                committed,
                generated,
                f"{document.label} (committed)",
                f"{document.label} (generated)",
                n=1,
                lineterm="",
            )
        )
        if len(diff) > max_diff:
            diff = [*diff[:max_diff], f"... ({len(diff) - max_diff} more diff lines)"]
        where = f"lines {span.start + 1}-{span.stop}" if committed else f"after line {span.start}"
        found.append(
            f"{document.label}: generated block {span.name} ({where}) differs from the "
            f"registry; run {COMMAND} to rewrite it.\n" + "\n".join(diff)
        )
    return found


def _documents(openapi: Path, readme: Path) -> list[Document]:
    return [openapi_document(openapi), readme_document(readme)]


def check(
    openapi: Path = OPENAPI_PATH, readme: Path = README_PATH, registry: Registry | None = None
) -> list[str]:
    """The drift of the files from the registry: one message per stale block, [] if none."""
    registry = registry or load_registry()
    return [
        message
        for document in _documents(openapi, readme)
        for message in problems(document, document.path.read_text(encoding="utf-8"), registry)
    ]


def write(
    openapi: Path = OPENAPI_PATH, readme: Path = README_PATH, registry: Registry | None = None
) -> list[Path]:
    """Rewrite the generated blocks in place; the files that changed."""
    registry = registry or load_registry()
    rewritten: list[tuple[Path, str]] = []
    for document in _documents(openapi, readme):  # render all first: all or nothing
        text = document.path.read_text(encoding="utf-8")
        try:
            rendered = render(document, text, registry)
        except ContractError as error:
            raise ContractError(f"{document.label}: {error}") from None
        if rendered != text:
            rewritten.append((document.path, rendered))
    for path, rendered in rewritten:
        path.write_text(rendered, encoding="utf-8")
    return [path for path, _ in rewritten]


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: rewrite the blocks, or with --check report drift and exit 1."""
    parser = argparse.ArgumentParser(
        prog=COMMAND, description="Generate the registry's parts of openapi.yaml and README.md."
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a block is stale"
    )
    parser.add_argument("--openapi", type=Path, default=OPENAPI_PATH, help="the OpenAPI document")
    parser.add_argument("--readme", type=Path, default=README_PATH, help="the README")
    args = parser.parse_args(argv)
    openapi: Path = args.openapi
    readme: Path = args.readme
    if args.check:
        found = check(openapi, readme)
        for message in found:
            print(message, file=sys.stderr)
        if found:
            return 1
        print(f"{openapi.name} and {readme.name} are in step with the registry")
        return 0
    try:
        changed = write(openapi, readme)
    except ContractError as error:
        print(error, file=sys.stderr)
        return 1
    print("rewrote " + ", ".join(path.name for path in changed) if changed else "up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
