"""service.contract: the registry's parts of openapi.yaml and README.md are generated.

The committed files must equal what the generator writes (the drift check);
editing a generated block fails the check, editing the prose around it does
not, and the generator is idempotent.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from service import contract
from service.contract import (
    ContractError,
    Registry,
    check,
    declared_params,
    load_registry,
    main,
    openapi_blocks,
    openapi_document,
    readme_document,
    render,
    write,
)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path]:
    """Copies of the committed openapi.yaml and README.md to edit."""
    openapi = Path(shutil.copy(contract.OPENAPI_PATH, tmp_path / "openapi.yaml"))
    readme = Path(shutil.copy(contract.README_PATH, tmp_path / "README.md"))
    return openapi, readme


def edit(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in the file."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def only_problem(copies: tuple[Path, Path], registry: Registry) -> str:
    found = check(*copies, registry=registry)
    assert len(found) == 1, found
    return found[0]


# (1) The drift check: the committed files are what the generator writes.


def test_committed_files_are_generated_from_the_registry(registry: Registry):
    assert check(registry=registry) == [], (
        f"run {contract.COMMAND} and commit openapi.yaml and README.md"
    )


def test_check_command_passes_on_the_committed_files(capsys: pytest.CaptureFixture[str]):
    assert main(["--check"]) == 0
    assert "in step with the registry" in capsys.readouterr().out


# (2) Editing inside a generated block fails the check, naming file and block.


def test_a_strategy_name_removed_from_the_enum_fails(
    copies: tuple[Path, Path], registry: Registry, capsys: pytest.CaptureFixture[str]
):
    openapi, readme = copies
    edit(openapi, "        - margin\n", "")
    message = only_problem(copies, registry)
    assert message.startswith("openapi.yaml: generated block StrategyName.enum")
    assert f"run {contract.COMMAND}" in message
    assert "+        - margin" in message  # the diff shows what the registry has

    assert main(["--check", "--openapi", str(openapi), "--readme", str(readme)]) == 1
    assert "StrategyName.enum" in capsys.readouterr().err


def test_a_param_description_changed_by_hand_fails(copies: tuple[Path, Path], registry: Registry):
    openapi, _ = copies
    generated = openapi_blocks(registry)["RankParams.properties"].lines
    line = next(line for line in generated if "description: 'logits, token_logits: " in line)
    edit(openapi, line, line.replace("softmax", "soft max", 1))
    assert "generated block RankParams.properties" in only_problem(copies, registry)


@pytest.mark.parametrize(
    ("old", "new", "block"),
    [
        pytest.param(
            "        minimum: 0\n    # end generated parameters.query-params",
            "        minimum: 1\n    # end generated parameters.query-params",
            "parameters.query-params",
            id="query-default",
        ),
        pytest.param(
            "        - $ref: '#/components/parameters/LayoutQuery'\n",
            "",
            "rank.query-params",
            id="operation-ref",
        ),
        pytest.param(
            "          minimum: 0\n        # end generated RankMultipart.params",
            "          minimum: 0\n        extra:\n          type: string\n"
            "        # end generated RankMultipart.params",
            "RankMultipart.params",
            id="multipart-field",
        ),
    ],
)
def test_other_generated_openapi_blocks_are_checked(
    copies: tuple[Path, Path], registry: Registry, old: str, new: str, block: str
):
    edit(copies[0], old, new)
    assert f"generated block {block} " in only_problem(copies, registry)


def test_an_edited_readme_table_fails(copies: tuple[Path, Path], registry: Registry):
    _, readme = copies
    edit(readme, "| `ratio` | uncertainty |", "| `ratio` | certainty |")
    message = only_problem(copies, registry)
    assert message.startswith("README.md: generated block strategies")
    assert "+| `ratio` | uncertainty |" in message


@pytest.mark.parametrize(
    ("which", "marker", "says"),
    [
        (0, "      # end generated StrategyName.enum\n", "StrategyName.enum (line"),
        (
            0,
            "      # generated InputName.enum from the registry by python -m service.contract;"
            " do not edit\n",
            "end of block InputName.enum unopened",
        ),
        (1, "<!-- end generated strategies -->\n", "has no end marker"),
    ],
)
def test_a_broken_marker_fails(
    copies: tuple[Path, Path], registry: Registry, which: int, marker: str, says: str
):
    edit(copies[which], marker, "")
    assert says in only_problem(copies, registry)


def test_a_deleted_block_fails_and_is_not_rewritten(copies: tuple[Path, Path], registry: Registry):
    openapi, _ = copies
    text = openapi.read_text(encoding="utf-8")
    begin = openapi_document().begin("StrategyAlias.enum")
    start = text.index("      " + begin)
    end_marker = "      # end generated StrategyAlias.enum\n"
    stop = text.index(end_marker) + len(end_marker)
    openapi.write_text(text[:start] + "      enum: [consensus_entropy]\n" + text[stop:])
    assert "block StrategyAlias.enum is missing" in only_problem(copies, registry)
    before = openapi.read_text(encoding="utf-8")
    with pytest.raises(ContractError, match=r"openapi\.yaml: block StrategyAlias\.enum is missing"):
        write(*copies, registry=registry)
    assert openapi.read_text(encoding="utf-8") == before


# (3) Prose outside the blocks is hand-written: editing it never fails the check.


def test_edited_prose_passes(copies: tuple[Path, Path], registry: Registry):
    openapi, readme = copies
    edit(openapi, "A registered strategy. Every score", "A strategy. Each score")
    edit(openapi, "      description: Another name of a strategy,", "      description: An alias,")
    edit(readme, "p1 and p2 are a row's largest", "p1 and p2 are the largest")
    assert check(*copies, registry=registry) == []


# (4) Rewriting is idempotent, and repairs what hand edits broke.


def test_generating_twice_changes_nothing_the_second_time(
    copies: tuple[Path, Path], registry: Registry
):
    openapi, readme = copies
    edit(openapi, "        - margin\n", "")
    edit(readme, "| `ratio` | uncertainty |", "| `ratio` | certainty |")
    assert write(*copies, registry=registry) == [openapi, readme]
    assert openapi.read_text(encoding="utf-8") == contract.OPENAPI_PATH.read_text(encoding="utf-8")
    assert readme.read_text(encoding="utf-8") == contract.README_PATH.read_text(encoding="utf-8")
    assert write(*copies, registry=registry) == []
    assert check(*copies, registry=registry) == []


@pytest.mark.parametrize(
    "document", [openapi_document(), readme_document()], ids=["openapi", "readme"]
)
def test_render_is_a_fixed_point(document: contract.Document, registry: Registry):
    once = render(document, document.path.read_text(encoding="utf-8"), registry)
    assert render(document, once, registry) == once


# The emitted YAML means what the registry declares.


def test_every_block_parses_to_its_data(registry: Registry):
    for name, block in openapi_blocks(registry).items():
        assert yaml.safe_load("\n".join(block.lines)) == block.data, name


def _declared(registry: Registry) -> dict[str, dict[str, object]]:
    """Param name -> Param.describe() minus its prose, from the registry itself."""
    owners = [*registry.input_kinds, *registry.strategies]
    params = [param for owner in owners for param in owner.params]
    return {
        param.name: {k: v for k, v in param.describe().items() if k not in ("name", "description")}
        for param in [*params, *registry.feature_params]
    }


def test_committed_param_schemas_are_the_declared_ones(registry: Registry):
    document = yaml.safe_load(contract.OPENAPI_PATH.read_text(encoding="utf-8"))
    schemas, queries = document["components"]["schemas"], document["components"]["parameters"]
    declared = _declared(registry)
    assert set(schemas["RankParams"]["properties"]) == set(declared)
    for param in declared_params(registry):
        rank_param = dict(schemas["RankParams"]["properties"][param.name])
        assert rank_param.pop("description") == param.description
        assert rank_param == declared[param.name]
        assert schemas["RankMultipart"]["properties"][param.name] == declared[param.name]
        query = queries[param.query_component]
        assert (query["name"], query["in"]) == (param.name, "query")
        # Query parameters carry no default (a generated client would send it on
        # every call); their description says it instead.
        without_default = {k: v for k, v in declared[param.name].items() if k != "default"}
        assert query["schema"] == without_default
        if isinstance(declared[param.name].get("default"), int | float | str | bool):
            assert "when absent." in query["description"]


def test_param_descriptions_name_their_owner(registry: Registry):
    descriptions = {param.name: param.description for param in declared_params(registry)}
    assert descriptions["temperature"].startswith("logits, token_logits: softmax temperature")
    assert descriptions["layout"].startswith("samples: ")
    assert descriptions["candidates"].startswith("cluster_margin: smallest-margin")
    # Feature params already name their owner: not "features: features: ...".
    assert descriptions["output"].startswith("features: the model output")


class _DuplicateKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key twice in one mapping (PyYAML keeps the last)."""


