"""The font for Chinese figure labels: a subset of Noto Sans CJK SC, shipped as package data.

matplotlib's default font (DejaVu Sans) has no CJK glyphs: Chinese labels would come out
as empty boxes, and a stock machine has no CJK font. So chainrule ships the few hundred
glyphs its figures draw (``cjk_font/``, made by ``tools/subset_cjk_font.py`` from Debian's
``fonts-noto-cjk``; SIL Open Font License 1.1, ``cjk_font/OFL.txt``) and registers them
with matplotlib's font manager when a Chinese figure is drawn.

``figure_charset()`` is the contract between the figures and the font: every character a
figure can draw from its own words (both phrase tables of ``text.py`` and of the health
report's ``chainrule.health.text``, which draws with this font too; ASCII, and the
symbols the figure code writes itself). The subsetting script keeps exactly those glyphs,
and a test fails when a phrase gains a character the shipped font lacks.

Digits, Latin, Greek and math come from DejaVu Sans as in English figures; Chinese falls
through to the subset, and a character outside both (in a run directory's name, say) to
any CJK font matplotlib already knows. If the shipped files are gone (a
broken install), installed CJK fonts are searched as before; with none the figure is drawn
with English labels and a ``FontWarning`` says what to do.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

from chainrule.explain.text import TEXT
from chainrule.health.text import TEXT as HEALTH_TEXT

#: Where the shipped subset lives, its family name and its files (one per weight).
FONT_DIR = Path(__file__).with_name("cjk_font")
SHIPPED_FAMILY = "Chainrule CJK Subset"
SHIPPED_FILES = ("ChainruleCJKSubset-Regular.otf", "ChainruleCJKSubset-Bold.otf")

ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
#: Characters the figure code writes itself, beside the phrases of text.py: subscript
#: digits (x₀, t₁), the minus sign, σ', arrows, ▷ for the amplifier, ∝ in the legend.
FIGURE_SYMBOLS = "₀₁₂₃₄₅₆₇₈₉−×·σΣΔ→←≤≈∝▷½²√…—✓✗"

#: Installed families tried when the shipped font is missing: Simplified Chinese first.
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei", "PingFang SC",
    "Heiti SC", "Hiragino Sans GB", "Droid Sans Fallback", "AR PL UMing CN",
    "AR PL UKai CN", "Noto Sans CJK JP", "Noto Sans CJK TC",
)
#: Substrings of font file names that mark a CJK font.
_FILE_HINTS = ("notosanscjk", "noto-cjk", "notosanssc", "sourcehansans", "wqy", "msyh",
               "simhei", "pingfang", "droidsansfallback", "uming", "ukai")


class FontWarning(UserWarning):
    """No CJK font was found: the figure uses English labels instead of Chinese."""


def figure_charset() -> str:
    """Every character a figure can draw from its own words, sorted, as one string."""
    chars = set(ASCII) | set(FIGURE_SYMBOLS)
    for table in [*TEXT.values(), *HEALTH_TEXT.values()]:
        for phrase in table.values():
            chars.update(phrase)
    chars.discard("\n")
    return "".join(sorted(chars))


def shipped_font_files() -> list[Path]:
    """The shipped font files that are present (all of them in a sound install)."""
    return [FONT_DIR / name for name in SHIPPED_FILES if (FONT_DIR / name).is_file()]


@functools.lru_cache(maxsize=1)
def shipped_family() -> str | None:
    """Register the shipped subset with matplotlib (once); its family name, or None."""
    from matplotlib import font_manager

    files = shipped_font_files()
    if not files:
        return None
    for path in files:
        try:
            font_manager.fontManager.addfont(str(path))
        except Exception:  # a damaged file: fall back to installed fonts, never crash
            return None
    return SHIPPED_FAMILY


def _known_cjk_families() -> list[str]:
    """Installed CJK families matplotlib already knows (no directory scan)."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return [family for family in CJK_FAMILIES if family in names]


@functools.lru_cache(maxsize=1)
def cjk_family() -> str | None:
    """The name of an installed font family with Chinese glyphs, or None."""
    from matplotlib import font_manager

    found = _known_cjk_families()
    if found:
        return found[0]
    # Fonts installed after matplotlib cached its font list are not in it yet.
    try:
        paths = font_manager.findSystemFonts()
    except Exception:  # a broken font directory must not break the figure
        return None
    for path in paths:
        if any(hint in path.lower().replace(" ", "") for hint in _FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
            except Exception:  # an unreadable file: try the next one
                continue
    found = _known_cjk_families()
    return found[0] if found else None


def figure_lang(lang: str) -> tuple[str, list[str] | None]:
    """(language to draw in, font families for ``font.family``, or None for the default).

    Chinese characters come from the shipped subset (or, failing that, an installed CJK
    font). Warns and returns "en" when no CJK font can be had at all.
    """
    if lang != "zh":
        return lang, None
    first = shipped_family() or cjk_family()
    if first is None:
        warnings.warn(
            "no font with Chinese glyphs found, so the figure uses English labels. help: "
            f"reinstall chainrule (its font is package data in {FONT_DIR}), or install a "
            "CJK font (e.g. apt-get install fonts-noto-cjk)",
            FontWarning,
            stacklevel=3,
        )
        return "en", None
    # DejaVu Sans first, as in English figures: the same digits, Greek and math in both
    # languages (CJK fonts draw "·" full width); each Chinese character falls through to
    # the CJK font. "sans-serif" last: an SVG viewer without these fonts picks a sans face.
    families = ["DejaVu Sans", first, *_known_cjk_families(), "sans-serif"]
    return "zh", list(dict.fromkeys(families))
