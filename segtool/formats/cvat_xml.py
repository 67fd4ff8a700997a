"""A CVAT for images 1.1 XML file read in one streaming pass, safely.

The file is read by expat (the parser under ElementTree's ``iterparse``) straight, because
expat says where each ``<image>`` element starts and ends in the file: the pass keeps only
the ``<meta>`` (labels, subsets) and, per image, its attributes and byte range, so memory
does not grow with the shapes; an image's shapes are parsed again from its bytes when its
sample is loaded (:func:`fragment`). A DOCTYPE or an entity declaration is refused before
anything is expanded (no "billion laughs", no external entities): CVAT never writes one.

A file that is not CVAT for images (another XML, a VOC annotation, a truncated file, CVAT
for video's ``<track>`` elements) is one line naming the file.
"""

from __future__ import annotations

import pyexpat
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FormatError, SegtoolError
from ..policy import Policy
from .common import SIDE, file_name, limit

ROOT = "annotations"
VIDEO = "CVAT for video 1.1 (tracks) is not read: export the task as CVAT for images 1.1"
SHAPES = ("polygon", "box", "mask", "polyline", "points", "ellipse", "cuboid", "skeleton", "tag")
CHUNK = 1 << 16
WIDE = (b"\xff\xfe", b"\xfe\xff", b"\x00<", b"<\x00", b"\x00\x00")  # how UTF-16/32 XML starts


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """A label's attribute as ``<meta>`` declares it (kept to write it back)."""

    name: str
    input_type: str = "text"
    default_value: str = ""
    values: str = ""
    mutable: str = ""


