"""The safe linkifier: only http, https and mailto ever become links; the text is never lost."""

from __future__ import annotations

import re

import pytest

from corpchat.services.linkify import segments, strip_bidi


def links(text: str) -> list[tuple[str, str]]:
    return [(s["text"], s["href"]) for s in segments(text) if s["kind"] == "link"]


def joined(text: str) -> str:
    return "".join(s["text"] for s in segments(text))


def assert_safe(text: str) -> None:
    parts = segments(text)
    assert "".join(p["text"] for p in parts) == text  # nothing lost, nothing added
    for p in parts:
        assert p["kind"] in ("text", "link")
        if p["kind"] == "link":
            assert p["href"].startswith(("http://", "https://", "mailto:")), p
        else:
            assert p["href"] == ""


@pytest.mark.parametrize("text, expected", [
    ("http://example.com", [("http://example.com", "http://example.com")]),
    ("see https://example.com/a?b=1&c=2#x here",
     [("https://example.com/a?b=1&c=2#x", "https://example.com/a?b=1&c=2#x")]),
    ("HTTPS://EXAMPLE.COM/Path", [("HTTPS://EXAMPLE.COM/Path", "https://EXAMPLE.COM/Path")]),
    ("MailTo:A@B.C", [("MailTo:A@B.C", "mailto:A@B.C")]),
    ("www.example.org", [("www.example.org", "https://www.example.org")]),
    ("Visit WWW.Example.org today", [("WWW.Example.org", "https://WWW.Example.org")]),
    ("mail mailto:someone@example.com now", [("mailto:someone@example.com", "mailto:someone@example.com")]),
    ("two: http://a.com and https://b.org/x",
     [("http://a.com", "http://a.com"), ("https://b.org/x", "https://b.org/x")]),
    ("кириллица https://пример.рф/путь тоже", [("https://пример.рф/путь", "https://пример.рф/путь")]),
    ("http://localhost:8000/a/b", [("http://localhost:8000/a/b", "http://localhost:8000/a/b")]),
])
def test_links_are_recognised(text, expected):
    assert links(text) == expected
    assert_safe(text)


@pytest.mark.parametrize("text, link, tail", [
    ("Look at https://example.com.", "https://example.com", "."),
    ("Look at https://example.com!", "https://example.com", "!"),
    ("is it https://example.com?", "https://example.com", "?"),
    ("https://example.com/a, then", "https://example.com/a", ","),
    ("https://example.com/a;", "https://example.com/a", ";"),
    ("https://example.com/a...", "https://example.com/a", "..."),
    ("(see https://example.com)", "https://example.com", ")"),
    ("(see https://en.wikipedia.org/wiki/Foo_(bar))", "https://en.wikipedia.org/wiki/Foo_(bar)", ")"),
    ("[https://example.com]", "https://example.com", "]"),
    ("{https://example.com}", "https://example.com", "}"),
    ("www.example.org:", "www.example.org", ":"),
    ("mailto:a@b.c.", "mailto:a@b.c", "."),
])
def test_trailing_punctuation_stays_text(text, link, tail):
    parts = segments(text)
    found = [p for p in parts if p["kind"] == "link"]
    assert [p["text"] for p in found] == [link]
    after = parts[parts.index(found[0]) + 1:]
    assert "".join(p["text"] for p in after).startswith(tail)
    assert_safe(text)


def test_quotes_and_angle_brackets_end_links():
    assert links('"http://a.com" <http://b.com> `http://c.com` \'http://d.com\'') == [
        ("http://a.com", "http://a.com"), ("http://b.com", "http://b.com"),
        ("http://c.com", "http://c.com"), ("http://d.com", "http://d.com")]
    assert links('http://x.com/"onmouseover="alert(1)') == [("http://x.com/", "http://x.com/")]


@pytest.mark.parametrize("text", [
    "http://", "https://", "https://.", "http:///", "www.", "mailto:", "mailto:@x", "mailto:nobody",
    "http:example.com", "ftp://example.com", "file:///etc/passwd", "xhttp://example.com",
    "just text", "", "   ", "setup.py", "readme.md", "a.b", "file.txt",
])
def test_not_links(text):
    assert links(text) == []
    assert joined(text) == text


