"""Packaging: what an installed policy-engine carries and runs with, from outside a checkout.

The slow test builds the sdist from a copy of the project, the wheel from that sdist (as
`python -m build` does), installs an editable copy and then the wheel into a fresh virtual
environment, and runs the commands from an empty folder. Its dependencies come from the
running interpreter's site-packages (--system-site-packages); the build needs setuptools>=77
(PEP 639 licence metadata), installed into that environment from the package index or pip's
cache. Any step that cannot run fails the test with its output: nothing is skipped.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib import resources as importlib_resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine.cli import main
from policy_engine import resources
from policy_engine.yamlio import read

ROOT = Path(__file__).resolve().parent.parent
XJ = "xj-iit-expert-pool"
CASE = ROOT / "fixtures" / XJ / "entry" / "eligible-senior-engineer.yaml"
POOL = ROOT / "fixtures" / "pools" / "xj-pool.csv"
DRAW_REQUEST = ROOT / "fixtures" / XJ / "draw" / "five-experts-fifteen-candidates.yaml"
SEED = "5eed" * 16
BUNDLED = sorted(p.name for p in (ROOT / "policies").iterdir() if p.is_dir() and not p.name.startswith("_"))
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE", "cli.py", "policy_engine", "policies", "schemas")


# -- resources, in this checkout ------------------------------------------------------------------

def test_bundled_resources_are_the_checkouts_folders_found_through_the_package():
    package = importlib_resources.files("policy_engine")
    assert (package / "policies").is_dir() and (package / "schemas").is_dir()
    assert resources.policy_dir() == (ROOT / "policies").resolve()
    assert resources.schema_dir() == (ROOT / "schemas").resolve()
    assert resources.calendar_file() == (ROOT / "policies" / "_shared" / "cn-workdays.calendar.yaml").resolve()
    assert (package / "py.typed").is_file()


# -- lean imports ----------------------------------------------------------------------------------

def test_importing_the_engine_does_not_import_the_cel_command_line_app():
    code = ("import json, sys, policy_engine\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('typer', 'rich', 'pydantic', 'prompt_toolkit', 'pygments') or m == 'cel.cli')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_the_cel_core_is_shared_with_a_later_import_of_the_whole_binding():
    code = ("import sys, policy_engine.policy.celcore as core\n"
            "import cel\n"
            "assert cel.compile is core.cel.compile is sys.modules['cel.cel'].compile\n"
            "print(cel.compile('1 + 2').execute(cel.Context()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"


# -- schemas resolve offline, as standard tools resolve them ---------------------------------------

def _file_validator(schema_file: Path):
    """A validator that, like a standard tool reading the file, takes the file's location as the
    base URI (the schemas have no $id) and may only retrieve local files."""
    import jsonschema
    from referencing import Registry, Resource

    retrieved = []

    def retrieve(uri: str):
        if not uri.startswith("file:"):
            raise AssertionError(f"a $ref reaches outside the local files: {uri}")
        retrieved.append(uri)
        return Resource.from_contents(json.loads(Path(uri[len("file://"):]).read_text(encoding="utf-8")))
    retrieve.retrieved = retrieved

    contents = json.loads(schema_file.read_text(encoding="utf-8"))
    base = dict(contents, **{"$id": schema_file.resolve().as_uri()})
    validator = jsonschema.Draft202012Validator(base, registry=Registry(retrieve=retrieve))
    return validator, retrieve


@pytest.mark.parametrize("schema_file", sorted((ROOT / "schemas").glob("*.schema.json")), ids=lambda p: p.name)
def test_every_schema_ref_resolves_against_the_schema_files_location(schema_file):
    contents = json.loads(schema_file.read_text(encoding="utf-8"))
    assert not str(contents.get("$id", "")).startswith(("http:", "https:")), "an $id naming a host nobody serves"
    from referencing import Registry, Resource

    uri = schema_file.resolve().as_uri()
    _, retrieve = _file_validator(schema_file)
    registry = Registry(retrieve=retrieve).with_resource(uri, Resource.from_contents(contents))
    refs = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(contents)
    resolver = registry.resolver(base_uri=uri)
    for ref in refs:
        resolver.lookup(ref)  # raises if unresolvable


def test_a_policy_and_a_receipt_validate_with_refs_read_from_the_sibling_files():
    policy_validator, retrieve = _file_validator(ROOT / "schemas" / "policy.schema.json")
    policy = read(ROOT / "policies" / XJ / "2025-04-21.yaml").data
    policy_validator.validate(policy)
    # facts.declare is where the policy schema refers to the vocabulary schema
    declared = {**policy, "facts": {**policy["facts"], "declare": {"matter.local_flag": {
        "type": "boolean", "description": "a fact only this policy uses"}}}}
    policy_validator.validate(declared)
    assert not policy_validator.is_valid({**policy, "facts": {**policy["facts"], "declare": {"x": {"type": 3}}}})
    assert set(retrieve.retrieved) == {(ROOT / "schemas" / "vocabulary.schema.json").resolve().as_uri()}
    receipt = next((ROOT / "fixtures").rglob("*.receipt.json"))
    receipt_validator, retrieve = _file_validator(ROOT / "schemas" / "receipt.schema.json")
    receipt_validator.validate(json.loads(receipt.read_text(encoding="utf-8")))
    assert set(retrieve.retrieved) == {(ROOT / "schemas" / "verdict.schema.json").resolve().as_uri()}


# -- the policy folders: --policies, POLICY_ENGINE_POLICIES, loading on demand --------------------

@pytest.fixture
def office(tmp_path):
    """An office's own policy folder: the 004 policy, and a second policy whose quote is wrong."""
    root = tmp_path / "office"
    shutil.copytree(ROOT / "policies" / "_shared", root / "_shared")
    shutil.copytree(ROOT / "policies" / XJ, root / XJ)
    other = "guiyang-petition-expert-pool"
    shutil.copytree(ROOT / "policies" / other, root / other)
    policy = next((root / other).glob("*.yaml"))
    text = policy.read_text(encoding="utf-8")
    quote = read(policy).data["in_force"]["quote"]
    policy.write_text(text.replace(quote, quote + "（此句不在原文）", 1), encoding="utf-8")
    return root


