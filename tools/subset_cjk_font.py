"""Rebuild the Chinese figure font: a subset of Noto Sans CJK SC with only the glyphs used.

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb /tmp/noto
    python tools/subset_cjk_font.py --source-dir /tmp/noto/usr/share/fonts/opentype/noto

(or, with the package installed, no --source-dir: /usr/share/fonts/opentype/noto.) Run it
again whenever a figure phrase gains a character: tests/explain/test_render.py fails until
then. The characters are ``chainrule.explain.fonts.figure_charset()``; the output goes to
src/chainrule/explain/cjk_font/, one OpenType (CFF) file per weight, a few tens of KB each
instead of the 20 MB collection.

Every glyph is copied outline for outline from the Simplified Chinese face of
NotoSansCJK-{Regular,Bold}.ttc (Debian fonts-noto-cjk 1:20220127+repack1-1, font version
2.004). The source has no subscript digits and no ballot X, so two kinds are made from its
own glyphs: the subscripts ₀-₉ are its digits scaled to 60 % and lowered, and ✗ is its ×
enlarged. The family is renamed (SHIPPED_FAMILY) so it never shadows an installed Noto
Sans CJK SC with the full glyph set. The output is byte-for-byte reproducible: the
timestamps are the source font's.

Needs only fontTools (a matplotlib dependency, so already installed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from fontTools.fontBuilder import FontBuilder  # noqa: E402
from fontTools.pens.boundsPen import BoundsPen  # noqa: E402
from fontTools.pens.t2CharStringPen import T2CharStringPen  # noqa: E402
from fontTools.pens.transformPen import TransformPen  # noqa: E402
from fontTools.ttLib import TTCollection  # noqa: E402

from chainrule.explain.fonts import (  # noqa: E402
    FONT_DIR,
    SHIPPED_FAMILY,
    SHIPPED_FILES,
    figure_charset,
)

SOURCE_DIR = Path("/usr/share/fonts/opentype/noto")
SOURCE_FAMILY = "Noto Sans CJK SC"
WEIGHTS = {"Regular": 400, "Bold": 700}

#: Characters the source lacks, drawn from one it has: (source char, scale, dx, dy) with
#: dx, dy in em; the glyph is scaled about its own origin, then moved.
SYNTHESIZED = {chr(0x2080 + d): (str(d), 0.6, 0.0, -0.13) for d in range(10)}
SYNTHESIZED["✗"] = ("×", 1.3, -0.08, -0.09)


class FontError(Exception):
    """The source font cannot give what the figures need."""


def source_face(path: Path):
    """The Simplified Chinese face of a Noto Sans CJK collection."""
    if not path.is_file():
        raise FontError(f"{path}: no such file. help: apt-get download fonts-noto-cjk, "
                        "extract it with dpkg-deb -x, and pass --source-dir")
    for font in TTCollection(str(path)).fonts:
        if font["name"].getDebugName(1) == SOURCE_FAMILY:
            return font
    raise FontError(f"{path}: no {SOURCE_FAMILY!r} face in this collection")


def glyph_name(ch: str) -> str:
    return f"uni{ord(ch):04X}" if ord(ch) <= 0xFFFF else f"u{ord(ch):05X}"


def build(weight: str, source: Path, out: Path, chars: str) -> tuple[int, int]:
    """Write the subset of one weight to ``out``; (glyphs, bytes)."""
    src = source_face(source)
    upm = src["head"].unitsPerEm
    cmap, glyphs, hmtx = src.getBestCmap(), src.getGlyphSet(), src["hmtx"]

    order, charstrings, metrics, mapping = [".notdef"], {}, {}, {}

    def add(name: str, source_glyph: str, scale=1.0, dx=0.0, dy=0.0):
        width = round(hmtx[source_glyph][0] * scale)
        transform = (scale, 0, 0, scale, dx * upm, dy * upm)
        pen = T2CharStringPen(width, glyphs)
        glyphs[source_glyph].draw(TransformPen(pen, transform))
        bounds = BoundsPen(glyphs)
        glyphs[source_glyph].draw(TransformPen(bounds, transform))
        charstrings[name] = pen.getCharString()
        metrics[name] = (width, round(bounds.bounds[0]) if bounds.bounds else 0)

    add(".notdef", ".notdef")
    missing = []
    for ch in chars:
        name = glyph_name(ch)
        if ord(ch) in cmap:
            add(name, cmap[ord(ch)])
        elif ch in SYNTHESIZED and ord(SYNTHESIZED[ch][0]) in cmap:
            base, scale, dx, dy = SYNTHESIZED[ch]
            add(name, cmap[ord(base)], scale, dx, dy)
        else:
            missing.append(ch)
            continue
        order.append(name)
        mapping[ord(ch)] = name
    if missing:
        raise FontError(f"{source}: no glyph for {' '.join(missing)!r} "
                        f"({', '.join(f'U+{ord(c):04X}' for c in missing)}). help: add a "
                        "rule for them to SYNTHESIZED in tools/subset_cjk_font.py")

    ps = f"{SHIPPED_FAMILY.replace(' ', '')}-{weight}"
    version = src["head"].fontRevision
    fb = FontBuilder(upm, isTTF=False)
    fb.setupGlyphOrder(order)
    fb.setupCharacterMap(mapping)
    fb.setupCFF(ps, {"FullName": f"{SHIPPED_FAMILY} {weight}", "FamilyName": SHIPPED_FAMILY,
                     "Weight": weight}, charstrings, {})
    fb.setupHorizontalMetrics(metrics)
    hhea, os2 = src["hhea"], src["OS/2"]
    fb.setupHorizontalHeader(ascent=hhea.ascent, descent=hhea.descent, lineGap=hhea.lineGap)
    source_name = src["name"].getDebugName
    fb.setupNameTable({
        "copyright": source_name(0),
        "familyName": SHIPPED_FAMILY,
        "styleName": weight,
        "uniqueFontIdentifier": f"{version:.3f};{ps};subset of {source_name(6)}",
        "fullName": f"{SHIPPED_FAMILY} {weight}",
        "version": f"Version {version:.3f}; chainrule subset",
        "psName": ps,
        "trademark": source_name(7),
        "description": f"A subset of {SOURCE_FAMILY} {weight} {version:.3f} with the "
        f"{len(order) - 1} characters chainrule's figures draw, made by "
        "tools/subset_cjk_font.py. Subscript digits and U+2717 are made from the font's "
        "own digits and U+00D7.",
        "licenseDescription": source_name(13),
        "licenseInfoURL": source_name(14),
    }, mac=False)
    fb.setupOS2(
        usWeightClass=WEIGHTS[weight], fsType=0, achVendID="NONE",
        fsSelection=0x20 if weight == "Bold" else 0x40,
        sTypoAscender=os2.sTypoAscender, sTypoDescender=os2.sTypoDescender,
        sTypoLineGap=os2.sTypoLineGap, usWinAscent=os2.usWinAscent,
        usWinDescent=os2.usWinDescent, sxHeight=os2.sxHeight, sCapHeight=os2.sCapHeight,
    )
    fb.font["OS/2"].recalcUnicodeRanges(fb.font)
    fb.setupPost()
    head = fb.font["head"]
    head.fontRevision = version
    head.created, head.modified = src["head"].created, src["head"].modified
    head.macStyle = 1 if weight == "Bold" else 0
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    fb.font.save(str(tmp), reorderTables=True)
    tmp.replace(out)  # whole or not at all
    return len(order), out.stat().st_size


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source-dir", type=Path, default=SOURCE_DIR,
                   help=f"where NotoSansCJK-Regular.ttc and -Bold.ttc are (default {SOURCE_DIR})")
    p.add_argument("--out-dir", type=Path, default=FONT_DIR,
                   help="where to write the subset (default: the package's cjk_font/)")
    args = p.parse_args(argv)
    chars = figure_charset()
    try:
        for weight, filename in zip(WEIGHTS, SHIPPED_FILES):
            n, size = build(weight, args.source_dir / f"NotoSansCJK-{weight}.ttc",
                            args.out_dir / filename, chars)
            print(f"{args.out_dir / filename}: {n} glyphs, {size:,} bytes")
    except FontError as e:
        print(f"subset_cjk_font: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
