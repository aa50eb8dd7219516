"""Finding, reading and hashing scenario files."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tomllib
from pathlib import Path

from pydantic import ValidationError

from .errors import ScenarioError, from_validation_error
from .model import Scenario

PACKAGE_SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def scenario_dirs() -> list[Path]:
    """Where scenario names are looked up: $SNNBENCH_SCENARIOS, ./scenarios, the project's scenarios/."""
    dirs = []
    if os.environ.get("SNNBENCH_SCENARIOS"):
        dirs += [Path(p) for p in os.environ["SNNBENCH_SCENARIOS"].split(os.pathsep) if p]
    dirs += [Path.cwd() / "scenarios", PACKAGE_SCENARIOS]
    seen, unique = set(), []
    for d in dirs:
        key = d.resolve()
        if key not in seen and d.is_dir():
            seen.add(key)
            unique.append(d)
    return unique


def find_scenario(name: str | Path) -> Path:
    """A path to an existing file, or a scenario id looked up in `scenario_dirs()`."""
    path = Path(name)
    try:
        if path.suffix == ".toml" or path.exists():
            if not path.is_file():
                raise ScenarioError(path, [("", "no such scenario file")])
            return path
        for d in scenario_dirs():
            candidate = d / f"{name}.toml"
            if candidate.is_file():
                return candidate
    except (OSError, ValueError) as exc:  # a name with a NUL byte, too long, unreadable
        if isinstance(exc, ScenarioError):
            raise
        raise ScenarioError(str(name), [("", f"cannot be used as a scenario name or path: {exc}")]) from None
    known = ", ".join(sorted(p.stem for d in scenario_dirs() for p in d.glob("*.toml"))) or "none"
    raise ScenarioError(name, [("", f"no scenario named {str(name)!r}; known scenarios: {known}")])


def parse_scenario(text: str, file: str | Path = "<string>", scenario_id: str | None = None) -> Scenario:
    """Validate TOML text into a Scenario; every problem is raised as a ScenarioError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(file, [("", f"not valid TOML: {exc}")]) from None
    except RecursionError:
        raise ScenarioError(file, [("", "not usable TOML: nested too deeply")]) from None
    if "id" in data:
        raise ScenarioError(file, [("id", "the scenario id is the file name; remove this key")])
    data["id"] = scenario_id or Path(str(file)).stem
    base_dir = Path(str(file)).parent if str(file) != "<string>" else None
    return _from_data(data, file, base_dir)


def _from_data(data: dict, file: str | Path, base_dir: Path | None) -> Scenario:
    source = copy.deepcopy(data) if isinstance((data.get("sonata") or {}).get("column"), dict) else None
    if "sonata" in data:
        data = _expand_sonata(data, base_dir or Path.cwd(), file)
    try:
        scenario = Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise from_validation_error(file, exc) from None
    except RecursionError:
        raise ScenarioError(file, [("", "nested too deeply")]) from None
    if source is not None:
        scenario._column_source = (source, base_dir)
    return scenario


def column_scenario(scenario: Scenario, cells: int) -> Scenario:
    """`scenario`, whose SONATA circuit is snnbench's built column, with the column built at
    `cells` cells (sonata.column.cells; the radius follows it unless the file fixes one)."""
    source, base_dir = scenario._column_source
    data = copy.deepcopy(source)
    data["sonata"]["column"]["cells"] = cells
    return _from_data(data, f"{scenario.id} (column at {cells} cells)", base_dir)


def _expand_sonata(data: dict, base_dir: Path, file: str | Path) -> dict:
    """The populations and projections of the scenario's SONATA circuit (snnbench.sonata.expand);
    a file that cannot be used is a ScenarioError naming it, the node or edge type and why."""
    from ..sonata.expand import expand
    from ..sonata.files import SonataError

    try:
        return expand(data, base_dir)
    except SonataError as exc:
        raise ScenarioError(exc.file, [(exc.where, exc.why)]) from None
    except ValidationError as exc:
        raise from_validation_error(file, exc) from None


def read_text(path: Path) -> str:
    """A text file's content as UTF-8; anything else is a ScenarioError naming the file."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ScenarioError(path, [("", f"cannot be read: {exc.strerror or exc}")]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ScenarioError(path, [("", f"not UTF-8 text (byte {exc.start} on line {line}); "
                                        "expected a TOML text file")]) from None


def load_scenario(name: str | Path) -> Scenario:
    path = find_scenario(name)
    return parse_scenario(read_text(path), file=path, scenario_id=path.stem)


def list_scenarios() -> list[tuple[str, Path, Scenario | ScenarioError]]:
    """Every scenario file found, with its parsed model or the error that stops it."""
    found: dict[str, tuple[str, Path, Scenario | ScenarioError]] = {}
    for d in scenario_dirs():
        for path in sorted(d.glob("*.toml")):
            if path.stem in found:
                continue
            try:
                found[path.stem] = (path.stem, path, load_scenario(path))
            except ScenarioError as exc:
                found[path.stem] = (path.stem, path, exc)
    return sorted(found.values(), key=lambda item: item[0])


_SONATA_PATHS = {"circuit", "simulation", "nodes_file", "node_types_file", "edges_file", "edge_types_file",
                 "synaptic_models_dir", "point_neuron_models_dir", "file"}


def _portable(value):
    """SONATA file paths reduced to their names: where a circuit's files (or the column's cache)
    live does not change the network, whose sizes, parameters and edge counts the content holds."""
    if isinstance(value, dict):
        return {k: (Path(v).name if k in _SONATA_PATHS and isinstance(v, str) else _portable(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v) for v in value]
    return value


# Keys of [expected] added after scenarios had been hashed and run: left out of the hash while empty,
# so that stored runs and verdicts of the files that do not use them keep matching.
_EXPECTED_KEYS_ADDED_LATER = ("cv_isi", "weight_mean", "weight_sd")


def scenario_hash(scenario: Scenario) -> str:
    """Hash of the validated content (units converted, defaults filled).

    Comments, layout and the file's name do not count: the same network under two names hashes
    the same (the scenario id is recorded beside the hash).
    """
    content = scenario.model_dump(mode="json", exclude={"id"})
    expected = content.get("expected") or {}
    for key in _EXPECTED_KEYS_ADDED_LATER:  # a file that does not use them hashes as before they existed
        if key in expected and not expected[key]:
            del expected[key]
    if scenario.sonata is not None:
        content = _portable(content)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