def _case_variants(word: str) -> list[str]:
    return [word, word.upper(), word.title(), "".join(c.upper() if i % 2 else c for i, c in enumerate(word)),
            "".join(c if i % 2 else c.upper() for i, c in enumerate(word))]


DANGEROUS = [f"{scheme}{rest}"
             for base, rest in (("javascript:", "alert(document.cookie)"),
                                ("data:", "text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="),
                                ("vbscript:", "msgbox(1)"))
             for scheme in _case_variants(base)]
SPLIT = [
    "java\tscript:alert(1)", "java\nscript:alert(1)", "java\rscript:alert(1)", "java script:alert(1)",
    "java\x00script:alert(1)", "jav&#x09;ascript:alert(1)", "javascript&colon;alert(1)",
    " javascript:alert(1)", "\x01javascript:alert(1)", "&#106;avascript:alert(1)", "%6Aavascript:alert(1)",
    "java\u200bscript:alert(1)", "javascript\u00ad:alert(1)", "jAvA\tsCrIpT:alert(1)",
    "data\t:text/html,<script>alert(1)</script>", "vb\nscript:msgbox(1)",
    "javascript://%0aalert(1)", "javascript://example.com/%0Aalert(1)",
    "<a href=\"javascript:alert(1)\">x</a>", "[x](javascript:alert(1))", "www.javascript:alert(1)",
]


@pytest.mark.parametrize("text", DANGEROUS + SPLIT)
def test_dangerous_schemes_never_become_links(text):
    assert_safe(text)
    for variant in (text, f"click {text} now", f"({text})", f"{text}."):
        assert_safe(variant)
        for _, href in links(variant):
            assert not href.lower().lstrip().startswith(("javascript", "data", "vbscript"))


def test_a_link_after_a_dangerous_prefix_is_only_the_safe_part():
    assert links("javascript://http://evil.example") == [("http://evil.example", "http://evil.example")]
    assert joined("javascript://http://evil.example") == "javascript://http://evil.example"
    assert links("javascript:alert(1)//https://x.org") == [("https://x.org", "https://x.org")]


@pytest.mark.parametrize("text", [
    "httpſ://evil.example",   # long s matches 's' case-insensitively
    "mаilto:a@b.c",            # Cyrillic 'а'
    "maılto:a@b.c",            # dotless i
    "ＨＴＴＰ://example.com",   # fullwidth letters
])
def test_lookalike_schemes_are_not_links(text):
    assert links(text) == []
    assert joined(text) == text


def test_mailto_cannot_smuggle_a_script():
    for href in (h for _, h in links("mailto:javascript:alert(1)@x.org and mailto:a@b.c?subject=<x>")):
        assert href.startswith("mailto:")
    assert links("mailto:javascript:alert(1)") == []


@pytest.mark.parametrize("junk", ["\x00", "\x07", "\x1b", "\x7f", "\u202e", "\u2066", "\u200b", "\ufeff"])
def test_control_and_bidi_characters_end_a_link(junk):
    text = f"http://example.com/{junk}evil"
    assert links(text) == [("http://example.com/", "http://example.com/")]
    assert joined(text) == strip_bidi(text)


def test_plain_text_is_kept_whole_and_merged():
    text = "a <b>bold</b> & 'quoted' \"text\" with no links"
    assert segments(text) == [{"kind": "text", "text": text, "href": ""}]
    parts = segments("x http:// y https://ok.org z")
    assert [p["kind"] for p in parts] == ["text", "link", "text"]
    assert parts[0]["text"] == "x http:// y "


def test_long_inputs_are_handled():
    big = "https://example.com/" + "a" * 20_000 + ")" * 5_000 + " " + "x" * 10_000
    assert_safe(big)
    assert len(links(big)) == 1
    assert_safe("www." * 5_000)
    assert_safe("mailto:" + "a" * 10_000 + "@" + "b" * 10_000)


@pytest.mark.parametrize("control", [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))])
def test_bidi_controls_never_reach_the_page(control):
    shown = segments(f"invoice{control}fdp.exe and https://example.com/{control}x")
    assert all(control not in s["text"] and control not in s["href"] for s in shown)
    assert "".join(s["text"] for s in shown).startswith("invoicefdp.exe and https://example.com/")


