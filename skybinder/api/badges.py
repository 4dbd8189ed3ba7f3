"""Badges (`/badge.svg`, `/badge_logo.svg`, `/assets/images/badge.svg`) and favicons.

Drawn here rather than shipped as files so that the badges, the favicons and the pages share
one mark. The text is fixed (no request input reaches an SVG), and widths come from Verdana's
advance widths so the badge looks like the shields-style badges next to it in a README.
"""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter()
LABEL, MESSAGE = "launch", "binder"
LABEL_COLOR, MESSAGE_COLOR = "#555", "#2a6bb4"
HEIGHT, PAD, LOGO = 20, 6, 14
# Verdana 11px advance widths of the characters badges use; others count as "m".
_WIDTHS = dict(
    zip(
        "abcdefghijklmnopqrstuvwxyz ",
        (
            6.8,
            6.9,
            5.9,
            6.9,
            6.7,
            3.9,
            6.9,
            7.0,
            3.0,
            3.8,
            6.5,
            3.0,
            10.7,
            7.0,
            6.7,
            6.9,
            6.9,
            4.7,
            5.7,
            4.3,
            7.0,
            6.5,
            8.9,
            6.5,
            6.5,
            5.8,
            3.9,
        ),
        strict=True,
    )
)
# The mark: a cloud, in a 14x14 box.
CLOUD = "M3.6 12h7.1a2.9 2.9 0 0 0 .3-5.8 3.9 3.9 0 0 0-7.4-.2A2.9 2.9 0 0 0 3.6 12z"
STATUS_COLORS = {"building": "#d68a00", "success": "#1f883d", "fail": "#cf222e"}
SVG_HEADERS = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}


def text_width(text: str) -> float:
    return round(sum(_WIDTHS.get(char, _WIDTHS["m"]) for char in text.lower()), 1)


@cache
def badge_svg(with_logo: bool) -> str:
    """The "launch | binder" badge, with the mark before "launch" when `with_logo`."""
    logo = LOGO + 3 if with_logo else 0
    label_w = round(PAD + logo + text_width(LABEL) + PAD)
    message_w = round(PAD + text_width(MESSAGE) + PAD)
    width = label_w + message_w
    mark = (
        f'<path transform="translate({PAD - 1} 3)" fill="#fff" d="{CLOUD}"/>' if with_logo else ""
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
        f'role="img" aria-label="{LABEL}: {MESSAGE}"><title>{LABEL}: {MESSAGE}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="{HEIGHT}" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{label_w}" height="{HEIGHT}" fill="{LABEL_COLOR}"/>'
        f'<rect x="{label_w}" width="{message_w}" height="{HEIGHT}" fill="{MESSAGE_COLOR}"/>'
        f'<rect width="{width}" height="{HEIGHT}" fill="url(#s)"/></g>{mark}'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'font-size="11">'
        f"{_text(PAD + logo + text_width(LABEL) / 2, LABEL)}"
        f"{_text(label_w + message_w / 2, MESSAGE)}</g></svg>"
    )


def _text(x: float, text: str) -> str:
    length = text_width(text)
    shadow = f'<text x="{x:.1f}" y="15" fill="#010101" fill-opacity=".3" textLength="{length}">'
    return f'{shadow}{text}</text><text x="{x:.1f}" y="14" textLength="{length}">{text}</text>'


@cache
def mark_svg(status: str = "") -> str:
    """The favicon: the mark on a rounded square, with a dot in the colour of `status`."""
    dot = ""
    if status:
        color = STATUS_COLORS[status]
        dot = f'<circle cx="25" cy="25" r="6.5" fill="{color}" stroke="#fff" stroke-width="2"/>'
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">'
        f'<rect width="32" height="32" rx="7" fill="{MESSAGE_COLOR}"/>'
        f'<path transform="translate(3.5 3) scale(1.8)" fill="#fff" d="{CLOUD}"/>{dot}</svg>'
    )


def _svg(text: str) -> Response:
    return Response(text, media_type="image/svg+xml", headers=SVG_HEADERS)


@router.get("/badge.svg", include_in_schema=False)
@router.get("/assets/images/badge.svg", include_in_schema=False)
def badge() -> Response:
    return _svg(badge_svg(False))


@router.get("/badge_logo.svg", include_in_schema=False)
def badge_logo() -> Response:
    return _svg(badge_svg(True))


@router.get("/favicon.svg", include_in_schema=False)
@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    return _svg(mark_svg())


@router.get("/favicon_{status}.svg", include_in_schema=False)
def status_favicon(status: str) -> Response:
    if status not in STATUS_COLORS:
        return Response("No such icon.", status_code=404, media_type="text/plain")
    return _svg(mark_svg(status))