def _invoke(*args, env=None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def test_decide_loads_only_the_policy_asked_for(office):
    r = _invoke("decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", "--policies", office, CASE)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["policy"]["id"] == XJ
    # the broken policy is reported when it is asked for, and by list and check, which load all
    r = _invoke("decide", "--policy", "guiyang-petition-expert-pool", "--decision", "entry", "--as-of", "2026-11-23",
                "--policies", office, CASE)
    assert r.exit_code == 3 and "quote_not_found" in r.output
    assert _invoke("list", "--policies", office).exit_code == 3
    assert _invoke("check", office).exit_code == 3


def test_the_environment_variable_chooses_the_policy_folder(office, tmp_path):
    only = tmp_path / "only"
    shutil.copytree(ROOT / "policies" / "_shared", only / "_shared")
    shutil.copytree(ROOT / "policies" / XJ, only / XJ)
    r = _invoke("list", "--format", "json", env={"POLICY_ENGINE_POLICIES": str(only)})
    assert r.exit_code == 0, r.output
    assert {row["id"] for row in json.loads(r.output)} == {XJ}
    # --policies wins over the variable; folders are separated by os.pathsep
    r = _invoke("list", "--format", "json", "--policies", ROOT / "policies", env={"POLICY_ENGINE_POLICIES": str(only)})
    assert {row["id"] for row in json.loads(r.output)} == set(BUNDLED)
    r = _invoke("check", env={"POLICY_ENGINE_POLICIES": os.pathsep.join([str(only), str(office)])})
    assert r.exit_code == 3 and "quote is not in" in r.output and "in 3 policy file(s)" in r.output
    r = _invoke("list", env={"POLICY_ENGINE_POLICIES": str(tmp_path / "missing")})
    assert r.exit_code == 2 and "POLICY_ENGINE_POLICIES" in r.output and "does not exist" in r.output


# -- the wheel, built and installed ------------------------------------------------------------------

def _run(args, cwd, what, env=None, timeout=600):
    try:
        out = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"{what}: cannot run {args[0]}: {exc}")
    return out


