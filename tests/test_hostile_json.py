"""Hostile JSON text: numbers too long for a parser, nesting too deep, repeated top-level keys.

Two layers. The scanner every JSON byte goes through (``segtool.formats.jsonguard``) is
checked against an independent reference (a regex tokenizer and the json module) on
generated documents cut into chunks of every awkward size. Then every command that reads
JSON runs, in child processes (a crash shows as a signal), on datasets carrying each
hostile text in each place a dataset has JSON: the COCO file's records and ``info``, a
results list, ``categories.json`` and ``images.json``.

Classes: "crashes" (a 4,301-digit integer crashed ijson's C backend: SIGSEGV), "exit3"
(10^4 levels: RecursionError), "hangs" (10^5 levels took 21 GB), "parity" (a repeated
top-level key read one way by the stream, another by the json module).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from segtool import limits
from segtool.errors import SegtoolError
from segtool.formats import jsonguard, jsonstream
from segtool.formats.common import load_json
from tests.hostile import build
from tests.hostile.batch import Spec, matrix, run_specs, selected
from tests.hostile.build import RAW, Built
from tests.hostile.commands import INSTANCE, PANOPTIC, SEMANTIC
from tests.hostile.harness import broken, check

# --- the scanner against a reference ----------------------------------------------------------

TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[-+0-9.eE]+|.', re.S)


def reference(text: str) -> tuple[int, int, str | None]:
    """(deepest nesting, longest number token, first repeated top-level key) of valid JSON,
    found without segtool: a regex tokenizer and the json module's pairs hook."""
    depth = deepest = longest = 0
    for m in TOKEN.finditer(text):
        t = m.group()
        if t in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif t in "]}":
            depth -= 1
        elif t[0] in "-+0123456789.eE":
            longest = max(longest, len(t))
    objects: list[list[tuple[str, Any]]] = []
    json.loads(text, object_pairs_hook=lambda pairs: objects.append(pairs) or dict(pairs))
    repeated = None
    if text.lstrip().startswith("{"):
        keys = [k for k, _ in objects[-1]]  # the top-level object closes last
        repeated = next((k for i, k in enumerate(keys) if k in keys[:i]), None)
    return deepest, longest, repeated


def document(rng: random.Random) -> str:
    """A random valid JSON text: strings full of the bytes that matter (quotes, backslash
    runs, brackets, digits, escapes), numbers up to 90 characters, keys that repeat, some
    only once their escapes are decoded ("aA" and "a\\u0041"), blanks of every length."""

    def string() -> str:
        parts = ["a", "\\\\", '\\"', "[", "]", "{", "}", "1", "9" * rng.randint(1, 80), "e", " ", ":", ",", "\\u0041"]
        return '"' + "".join(rng.choice(parts) for _ in range(rng.randint(0, 8))) + '"'

    def number() -> str:
        return rng.choice(["1", "-2.5e3", "1" * rng.randint(1, 90), "0." + "5" * rng.randint(1, 80), "12E+7"])

    def value(d: int) -> str:
        r = rng.random()
        if d > 70 or r < 0.3:
            return number()
        if r < 0.5:
            return string()
        if r < 0.55:
            return rng.choice(["true", "false", "null"])
        if r < 0.8:
            return "[" + ",".join(value(d + 1) for _ in range(rng.randint(0, 3))) + "]"
        return "{" + ",".join(f"{string()}:{value(d + 1)}" for _ in range(rng.randint(0, 3))) + "}"

    if rng.random() < 0.5:
        blank = " " * rng.choice([0, 1, 70, 200])
        keys = [
            rng.choice(['"images"', '"annotations"', '"a\\u0041"', '"aA"', string()]) for _ in range(rng.randint(0, 5))
        ]
        return "{" + ",".join(f"{blank}{k}{blank}:{blank}{value(1)}" for k in keys) + "}"
    return rng.choice(["", " ", "\n"]) + value(0) + rng.choice(["", " "])


def verdict(data: bytes, chunk: int) -> str | None:
    """What the scanner says of ``data`` fed in pieces of ``chunk`` bytes."""
    scan = jsonguard.Scanner("x.json")
    try:
        for i in range(0, len(data), chunk):
            scan.feed(data[i : i + chunk])
        scan.finish(lambda a, z: data[a : z + 1])
    except limits.LimitError as exc:
        return "depth" if "nested" in str(exc) else "number"
    except SegtoolError:
        return "repeated"
    return None