def _refuse_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[object, object]:
    keys = [loader.construct_object(key) for key, _ in node.value]
    twice = {key for key in keys if keys.count(key) > 1}
    assert not twice, f"line {node.start_mark.line + 1}: keys given twice: {twice}"
    return loader.construct_mapping(node)


_DuplicateKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _refuse_duplicates
)


def test_generated_names_do_not_collide_with_hand_written_ones():
    # A param named like a hand-written field would silently override it.
    yaml.load(contract.OPENAPI_PATH.read_text(encoding="utf-8"), Loader=_DuplicateKeyLoader)


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "yes",
        "No",
        "null",
        "on",
        "1.5",
        "it's: quoted",
        "#ref",
        "- dash",
        "tab\there",
        "ünï",
        True,
        0,
        7,
        1.0,
        1e-05,
        1e20,
        -2.5,
        float("inf"),
    ],
)
def test_scalars_read_back_as_written(value: contract.Scalar):
    assert yaml.safe_load(f"key: {contract.scalar(value)}") == {"key": value}
    assert yaml.safe_load(f"key: [{contract.scalar(value)}]") == {"key": [value]}


# Declarations the generator cannot write are refused, not guessed at.


@dataclass(frozen=True)
class FakeParam:
    name: str
    description: str
    kind: str = "integer"

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "type": self.kind, "description": self.description}


@dataclass(frozen=True)
class FakeStrategy:
    name: str
    params: tuple[FakeParam, ...]
    family: str = "test"
    formula: str = "x | y"
    inputs: tuple[str, ...] = ()
    arrays: tuple[str, ...] = ("embeddings",)


def test_one_param_shared_alike_by_two_strategies_is_listed_once():
    shared = FakeParam("k", "Neighbours to look at.")
    fake = Registry([FakeStrategy("a", (shared,)), FakeStrategy("b", (shared,))], [], [], [])
    [param] = declared_params(fake)
    assert param.owners == ("a", "b")
    assert param.description == "a, b: neighbours to look at."
    assert contract.strategy_table(fake)[2] == "| `a` | test | embeddings | `x \\| y` |"


def test_one_name_declared_two_ways_is_refused():
    fake = Registry(
        [
            FakeStrategy("a", (FakeParam("k", "Count."),)),
            FakeStrategy("b", (FakeParam("k", "Count.", kind="number"),)),
        ],
        [],
        [],
        [],
    )
    with pytest.raises(ContractError, match="'k' is declared differently by a and b"):
        declared_params(fake)