def _must(args, cwd, what, env=None):
    out = _run(args, cwd, what, env)
    if out.returncode != 0:
        pytest.fail(f"{what} failed (exit {out.returncode}): {' '.join(map(str, args))}\n{out.stdout}\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh virtual environment, the wheel built from the sdist, and an empty working folder."""
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "src"
    src.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, src / name)
    venv = tmp / "venv"
    # no pip inside (installing it costs seconds): this interpreter's pip works on it with --python
    _must([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], tmp,
          "creating a virtual environment")
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "POLICY_ENGINE_POLICIES")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    _must([*pip, "install", "-q", "setuptools>=77"], tmp, "installing setuptools>=77 to build with", env)
    dist = tmp / "dist"
    _must([python, "-c", f"from setuptools import build_meta; build_meta.build_sdist({str(dist)!r})"], src,
          "building the sdist", env)
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    (unpacked,) = (tmp / "unpacked").iterdir()
    _must([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, unpacked], tmp,
          "building the wheel from the sdist", env)
    (wheel,) = dist.glob("*.whl")
    work = tmp / "work"
    work.mkdir()
    return {"tmp": tmp, "src": src, "venv": venv, "python": python, "pip": pip, "bin": venv / "bin", "env": env,
            "sdist": sdist,
            "wheel": wheel, "work": work}


def test_an_editable_install_finds_the_checkouts_policies(installed):
    i = installed
    _must([*i["pip"], "install", "-q", "--no-deps", "--no-build-isolation", "-e", i["src"]],
          i["tmp"], "installing the editable copy", i["env"])
    try:
        out = _must([i["python"], "-c", "from policy_engine import resources; print(resources.policy_dir())"],
                    i["work"], "importing the editable copy", i["env"])
        assert Path(out.stdout.strip()) == (i["src"] / "policies").resolve()
        out = _must([i["bin"] / "policy-engine", "list"], i["work"], "policy-engine list (editable)", i["env"])
        assert all(pid in out.stdout for pid in BUNDLED)
    finally:
        _must([*i["pip"], "uninstall", "-q", "-y", "policy-engine"], i["tmp"], "uninstalling", i["env"])


@pytest.fixture(scope="module")
def wheel_installed(installed):
    i = installed
    _must([*i["pip"], "install", "-q", "--no-deps", "--force-reinstall", i["wheel"]], i["tmp"],
          "installing the wheel", i["env"])
    out = _must([i["python"], "-c", "import policy_engine, policy_engine.cli as cli; print(policy_engine.__file__); print(cli.__file__)"],
                i["work"], "importing the installed package", i["env"])
    for line in out.stdout.split():
        assert Path(line).is_relative_to(i["venv"]), f"imported from outside the environment: {line}"
    return i


