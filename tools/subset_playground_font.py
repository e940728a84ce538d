"""Rebuild the playground page's Chinese web font: the Noto Sans CJK SC glyphs of every
Chinese character the page can show, so the page reads in Chinese offline, in a browser
with no CJK font installed (a headless Chromium on a server, say).

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb /tmp/noto
    python tools/subset_playground_font.py --source-dir /tmp/noto/usr/share/fonts/opentype/noto

Run it again whenever a phrase of the page (chainrule.playground.text, which includes the
explain view's) or a static file gains a character: tests/playground/test_font.py fails
until then. The glyphs are copied by tools/subset_cjk_font.py's ``build`` (one regular
weight: the browser makes bold from it); other characters come from the browser's own
fonts, as the page's CSS says.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tools"))

from subset_cjk_font import SOURCE_DIR, FontError, build  # noqa: E402

from chainrule.playground.text import FONT_FILE, page_cjk_charset  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source-dir", type=Path, default=SOURCE_DIR,
                   help=f"where NotoSansCJK-Regular.ttc is (default {SOURCE_DIR})")
    args = p.parse_args(argv)
    try:
        n, size = build("Regular", args.source_dir / "NotoSansCJK-Regular.ttc", FONT_FILE,
                        page_cjk_charset())
    except FontError as e:
        print(f"subset_playground_font: error: {e}", file=sys.stderr)
        return 2
    print(f"{FONT_FILE}: {n} glyphs, {size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