@dataclass(frozen=True, slots=True)
class Label:
    """A label of ``<meta><labels>``: its name and attributes."""

    name: str
    attributes: tuple[AttributeSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class ImageEntry:
    """One ``<image>``: its attributes and where its bytes lie in the file (``start`` ==
    ``end``: an element without children, so without shapes)."""

    index: int
    id: int | str
    name: str
    width: int
    height: int
    subset: str
    start: int
    end: int


@dataclass
class CvatFile:
    """What the streaming pass found: the kind of export (``task``, ``project``, ``job``),
    its labels and subsets, the document's encoding and the images."""

    path: Path
    kind: str = ""
    labels: list[Label] = field(default_factory=list)
    subsets: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    images: list[ImageEntry] = field(default_factory=list)
    version: str = ""


def xml_file(path: Path) -> Path:
    """The annotations XML of ``path``: the file itself, or a folder's ``annotations.xml``
    (CVAT's export layout), or a folder's only ``.xml`` file."""
    if path.is_dir():
        if (path / "annotations.xml").is_file():
            return path / "annotations.xml"
        found = sorted(p for p in path.glob("*.xml") if p.is_file())
        if len(found) == 1:
            return found[0]
        raise FormatError("no annotations.xml (and not exactly one .xml file) in the folder", str(path))
    return path


def _refuse(what: str) -> Any:
    def handler(*_: Any) -> None:
        raise _Refused(f"{what}: CVAT never writes one, and it could expand to any size (refused)")

    return handler


class _Refused(Exception):
    """A declaration the pass refuses (a DOCTYPE, an entity)."""


class _Pass:
    """The handlers of the streaming pass (see the module's doc)."""

    def __init__(self, found: CvatFile, parser: Any, report: Policy) -> None:
        self.found, self.parser, self.report = found, parser, report
        self.depth = 0
        self.meta: ET.TreeBuilder | None = None
        self.meta_tree: ET.Element | None = None
        self.image: dict[str, str] | None = None
        self.image_start = 0
        self.children = 0
        self.text: list[str] = []
        self.offset = 0  # the file's byte index minus expat's (cvat_skip: shapes not fed to expat)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.depth == 1:
            if name != ROOT:
                raise _NotCvat(f"the root element is <{name:.40}>, not <{ROOT}>")
            return
        if self.meta is not None:
            self.meta.start(name, attrs)
        elif self.depth == 2:
            self._top(name, attrs)
        elif self.depth == 3 and self.image is not None:
            self.children += 1

    def _top(self, name: str, attrs: dict[str, str]) -> None:
        if name == "meta":
            self.meta = ET.TreeBuilder()
            self.meta.start(name, attrs)
        elif name == "image":
            self.image, self.image_start, self.children = attrs, self.parser.CurrentByteIndex + self.offset, 0
            self._handlers(self._inner_start, self._inner_end, None)
        elif name == "track":
            raise _NotCvat(VIDEO)
        elif name == "version":
            self.text = []

    def _handlers(self, start: Any, end: Any, chars: Any) -> None:
        p = self.parser
        p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = start, end, chars

    def _inner_start(self, _name: str, _attrs: dict[str, str]) -> None:
        """Inside an ``<image>``: its shapes are only counted, no text handler (the image's
        bytes are parsed again when it is loaded; the whitespace between its shapes went to
        ``text``, a list that grew with the file): ~5-10 us less an image of 30 shapes."""
        self.depth += 1
        self.children += 1

    def _inner_end(self, name: str) -> None:
        self.depth -= 1
        if self.depth == 1:
            self._handlers(self.start, self.end, self.chars)
            self.depth += 1
            self.end(name)

    def end(self, name: str) -> None:
        self.depth -= 1
        if self.meta is not None:
            self.meta.end(name)
            if self.depth == 1:
                self.meta_tree = self.meta.close()
                self.meta = None
        elif self.depth == 1 and name == "image" and self.image is not None:
            end = self.parser.CurrentByteIndex + self.offset if self.children else self.image_start
            self._image(self.image, end)
            self.image = None
        elif self.depth == 1 and name == "version":
            self.found.version = "".join(self.text).strip()

    def chars(self, data: str) -> None:
        if self.meta is not None:
            self.meta.data(data)
        elif self.depth == 2:
            self.text.append(data)

    def _image(self, attrs: dict[str, str], end: int) -> None:
        index = len(self.found.images)
        where = f"image {attrs.get('id', index)!s:.40}"
        path = str(self.found.path)
        width, height = _side(attrs.get("width")), _side(attrs.get("height"))
        if width is None or height is None:
            got = f"{attrs.get('width')!s:.20}x{attrs.get('height')!s:.20}"
            self.report("malformed-record", f"{where}: width and height must be positive integers, got {got}", path)
            return
        if width * height > limit("pixels"):
            msg = f"{where}: a {width}x{height} image is over the pixels limit of {limit('pixels'):,}"
            self.report("malformed-record", msg + " (raise it with --limit pixels=N)", path)
            return
        try:
            name = file_name(attrs.get("name") or f"frame_{index:06d}.jpg", where, self.found.path)
        except SegtoolError as exc:
            self.report("malformed-record", exc.message, path)
            return
        raw = attrs.get("id", str(index))
        iid: int | str = int(raw) if raw.isdigit() and len(raw) < 19 else raw
        entry = ImageEntry(index, iid, name, width, height, attrs.get("subset", ""), self.image_start, end)
        self.found.images.append(entry)


class _NotCvat(Exception):
    """The XML is not CVAT for images."""


def _side(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit() or len(value.strip()) > 12:
        return None
    side = int(value)
    return side if SIDE[0] <= side <= SIDE[1] else None


def parser(encoding: str | None = None) -> Any:
    """An expat parser that refuses DOCTYPE and entity declarations (see the module's doc)."""
    p = pyexpat.ParserCreate(encoding)
    p.StartDoctypeDeclHandler = _refuse("a DOCTYPE declaration")
    p.EntityDeclHandler = _refuse("an entity declaration")
    p.ExternalEntityRefHandler = _refuse("an external entity")
    p.buffer_text = True
    return p


def scan(path: Path, report: Policy) -> CvatFile:
    """The streaming pass over the file (see the module's doc); a file that is not CVAT for
    images XML raises a one-line FormatError naming it. The pass that leaves images of
    plain polygons out of expat (:mod:`.cvat_skip`: the same result) runs first; anything
    else, a problem included, and this one runs, which names the problem."""
    from .cvat_skip import skipping_scan

    quick = skipping_scan(path, report)
    return quick if quick is not None else full_scan(path, report)


def full_scan(path: Path, report: Policy) -> CvatFile:
    """The streaming pass, every byte read by expat."""
    found = CvatFile(path)
    p = parser()
    state = _Pass(found, p, report)
    p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = state.start, state.end, state.chars
    p.XmlDeclHandler = lambda _v, enc, _s: setattr(found, "encoding", (enc or "utf-8").lower())
    try:
        with open(path, "rb") as f:
            if f.read(2) in WIDE:
                raise FormatError("a UTF-16 or UTF-32 XML: CVAT writes UTF-8; save it as UTF-8", str(path))
            f.seek(0)
            while chunk := f.read(CHUNK):
                p.Parse(chunk, False)
            p.Parse(b"", True)
    except OSError as exc:
        raise FormatError(f"cannot read: {exc.strerror or exc}", str(path)) from None
    except pyexpat.ExpatError as exc:
        why = pyexpat.ErrorString(exc.code)
        raise FormatError(f"not well-formed XML (line {exc.lineno}, column {exc.offset}: {why})", str(path)) from None
    except _NotCvat as exc:
        raise FormatError(f"not a CVAT for images 1.1 XML: {exc}", str(path)) from None
    except _Refused as exc:
        raise FormatError(str(exc), str(path)) from None
    if state.meta_tree is None:
        raise FormatError("not a CVAT for images 1.1 XML: no <meta> element", str(path))
    _meta(found, state.meta_tree, report)
    return found


def _meta(found: CvatFile, meta: ET.Element, report: Policy) -> None:
    """Labels and subsets from ``<meta>``'s task, project or job."""
    for kind in ("project", "task", "job"):
        owner = meta.find(kind)
        if owner is not None:
            found.kind = kind
            break
    else:
        raise FormatError("not a CVAT for images 1.1 XML: <meta> has no <task>, <project> or <job>", str(found.path))
    seen: set[str] = set()
    for el in owner.iterfind("labels/label"):
        name = el.findtext("name")
        if name is None or name == "" or name in seen:
            report(
                "malformed-record", f"<meta>: a label without a name, or named twice ({name!r:.40})", str(found.path)
            )
            continue
        seen.add(name)
        specs = tuple(
            AttributeSpec(
                a.findtext("name") or "",
                a.findtext("input_type") or "text",
                a.findtext("default_value") or "",
                a.findtext("values") or "",
                a.findtext("mutable") or "",
            )
            for a in el.iterfind("attributes/attribute")
        )
        found.labels.append(Label(name, specs))
    text = owner.findtext("subsets") or ""
    found.subsets = [s.strip() for s in text.splitlines() if s.strip()]


def fragment(path: str, entry: ImageEntry, encoding: str) -> ET.Element:
    """The ``<image>`` element of ``entry``, parsed again from its bytes in the file."""
    if entry.end <= entry.start:
        return ET.Element("image")
    try:
        with open(path, "rb") as f:
            f.seek(entry.start)
            data = f.read(entry.end - entry.start)
    except OSError as exc:
        raise SegtoolError(f"cannot read: {exc.strerror or exc}", path) from None
    if not data.startswith(b"<image"):
        raise SegtoolError(f"image {entry.id}: the file changed while it was read", path)
    builder = ET.XMLParser(encoding=encoding)
    try:
        builder.feed(data + b"</image>")
        return builder.close()
    except ET.ParseError as exc:
        raise SegtoolError(f"image {entry.id}: the file changed while it was read ({exc})", path) from None
