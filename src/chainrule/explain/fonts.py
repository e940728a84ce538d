"""Finding a font with Chinese glyphs for matplotlib, and falling back when there is none.

matplotlib's default font (DejaVu Sans) has no CJK glyphs: Chinese labels would come out
as empty boxes. We look for a CJK family that matplotlib knows, then for CJK font files
installed after matplotlib built its font cache (and register them). With none found the
figure is drawn with English labels and a ``FontWarning`` says how to get Chinese
(e.g. ``apt-get install fonts-noto-cjk`` or ``fonts-wqy-microhei``). No font is shipped.
"""

from __future__ import annotations

import functools
import warnings

#: Families tried in order: Simplified Chinese first, then anything with the glyphs.
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


@functools.lru_cache(maxsize=1)
def cjk_family() -> str | None:
    """The name of a font family with Chinese glyphs that matplotlib can use, or None."""
    from matplotlib import font_manager

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((family for family in CJK_FAMILIES if family in names), None)

    found = known()
    if found:
        return found
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
    return known()


def figure_lang(lang: str) -> tuple[str, str | None]:
    """(language to draw in, CJK family or None). Warns and returns "en" without one."""
    if lang != "zh":
        return lang, None
    family = cjk_family()
    if family is None:
        warnings.warn(
            "no font with Chinese glyphs found, so the figure uses English labels. help: "
            "install one (e.g. apt-get install fonts-noto-cjk, or fonts-wqy-microhei)",
            FontWarning,
            stacklevel=3,
        )
        return "en", None
    return "zh", family
