"""The page's Chinese web font holds every Chinese character the page can show."""

from fontTools.ttLib import TTFont

from chainrule.playground.text import CJK_START, FONT_FILE, page_cjk_charset, strings


def test_the_font_covers_every_chinese_character_of_the_page():
    chars = page_cjk_charset()
    assert "运" in chars and "反" in chars and "，" in chars  # the page's and explain's
    cmap = TTFont(FONT_FILE)["cmap"].getBestCmap()
    missing = [c for c in chars if ord(c) not in cmap]
    assert not missing, f"run tools/subset_playground_font.py: {FONT_FILE.name} lacks {missing}"


def test_the_charset_is_only_chinese():
    assert all(ord(c) >= CJK_START for c in page_cjk_charset())
    assert "σ" in "".join(strings()["zh"].values())  # Greek comes from the browser's fonts