# linkify-it-py (issue 24 #6): bare e-mails, bare domains, IDN, balanced brackets.
@pytest.mark.parametrize("text, expected", [
    ("write to ivan.petrov@example.com today", [("ivan.petrov@example.com", "mailto:ivan.petrov@example.com")]),
    ("Ivan@Example.COM.", [("Ivan@Example.COM", "mailto:Ivan@Example.COM")]),
    ("пошта: olia.k+chat@пример.рф", [("olia.k+chat@пример.рф", "mailto:olia.k+chat@пример.рф")]),
    ("see example.com/docs?x=1 please", [("example.com/docs?x=1", "https://example.com/docs?x=1")]),
    ("notwww.example.com", [("notwww.example.com", "https://notwww.example.com")]),
    ("сайт пример.рф/путь", [("пример.рф/путь", "https://пример.рф/путь")]),
    ("сайт київ.укр", [("київ.укр", "https://київ.укр")]),
    ("punycode xn--e1afmkfd.xn--p1ai ok", [("xn--e1afmkfd.xn--p1ai", "https://xn--e1afmkfd.xn--p1ai")]),
    ("https://münchen.de/straße", [("https://münchen.de/straße", "https://münchen.de/straße")]),
    ("(example.com/a_(b))", [("example.com/a_(b)", "https://example.com/a_(b)")]),
    ("[https://example.com/x]", [("https://example.com/x", "https://example.com/x")]),
    ("«https://example.com/x»", [("https://example.com/x", "https://example.com/x")]),
    ("https://example.com/a?b=(c)&d=[e]", [("https://example.com/a?b=(c)&d=[e]", "https://example.com/a?b=(c)&d=[e]")]),
    ("a@b.com and c@d.org", [("a@b.com", "mailto:a@b.com"), ("c@d.org", "mailto:c@d.org")]),
])
def test_bare_mails_domains_idn_and_brackets(text, expected):
    assert links(text) == expected
    assert_safe(text)


@pytest.mark.parametrize("text", [
    "//example.com/x", "ftp://example.com", "setup.py", "run.sh", "1.2.3.4", "a@b", "@example.com",
    "user@localhost", "javascript:x@example.com",
])
def test_schemes_and_names_that_stay_text(text):
    assert links(text) == []
    assert joined(text) == text


JS_SPELLINGS = [
    *[f"{v}alert(1)" for v in _case_variants("javascript:")],
    "javascript&#58;alert(1)", "javascript&#x3a;alert(1)", "javascript&#0000058alert(1)",
    "&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)",
    "&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)",
    "javascript%3Aalert(1)", "%6A%61%76%61%73%63%72%69%70%74%3Aalert(1)", "java%0ascript:alert(1)",
    "jav&Tab;ascript:alert(1)", "java&NewLine;script:alert(1)", "\\u006aavascript:alert(1)",
    "\\x6aavascript:alert(1)", "ｊａｖａｓｃｒｉｐｔ：alert(1)", "javascript\u2028:alert(1)",
    "javascript:alert('example.com')", "javascript:x@example.com", "javascript:alert(1)//example.com",
    "javascript://example.com/%0aalert(1)", "javascript:/*https://x.org*/alert(1)",
    "[x](javascript:alert(1))", "[example.com](javascript:alert(1))", "[x](JaVaScRiPt:alert(1) \"t\")",
    "<javascript:alert(1)>", "<a href=javascript:alert(1)>x</a>", "mailto:javascript:alert(1)",
    "https:javascript:alert(1)", "http://javascript:alert(1)", "www.javascript:alert(1)",
    "javascript\u202e:alert(1)", "java\u200dscript:alert(1)", "javascript\ufeff:alert(1)",
]


@pytest.mark.parametrize("text", JS_SPELLINGS)
def test_javascript_in_any_spelling_is_never_a_link(text):
    for variant in (text, f"click {text} now", f"({text})", f"{text}.", f"example.com {text}"):
        assert "".join(p["text"] for p in segments(variant)) == strip_bidi(variant)
        for _, href in links(variant):
            assert href.startswith(("https://", "http://", "mailto:")), href
            assert not re.search(r"(?i)^\W*(java|vb)script|^\W*data:", href)
