"""The cache of verified policies (policy/cache.py): used only while nothing it rests on changed."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policy_engine import decide
from policy_engine.errors import PolicyError
from policy_engine.policy import discovery, loader
from policy_engine.policy.cache import PolicyCache, engine_fingerprint
from policy_engine.policy.discovery import discover

ROOT = Path(__file__).resolve().parent.parent
XJ = "xj-iit-expert-pool"
CASE = ROOT / "fixtures" / XJ / "entry" / "eligible-senior-engineer.yaml"
GOLDEN = CASE.with_suffix(".verdict.json")


@pytest.fixture
def policies(tmp_path):
    """A private copy of the bundled policies (so files can be changed)."""
    target = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", target)
    return target


def _case():
    import yaml
    fixture = yaml.safe_load(CASE.read_text(encoding="utf-8"))
    return fixture["case"], fixture["as_of"]


def _verdict(registry):
    case, as_of = _case()
    return decide(registry.in_force(XJ, as_of), "entry", case, as_of).dumps()


def _no_loading(monkeypatch):
    """From here on, loading a policy from its files fails the test: only the cache can answer."""
    def refuse(*args, **kwargs):
        raise AssertionError("the policy was loaded from its files, not from the cache")
    monkeypatch.setattr(discovery, "check_policy", refuse)


def test_a_stored_policy_answers_as_the_files_do_without_loading_them(policies, tmp_path, monkeypatch):
    cache = PolicyCache(tmp_path / "cache")
    fresh = _verdict(discover(policies, cache=cache))
    assert len(list((tmp_path / "cache").iterdir())) == 1
    _no_loading(monkeypatch)
    assert _verdict(discover(policies, cache=cache)) == fresh


def test_without_a_cache_the_same_verdict(policies, tmp_path):
    assert _verdict(discover(policies)) == _verdict(discover(policies, cache=PolicyCache(tmp_path / "cache")))


@pytest.mark.parametrize("change", ["policy", "source", "vocabulary"])
def test_a_changed_file_is_loaded_again_and_its_problem_reported(policies, tmp_path, change):
    cache = PolicyCache(tmp_path / "cache")
    _verdict(discover(policies, cache=cache))
    folder = policies / XJ
    if change == "policy":  # a quote no longer in the text
        file = folder / "2025-04-21.yaml"
        file.write_text(file.read_text(encoding="utf-8").replace("年龄一般不超过65周岁", "年龄一般不超过66周岁", 1),
                        encoding="utf-8")
        code = "quote_not_found"
    elif change == "source":  # the text changed under the policy: its sha256 no longer matches
        file = folder / "source.txt"
        file.write_text(file.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        code = "source_sha256"
    else:  # a fact the policy reads removed from the shared vocabulary
        file = policies / "_shared" / "expert-pool.vocab.yaml"
        text = file.read_text(encoding="utf-8")
        assert "expert.birth_date:" in text
        file.write_text(text.replace("expert.birth_date:", "expert.birth_day:", 1), encoding="utf-8")
        code = None
    with pytest.raises(PolicyError) as caught:
        _verdict(discover(policies, cache=cache))
    if code:
        assert code in {p.code for p in caught.value.problems}, [p.render() for p in caught.value.problems]


def test_a_damaged_entry_is_a_miss_not_an_error(policies, tmp_path):
    cache = PolicyCache(tmp_path / "cache")
    fresh = _verdict(discover(policies, cache=cache))
    (entry,) = (tmp_path / "cache").iterdir()
    entry.write_bytes(b"\x80\x05not a pickle")
    assert _verdict(discover(policies, cache=cache)) == fresh
    entry.write_bytes(b"")
    assert _verdict(discover(policies, cache=cache)) == fresh


def test_a_folder_others_can_write_is_not_trusted(policies, tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    cache = PolicyCache(folder)
    _verdict(discover(policies, cache=cache))
    os.chmod(folder, 0o777)
    _no_loading(monkeypatch)
    with pytest.raises(AssertionError, match="not from the cache"):
        _verdict(discover(policies, cache=cache))


def test_an_unwritable_cache_folder_is_no_cache(policies, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = PolicyCache(blocker / "cache")
    assert _verdict(discover(policies, cache=cache)) == _verdict(discover(policies))


def test_a_policy_with_problems_is_never_stored(policies, tmp_path):
    file = policies / XJ / "2025-04-21.yaml"
    file.write_text(file.read_text(encoding="utf-8").replace("年龄一般不超过65周岁", "年龄一般不超过66周岁", 1),
                    encoding="utf-8")
    cache = PolicyCache(tmp_path / "cache")
    for _ in range(2):
        with pytest.raises(PolicyError):
            _verdict(discover(policies, cache=cache))
    assert not list((tmp_path / "cache").glob("*.policies"))


def test_the_engine_fingerprint_covers_the_code_and_schemas():
    first = engine_fingerprint()
    assert len(first) == 64 and first == engine_fingerprint()


def _cli(args, env):
    return subprocess.run([sys.executable, "-m", "policy_engine", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=ROOT)


def test_the_command_line_answers_the_same_with_and_without_its_cache(tmp_path):
    args = ["decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", "--format", "json", str(CASE)]
    off = _cli(args, {"POLICY_ENGINE_CACHE": "off"})
    assert off.returncode == 0, off.stderr
    assert not (tmp_path / "c").exists()
    first = _cli(args, {"POLICY_ENGINE_CACHE": str(tmp_path / "c")})
    second = _cli(args, {"POLICY_ENGINE_CACHE": str(tmp_path / "c")})
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert off.stdout == first.stdout == second.stdout
    assert json.loads(second.stdout) == json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert len(list((tmp_path / "c").glob("*.policies"))) == 1


def test_check_never_uses_the_cache(policies, tmp_path):
    env = {"POLICY_ENGINE_CACHE": str(tmp_path / "c"), "POLICY_ENGINE_POLICIES": str(policies)}
    decided = _cli(["decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", str(CASE)], env)
    assert decided.returncode == 0, decided.stderr
    file = policies / XJ / "2025-04-21.yaml"
    file.write_text(file.read_text(encoding="utf-8").replace("年龄一般不超过65周岁", "年龄一般不超过66周岁", 1),
                    encoding="utf-8")
    checked = _cli(["check"], env)
    assert checked.returncode == 3 and "quote" in checked.stderr + checked.stdout
    decided = _cli(["decide", "--policy", XJ, "--decision", "entry", "--as-of", "2026-11-23", str(CASE)], env)
    assert decided.returncode == 3, decided.stdout