def test_the_wheel_carries_the_data_the_engine_reads(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    for pid in BUNDLED:
        assert any(n.startswith(f"policy_engine/policies/{pid}/") and n.endswith(".yaml") for n in names), pid
        assert f"policy_engine/policies/{pid}/source.txt" in names
    for shared in (ROOT / "policies" / "_shared").rglob("*"):  # vocabularies, calendar, and texts/ cited by policies
        if shared.is_file():
            assert f"policy_engine/policies/_shared/{shared.relative_to(ROOT / 'policies' / '_shared').as_posix()}" in names
    for other in (ROOT / "policies").glob("*/*.txt"):  # a text a policy cites, kept in its own folder
        assert f"policy_engine/policies/{other.parent.name}/{other.name}" in names
    for schema in (ROOT / "schemas").glob("*.schema.json"):
        assert f"policy_engine/schemas/{schema.name}" in names
    assert "policy_engine/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = next(zipfile.ZipFile(installed["wheel"]).read(n) for n in names if n.endswith(".dist-info/METADATA"))
    assert b"License-Expression: Apache-2.0" in metadata and b"License-File: LICENSE" in metadata
    assert not any(n.startswith(("tests/", "fixtures/", "policies/", "schemas/")) for n in names)


def test_the_wheel_installs_no_top_level_cli_module(installed):
    assert "cli.py" not in zipfile.ZipFile(installed["wheel"]).namelist()


def test_the_sdist_carries_the_data_and_the_licence(installed):
    with tarfile.open(installed["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert "LICENSE" in names and "policy_engine/py.typed" in names
    assert f"policy_engine/policies/{XJ}/source.txt" in names
    assert "policy_engine/schemas/policy.schema.json" in names


def test_the_installed_commands_run_from_an_empty_folder(wheel_installed):
    i = wheel_installed
    run = i["bin"] / "policy-engine"
    work = i["work"]

    def cli(*args, code=0):
        out = _run([run, *args], work, f"policy-engine {args[0]}", i["env"])
        assert out.returncode == code, f"policy-engine {' '.join(map(str, args))}: exit {out.returncode}\n" \
                                       f"{out.stdout}\n{out.stderr}"
        assert "Traceback" not in out.stderr
        return out

    out = cli("list", "--format", "json")
    rows = json.loads(out.stdout)
    assert sorted({r["id"] for r in rows}) == BUNDLED
    # bundled files are named the same on every machine and install: policies/<id>/<version>.yaml
    assert all(r["file"] == f"policies/{r['id']}/{r['version']}.yaml" for r in rows)

    out = cli("check")
    assert out.stdout.startswith(f"ok: {len(BUNDLED)} policies") and "1 calendar file(s) valid" in out.stdout

    shutil.copy(CASE, work / "case.yaml")
    out = cli("decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", "case.yaml")
    verdict = json.loads(out.stdout)
    golden = json.loads(CASE.with_name(CASE.stem + ".verdict.json").read_text(encoding="utf-8"))
    assert verdict["outcome"] == golden["outcome"]
    assert verdict["policy"] == golden["policy"]  # same bytes bundled: same digest

    shutil.copy(POOL, work / "pool.csv")
    shutil.copy(DRAW_REQUEST, work / "request.yaml")
    out = cli("draw", "--policy", XJ, "--pool", "pool.csv", "--request", "request.yaml", "--seed", SEED,
              "--out", "receipt.json")
    assert json.loads(out.stdout)["outcome"] == "drawn"
    out = cli("verify-draw", "receipt.json", "--pool", "pool.csv", "--format", "json")
    assert json.loads(out.stdout)["ok"] is True

    # an office's own folder, and a checkout's, are used instead of the bundled policies
    out = cli("list", "--policies", ROOT / "policies")
    assert all(pid in out.stdout for pid in BUNDLED)
    only = work / "office"
    shutil.copytree(ROOT / "policies" / "_shared", only / "_shared")
    shutil.copytree(ROOT / "policies" / XJ, only / XJ)
    out = _run([run, "list", "--format", "json"], work, "policy-engine list", {**i["env"], "POLICY_ENGINE_POLICIES": str(only)})
    assert out.returncode == 0 and {r["id"] for r in json.loads(out.stdout)} == {XJ}

    out = cli("test", code=2)
    assert "--fixtures" in out.stderr
    out = cli("test", "--fixtures", CASE.parent)
    assert out.stdout.rstrip().endswith("0 failed")

    out = _run([i["python"], "-m", "policy_engine", "--help"], work, "python -m policy_engine", i["env"])
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Usage: python -m policy_engine") and "decide" in out.stdout


def test_the_service_runs_from_the_installed_wheel(wheel_installed):
    """What the Dockerfile's second stage runs: `policy-engine serve` from the wheel, in an empty folder."""
    from service_server import Server
    i = wheel_installed
    names = set(zipfile.ZipFile(i["wheel"]).namelist())
    assert {"policy_engine/service/app.py", "policy_engine/service/openapi.py", "policy_engine/service/server.py"} <= names
    s = Server([i["bin"] / "policy-engine", "serve"], cwd=i["work"], env=i["env"])
    try:
        status, doc = s.get("/openapi.json")
        assert status == 200 and doc["openapi"].startswith("3.1") and "verdict" in doc["components"]["schemas"]
        status, _, raw = s.request("GET", "/v1/schemas/receipt.schema.json")
        assert status == 200 and raw == (ROOT / "schemas" / "receipt.schema.json").read_bytes()
        case = read(CASE).data["case"]
        status, verdict = s.post(f"/v1/policies/{XJ}/decisions/entry?as_of=2026-11-23", json.loads(json.dumps(case, default=str)))
        golden = json.loads(CASE.with_name(CASE.stem + ".verdict.json").read_text(encoding="utf-8"))
        assert status == 200 and verdict == golden
    finally:
        assert s.stop() == 0


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    return [tuple(line.strip().split(None, 1)) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_the_dockerfile_builds_the_wheel_from_the_files_the_packaging_test_builds_from():
    """No container engine needs to run for this: the Dockerfile's first stage copies exactly the
    files the `installed` fixture builds the wheel from (and .dockerignore lets exactly those in),
    the second installs only the wheel and runs the service on every interface."""
    steps = _dockerfile()
    stages = [n for n, (op, _) in enumerate(steps) if op == "FROM"]
    assert len(stages) == 2
    build, final = steps[stages[0]:stages[1]], steps[stages[1]:]
    copied = {src for op, args in build if op == "COPY" for src in args.split()[:-1]}
    assert copied == set(PROJECT_FILES)
    assert any(op == "RUN" and "pip wheel" in args for op, args in build)
    assert [args for op, args in final if op == "COPY"] == ["--from=build /dist/*.whl /tmp/"]
    assert any(op == "RUN" and "pip install" in args and "/tmp/*.whl" in args for op, args in final)
    entry = json.loads(next(args for op, args in final if op == "ENTRYPOINT"))
    assert entry[:2] == ["policy-engine", "serve"] and entry[entry.index("--host") + 1] == "0.0.0.0"
    assert any(op == "USER" for op, _ in final)
    allowed = [line[1:] for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines() if line.startswith("!")]
    assert set(allowed) == set(PROJECT_FILES)


def test_the_image_builds_and_serves_where_a_container_engine_runs(tmp_path):
    engine = shutil.which("docker") or shutil.which("podman")
    if engine is None or subprocess.run([engine, "info"], capture_output=True).returncode != 0:
        pytest.skip("no container engine runs here; the Dockerfile is checked by the test above")
    tag = "policy-engine-test:latest"
    out = _run([engine, "build", "-t", tag, "."], ROOT, "building the image", timeout=1800)
    assert out.returncode == 0, f"{engine} build failed:\n{out.stdout}\n{out.stderr}"
    name = f"policy-engine-test-{os.getpid()}"
    _must([engine, "run", "-d", "--rm", "--name", name, "-p", "127.0.0.1::8000", tag], ROOT, "starting the image")
    try:
        port = _must([engine, "port", name, "8000"], ROOT, "its port").stdout.split(":")[-1].strip()
        import time
        import urllib.request
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    assert json.loads(r.read())["status"] == "ready"
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the container never became ready")
    finally:
        subprocess.run([engine, "stop", name], capture_output=True)
