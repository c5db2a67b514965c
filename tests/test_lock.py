"""The hashed lock files against pyproject.toml and the files that install from them.

Every install (make install, CI, the image) reads a lock, never pyproject.toml's ranges, so a
dependency added or re-ranged in pyproject.toml without `make lock` would go uninstalled or
stay at a version outside its range. These checks fail the suite instead.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
DEV_LOCK = ROOT / "requirements" / "dev.txt"

_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Pin:
    name: str
    version: Version
    hashes: int


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    lines = (line.split(" #", 1)[0].strip() for line in joined.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _pins(lock: Path) -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    for line in _logical_lines(lock.read_text()):
        spec, _, _ = line.partition(" --hash")
        requirement = Requirement(spec)
        (only,) = requirement.specifier  # a lock pins exactly one version
        assert only.operator == "==", f"{lock.name}: {line[:60]} is not an exact pin"
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"{lock.name}: {name} is pinned twice"
        pins[name] = Pin(name, Version(only.version), len(_HASH.findall(line)))
    return pins


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _declared(group: str) -> list[Requirement]:
    project = _pyproject()["project"]
    found = (
        project["dependencies"] if group == "runtime" else project["optional-dependencies"][group]
    )
    return [Requirement(item) for item in found]


@pytest.fixture(scope="module")
def runtime_pins() -> dict[str, Pin]:
    return _pins(RUNTIME_LOCK)


@pytest.fixture(scope="module")
def dev_pins() -> dict[str, Pin]:
    return _pins(DEV_LOCK)


def test_the_parser_reads_a_lock_entry(tmp_path):
    # Guards the checks below against a parser that finds nothing and so passes everything.
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "# header\n"
        "uvloop==0.23.0 ; sys_platform != 'win32' \\\n"
        f"    --hash=sha256:{'a' * 64} \\\n"
        f"    --hash=sha256:{'b' * 64}\n"
        "    # via uvicorn\n"
        "bare==1.0\n"
    )
    assert _pins(lock) == {
        "uvloop": Pin("uvloop", Version("0.23.0"), 2),
        "bare": Pin("bare", Version("1.0"), 0),
    }


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=lambda path: path.name)
def test_every_pin_carries_a_hash(lock):
    pins = _pins(lock)
    assert len(pins) > 20, f"{lock.name} pins almost nothing; is it truncated?"
    unhashed = sorted(pin.name for pin in pins.values() if pin.hashes == 0)
    assert not unhashed, f"{lock.name} has pins without a hash: {unhashed}"


@pytest.mark.parametrize(
    ("groups", "lock"),
    [
        (["runtime"], RUNTIME_LOCK),
        # The dev lock is what make install and CI install: the app and its tools.
        (["runtime", *_pyproject()["project"]["optional-dependencies"]], DEV_LOCK),
    ],
    ids=["runtime", "dev"],
)
def test_lock_pins_every_declared_dependency_within_its_range(groups, lock):
    pins = _pins(lock)
    problems = []
    for group in groups:
        for requirement in _declared(group):
            pin = pins.get(canonicalize_name(requirement.name))
            if pin is None:
                problems.append(f"{requirement} ({group}) is not in {lock.name}")
            elif not requirement.specifier.contains(pin.version, prereleases=True):
                problems.append(f"{requirement} ({group}) but {lock.name} pins {pin.version}")
    assert not problems, "run `make lock`:\n" + "\n".join(problems)


def test_every_declared_range_has_an_upper_bound():
    unbounded = [
        str(requirement)
        for group in ["runtime", *_pyproject()["project"]["optional-dependencies"]]
        for requirement in _declared(group)
        if not any(spec.operator in {"<", "<=", "==", "~="} for spec in requirement.specifier)
    ]
    assert not unbounded, f"ranges without an upper bound: {unbounded}"


def test_the_image_runs_the_versions_the_suite_tested(runtime_pins, dev_pins):
    differing = {
        name: (str(pin.version), str(dev_pins[name].version) if name in dev_pins else None)
        for name, pin in runtime_pins.items()
        if name not in dev_pins or dev_pins[name].version != pin.version
    }
    assert not differing, f"runtime lock differs from the dev lock (runtime, dev): {differing}"


def _run_lines(dockerfile: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", dockerfile)
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("RUN ")]


def test_the_image_installs_from_the_runtime_lock_only():
    runs = _run_lines((ROOT / "infra" / "Dockerfile").read_text())
    installs = [run for run in runs if "pip install" in run]
    assert installs, "the Dockerfile installs nothing"
    from_lock = [run for run in installs if "-r requirements/runtime.txt" in run]
    assert from_lock and all("--require-hashes" in run for run in from_lock)
    for run in installs:
        assert run in from_lock or "--no-deps" in run, f"an install that resolves: {run}"


def test_make_install_uses_the_dev_lock_only():
    makefile = (ROOT / "Makefile").read_text()
    installs = [line.strip() for line in makefile.splitlines() if "pip install" in line]
    assert "$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)" in installs
    assert "$(BIN)/python -m pip install --quiet --no-deps -e ." in installs
    assert "DEV_LOCK := requirements/dev.txt" in makefile
    # Outside the install itself, only the lock tool, which `make lock` alone needs.
    others = [line for line in installs if "$(DEV_LOCK)" not in line and "--no-deps" not in line]
    assert others == ["$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)"]
