"""The action installs reconcile's dependencies from requirements/runtime.lock, hash-checked: the lock must hold
every runtime dependency of pyproject.toml (the credentials extra and the build backend included, transitive
ones too), pinned with hashes at the versions the test suite runs with (requirements.lock), and the action must
install from it and resolve nothing more."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"
DEV_LOCK = ROOT / "requirements.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")
HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


def read_lock(path: Path) -> dict[str, tuple[str, frozenset[str], str | None]]:
    """name -> (version, hashes, marker) of every pin in a `uv pip compile --generate-hashes` file."""
    pins: dict[str, tuple[str, set[str], str | None]] = {}
    current = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        pin = PIN.match(line)
        if pin:
            current = canonicalize_name(pin[1])
            assert current not in pins, f"{path.name}:{number}: {current} pinned twice"
            pins[current] = (pin[2], set(), pin[3])
        elif line.startswith(("    --hash=", "    #", "#")) or not line.strip():
            if current is not None:
                pins[current][1].update(HASH.findall(line))
        else:
            raise AssertionError(f"{path.name}:{number}: not a pin, a hash or a comment: {line!r}")
    return {name: (version, frozenset(hashes), marker) for name, (version, hashes, marker) in pins.items()}


RUNTIME = read_lock(RUNTIME_LOCK)


def runtime_requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    names = [*project["dependencies"], *project["optional-dependencies"]["credentials"]]
    return [Requirement(r) for r in names + PYPROJECT["build-system"]["requires"]]


def test_every_pin_of_the_runtime_lock_has_hashes_and_is_the_version_the_tests_run_with():
    development = read_lock(DEV_LOCK)
    assert RUNTIME, "requirements/runtime.lock pins nothing"
    for name, (version, hashes, _) in RUNTIME.items():
        assert hashes, f"runtime.lock: {name}=={version} has no --hash: the action installs with --require-hashes"
        assert name in development, f"runtime.lock pins {name}, which requirements.lock does not: run `make lock`"
        assert (version, hashes) == development[name][:2], (
            f"runtime.lock pins {name}=={version}, requirements.lock {development[name][0]}: run `make lock`"
        )


def test_every_runtime_dependency_of_pyproject_is_pinned_within_its_range():
    for requirement in runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in RUNTIME, f"pyproject.toml needs {requirement}, runtime.lock does not pin it: run `make lock`"
        assert requirement.specifier.contains(RUNTIME[name][0], prereleases=True), (
            f"runtime.lock pins {name}=={RUNTIME[name][0]}, outside pyproject.toml's {requirement}: run `make lock`"
        )


def test_the_runtime_lock_is_complete_every_transitive_dependency_is_pinned():
    """Walk the dependencies as the installed distributions declare them (this environment runs requirements.lock):
    with `pip install --no-deps`, whatever the lock leaves out would be missing at run time."""
    seen: set[str] = set()
    todo = [(r, frozenset(r.extras)) for r in runtime_requirements()]
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        assert name in RUNTIME, f"{name} (needed through {requirement}) is not in runtime.lock: run `make lock`"
        marker = RUNTIME[name][2]
        if marker is not None and not Marker(marker).evaluate():
            continue
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        assert metadata.version(name) == RUNTIME[name][0]
        for declared in metadata.requires(name) or []:
            child = Requirement(declared)
            environments = [{"extra": e} for e in extras] or [{"extra": ""}]
            if child.marker is None or any(child.marker.evaluate(env) for env in environments):
                todo.append((child, frozenset(child.extras)))
    assert {"psycopg-binary[]", "alibabacloud-credentials[]", "setuptools[]"} <= seen


def test_the_action_installs_from_the_runtime_lock_and_resolves_nothing_else():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    install = next(s for s in action["runs"]["steps"] if s.get("name") == "Install reconcile")["run"]
    assert '--require-hashes --no-deps -r "$GITHUB_ACTION_PATH/requirements/runtime.lock"' in install
    assert '--no-deps --no-build-isolation "$GITHUB_ACTION_PATH"\n' in install
    assert '[credentials]"' not in install.replace('"reconcile[credentials]==$RECONCILE_VERSION_PIN"', "")
    assert '"reconcile[credentials]==$RECONCILE_VERSION_PIN"' in install  # `version:` installs a released package
    assert "pip check" in install
    assert "RECONCILE_VERSION_PIN" in action["runs"]["steps"][1]["env"]


def test_make_lock_refreshes_both_locks_the_runtime_one_constrained_by_the_other():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nlock:", 1)[1].split("\n\n", 1)[0]
    assert "--extra dev" in recipe and "-o $(LOCK)" in recipe
    assert "--extra credentials --generate-hashes" in recipe
    assert "-c $(LOCK) -o requirements/runtime.lock" in recipe
    assert RUNTIME_LOCK.read_text().startswith(
        "# This file was autogenerated by uv via the following command:\n#    make lock\n"
    )
