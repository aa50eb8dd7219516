"""Readable scenario errors: the file, the key path, and what was expected."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

# Parts of pydantic's error locations that name a union branch rather than a key.
_BRANCH_WORDS = {"float", "int", "str", "bool", "none", "list", "dict", "tuple", "nullable"}
_BRANCH_TAGS = {
    "IF_cond_exp", "IF_curr_exp", "IF_curr_alpha", "IF_cond_alpha", "IF_curr_delta", "EIF_cond_exp_isfa_ista",
    "Izhikevich", "HH_cond_exp", "GLIF_curr_alpha", "SpikeSourcePoisson", "SpikeSourceArray",
    "uniform", "normal", "normal_clipped",
    "fixed_probability", "fixed_in_degree", "fixed_total_number", "one_to_one", "all_to_all", "from_list", "sonata_edges",
}


class ScenarioError(ValueError):
    """A scenario that cannot be used; `problems` lists (key path, message)."""

    def __init__(self, file: str | Path, problems: list[tuple[str, str]]):
        self.file = str(file)
        self.problems = problems
        super().__init__("\n".join(f"{self.file}: {path}: {msg}" if path else f"{self.file}: {msg}" for path, msg in problems))


def _is_branch(part: object) -> bool:
    return isinstance(part, str) and ("[" in part or part in _BRANCH_WORDS or part in _BRANCH_TAGS)


def format_path(loc: tuple) -> str:
    path = ""
    for part in loc:
        if _is_branch(part):
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _message(err: dict) -> str:
    kind, ctx, msg = err["type"], err.get("ctx") or {}, err["msg"]
    if kind == "union_tag_invalid":
        return f"unknown {ctx.get('discriminator', 'type').strip(chr(39))} {ctx.get('tag')!r}; expected one of: {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f"missing key {ctx.get('discriminator', '').strip(chr(39))!r} (which kind of table this is)"
    if kind == "missing":
        return "missing required key"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    for bound in ("greater than", "less than"):
        msg = msg.replace(f"Input should be {bound}", f"expected a value {bound}")
    msg = msg.replace("Input should be", "expected")
    if kind == "finite_number":
        msg = "expected a finite number (not nan or inf)"
    if kind not in ("scenario", "unknown_key", "value_error") and "input" in err:
        value = err["input"]
        msg += ", got a table" if isinstance(value, dict) else ", got a list" if isinstance(value, list) else f", got {value!r}"
    return msg


# A value that fails every branch of a union yields one error per branch. These say only that
# the value was not of some branch's type; a more specific error of another branch (a unit, an
# order, a finite number, a key inside the table) at the same key or below it is the one to show.
_TYPE_MISMATCH = {
    "float_type", "float_parsing", "int_type", "int_parsing", "int_from_float", "string_type", "bool_type",
    "bool_parsing", "dict_type", "model_type", "model_attributes_type", "list_type", "tuple_type",
}


def _below(path: str, other: str) -> bool:
    return other == path or not path or other.startswith(path + ".") or other.startswith(path + "[")


def from_validation_error(file: str | Path, exc: ValidationError) -> ScenarioError:
    found: list[tuple[str, str, str]] = []  # (path, pydantic error type, message)
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        path = format_path(err["loc"])
        if err["type"] == "scenario":
            local = ctx.get("path", "")
            path = f"{path}.{local}" if path and local else (local or path)
        elif err["type"] == "unknown_key":
            path = f"{path}.{ctx['key']}" if path else str(ctx["key"])
        elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            tag = str(ctx.get("discriminator", "")).strip("'")
            path = f"{path}.{tag}" if path and tag else (tag or path)
        found.append((path, err["type"], _message(err)))
    specific = [path for path, kind, _ in found if kind not in _TYPE_MISMATCH]
    problems: dict[str, str] = {}
    for path, kind, message in found:
        if kind in _TYPE_MISMATCH and any(_below(path, other) for other in specific):
            continue
        problems.setdefault(path, message)  # the first error of a key is its most specific
    return ScenarioError(file, list(problems.items()))
