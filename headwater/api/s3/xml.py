"""S3's XML: responses rendered with escaping, request bodies parsed with defusedxml (no entity tricks).

A response is a tree of `(tag, value)` pairs: a value is text (escaped), None (an empty element)
or a list of further pairs. Request bodies (DeleteObjects, CompleteMultipartUpload) are small and
bounded by `MAX_BODY` before they are parsed.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Sequence
from typing import TypeAlias
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from headwater.errors import InvalidInput, PayloadTooLarge

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
#: The largest XML request body taken (a DeleteObjects of 1,000 long keys fits).
MAX_BODY = 2 * 1024 * 1024

Node: TypeAlias = "tuple[str, str | Sequence[Node] | None]"


class BadDigest(InvalidInput):
    """A body whose `Content-MD5` does not match it (S3's `BadDigest`)."""


def _render(node: Node, out: list[str]) -> None:
    tag, value = node
    if value is None:
        out.append(f"<{tag}/>")
    elif isinstance(value, str):
        out.append(f"<{tag}>{escape(value)}</{tag}>")
    else:
        out.append(f"<{tag}>")
        for child in value:
            _render(child, out)
        out.append(f"</{tag}>")


DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def document(root: str, children: Sequence[Node], namespace: bool = True, declaration: bool = True) -> bytes:
    """One XML document: `<root xmlns=...>children</root>`, UTF-8 (without the declaration when sent apart)."""
    out = [DECLARATION.decode() if declaration else "", f'<{root} xmlns="{NAMESPACE}">' if namespace else f"<{root}>"]
    for child in children:
        _render(child, out)
    out.append(f"</{root}>")
    return "".join(out).encode("utf-8")


async def read_body(chunks: AsyncIterator[bytes], content_md5: str | None = None) -> bytes:
    """A small XML request body, refused past `MAX_BODY` bytes; its `Content-MD5`, if sent, checked."""
    data = bytearray()
    async for chunk in chunks:
        data += chunk
        if len(data) > MAX_BODY:
            raise PayloadTooLarge(f"an XML request body may be at most {MAX_BODY} bytes")
    if content_md5 is not None:
        digest = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        if digest != content_md5.strip():
            raise BadDigest("the Content-MD5 you specified did not match what was received")
    return bytes(data)


def _strip(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse(body: bytes, root: str) -> Element:
    """The request document, checked to have `root` as its root element (namespaces ignored)."""
    if not body.strip():
        raise InvalidInput(f"the request needs an XML body with a {root} element")
    try:
        element = ElementTree.fromstring(body)
    except (DefusedXmlException, ElementTree.ParseError, ValueError) as exc:
        raise InvalidInput(f"the XML body is not well-formed: {type(exc).__name__}") from None
    if _strip(element.tag) != root:
        raise InvalidInput(f"the XML body's root element must be {root}, not {_strip(element.tag)}")
    return element


def children(element: Element, tag: str) -> list[Element]:
    return [child for child in element if _strip(child.tag) == tag]


def text(element: Element, tag: str) -> str | None:
    """The text of the first child `tag` (namespaces ignored), or None."""
    for child in element:
        if _strip(child.tag) == tag:
            return child.text or ""
    return None