@pytest.mark.parametrize("seed", range(8))
def test_scanner_agrees_with_the_reference(seed):
    """400 documents per seed, each under low and default limits, in chunks from 1 byte to
    a whole 1 MB (boundaries inside escapes, numbers, keys and blank runs)."""
    rng = random.Random(seed)
    refused = 0
    for _ in range(400):
        text = document(rng)
        deepest, longest, repeated = reference(text)
        depth_limit, number_limit = rng.choice([(3, 5), (5, 20), (64, 64)])
        with limits.raised(json_depth=depth_limit, number_chars=number_limit):
            got = verdict(text.encode(), rng.choice([1, 2, 3, 5, 7, 21, 22, 64, 65, 66, 1 << 20]))
        truth = {"depth": deepest > depth_limit, "number": longest > number_limit, "repeated": repeated is not None}
        assert (got is None) == (not any(truth.values())), (got, truth, text[:200])
        assert got is None or truth[got], (got, truth, text[:200])  # the first rule broken, in text order
        refused += got is not None
    assert 50 < refused < 350  # both outcomes are well represented


def test_digits_and_brackets_inside_strings_are_data():
    """Compressed RLE counts hold long digit runs, brackets and escaped backslashes."""
    counts = "0" * 100_000 + "[[[[" * 100 + "\\\\" * 50 + "]]]]" * 20
    text = json.dumps({"annotations": [{"segmentation": {"counts": counts, "size": [1, 1]}}], "images": []})
    for chunk in (7, 65, 1 << 20):
        assert verdict(text.encode(), chunk) is None


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("[" * 64 + "]" * 64, False),
        ("[" * 65 + "]" * 65, True),
        ('{"a": 0.' + "5" * 62 + "}", False),
        ('{"a": 0.' + "5" * 63 + "}", True),
        ('{"a": -0.' + "5" * 61 + "}", False),
        ('{"a": -0.' + "5" * 62 + "}", True),
        ('{"a": 1e' + "0" * 62 + "}", False),
        ('{"a": 1e' + "0" * 63 + "}", True),
        ("1" * 65, True),
        ('{"images": [], "images": []}', True),
        ('{"images": [], "\\u0069mages": []}', True),
        ('{"images": [], "x": {"images": []}}', False),
        ('[{"a": 1, "a": 2}]', False),
    ],
)
def test_limits_are_exact(tmp_path, text, refused):
    """At the limit is accepted, past it refused, the same way by the stream and the json module."""
    path = tmp_path / "x.json"
    path.write_text(text)
    outcomes = []
    for read in (load_json, lambda p: list(jsonstream.items(p, "item"))):
        try:
            read(path)
            outcomes.append("ok")
        except SegtoolError as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1], outcomes
    assert (outcomes[0] != "ok") == refused
    if refused:
        assert outcomes[0].startswith(str(path)) and "\n" not in outcomes[0]


def test_what_a_stream_cannot_read_is_said_in_words(tmp_path):
    """yajl refuses integers past 64 bits, 1e999 and NaN, which the json module reads: one
    line that says which, not "invalid JSON" alone (ids are checked as 64-bit anyway)."""
    path = tmp_path / "x.json"
    for token, words in (("1" + "0" * 30, "past 64 bits"), ("1e999", "range of a double"), ("NaN", "NaN")):
        path.write_text('{"images": [' + token + "]}")
        with pytest.raises(SegtoolError, match=words):
            list(jsonstream.items(path, "images.item"))


def test_limits_can_be_raised(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("[" * 100 + "1" * 100 + "]" * 100)
    with pytest.raises(limits.LimitError, match="json_depth"):
        load_json(path)
    with limits.raised(json_depth=100, number_chars=100):
        assert load_json(path) is not None


def test_a_file_is_scanned_again_when_it_changes(tmp_path):
    """The scan is remembered per version of a file: rewriting it is seen."""
    path = tmp_path / "x.json"
    path.write_text('{"images": [1]}')
    assert list(jsonstream.items(path, "images.item")) == [1]
    path.write_text('{"images": [' + "9" * 4301 + "]}")
    with pytest.raises(limits.LimitError, match="number_chars"):
        list(jsonstream.items(path, "images.item"))


def test_utf16_is_scanned_as_text(tmp_path):
    """The json module reads UTF-16: the scan sees its characters, not its bytes."""
    path = tmp_path / "x.json"
    path.write_text("[" + "1" * 70 + "]", encoding="utf-16")
    with pytest.raises(limits.LimitError, match="number_chars"):
        load_json(path)


# --- every command, in child processes --------------------------------------------------------

BIG = "9" * 4301  # one digit past CPython's int/str conversion limit: yajl crashed on it
NUMBERS = {"int": BIG, "neg": "-" + BIG, "frac": "0." + BIG, "exp": "1e" + BIG, "huge": "7" * 100_000}
DEEP = {"1e4": "[" * 10_000 + "]" * 10_000, "1e5": "[" * 100_000 + "]" * 100_000}
COMMANDS = ("info", "validate", "validate-fix", "convert-panoptic", "convert-instance", "convert-semantic", "eval")


def _set(data: Any, path: tuple[Any, ...], value: Any = RAW) -> Any:
    node = data
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return data


def panoptic_at(path: tuple[Any, ...], raw: str) -> Callable[[Path], Built]:
    return lambda root: build.panoptic(root, _set(build.panoptic_data()[0], path), raw=raw)


def instance_at(path: tuple[Any, ...], raw: str) -> Callable[[Path], Built]:
    return lambda root: build.instance(root, _set(build.instance_data(), path), raw=raw)


def results_at(path: tuple[Any, ...], raw: str) -> Callable[[Path], Built]:
    """An intact dataset whose results list carries ``raw``."""

    def make(root: Path) -> Built:
        b = build.instance(root)
        assert b.pred is not None
        build.write_text(b.pred, build.dump(_set(build.results(build.instance_data()), path), raw))
        return b

    return make


def semantic_at(which: str, path: tuple[Any, ...], raw: str) -> Callable[[Path], Built]:
    def make(root: Path) -> Built:
        cats, images, maps = build.semantic_data()
        _set(cats if which == "categories" else images, path)
        return build.semantic(root, cats, images, maps, raw=raw)

    return make


PLACES: dict[str, tuple[str, Callable[[str], Callable[[Path], Built]]]] = {
    "pan-image-id": (PANOPTIC, lambda raw: panoptic_at(("images", 0, "id"), raw)),
    "pan-segment-area": (PANOPTIC, lambda raw: panoptic_at(("annotations", 0, "segments_info", 0, "area"), raw)),
    "pan-info": (PANOPTIC, lambda raw: panoptic_at(("info",), raw)),
    "ins-bbox": (INSTANCE, lambda raw: instance_at(("annotations", 1, "bbox", 0), raw)),
    "ins-info": (INSTANCE, lambda raw: instance_at(("info",), raw)),
    "results-score": (INSTANCE, lambda raw: results_at((0, "score"), raw)),
    "sem-category-id": (SEMANTIC, lambda raw: semantic_at("categories", (1, "id"), raw)),
    "sem-image-height": (SEMANTIC, lambda raw: semantic_at("images", ("images", 0, "height"), raw)),
}


def _commands(fmt: str, place: str) -> tuple[str, ...]:
    return ("eval", "preview-pred") if place.startswith("results") else (*COMMANDS, "preview")


def number_specs() -> list[Spec]:
    """Each place with a 4,301-digit integer; each other number form in two places."""
    specs = []
    for place, (fmt, make) in PLACES.items():
        specs += matrix("crashes", f"json-number-{place}", fmt, make(BIG), _commands(fmt, place))
    for form, token in NUMBERS.items():
        if form != "int":
            for place in ("pan-info", "ins-bbox"):
                fmt, make = PLACES[place]
                specs += matrix(
                    "crashes", f"json-number-{form}-{place}", fmt, make(token), ("info", "validate", "eval")
                )
    return specs


def deep_specs() -> list[Spec]:
    """10^4 and 10^5 levels in each place (a time bound of 20 s and 4 GB of address space)."""
    specs = []
    for key, token in DEEP.items():
        cls = "exit3" if key == "1e4" else "hangs"
        for place, (fmt, make) in PLACES.items():
            names = _commands(fmt, place) if key == "1e4" else _commands(fmt, place)[-3:]
            specs += matrix(cls, f"json-deep{key}-{place}", fmt, make(token), names)
    return specs


def repeated_key_specs() -> list[Spec]:
    """A top-level key given twice (the second time empty; ``info`` twice, after the rest)."""
    specs = []
    for fmt, short in ((PANOPTIC, "pan"), (INSTANCE, "ins")):
        for key in ("images", "annotations", "categories", "info"):

            def make(root: Path, fmt: str = fmt, key: str = key) -> Built:
                b = build.panoptic(root) if fmt == PANOPTIC else build.instance(root)
                text = b.src.read_text()
                again = ', "info": {}, "info": {}' if key == "info" else f', "{key}": []'
                build.write_text(b.src, text[:-1] + again + "}")
                return b

            specs += matrix("parity", f"json-repeated-{short}-{key}", fmt, make, (*COMMANDS, "preview"))
    return specs


SPECS = {s.id: s for s in [*number_specs(), *deep_specs(), *repeated_key_specs()]}


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    return run_specs([SPECS[i] for i in selected(request) if i in SPECS], tmp_path_factory.mktemp("json"))


@pytest.mark.parametrize("spec_id", list(SPECS))
def test_hostile_json_text(request, outcomes, spec_id):
    """Exit 2 with one line naming the file and the limit (or the key), nothing written."""
    spec, ran = SPECS[spec_id], outcomes[spec_id]
    check(request, spec.cls, spec.case, spec.command, ran.out, broken(ran.out, ran.cmd, ran.root))
    assert ran.out.exit == 2, ran.out.stderr[-300:]
    line = ran.out.stderr.strip()
    if "repeated" in spec.case:
        key = spec.case.rsplit("-", 1)[1]
        assert f"top-level key '{key}' appears twice" in line
    else:
        assert re.search(r"(json_depth|number_chars)=N", line), line
    assert ".json: " in line  # names the file
