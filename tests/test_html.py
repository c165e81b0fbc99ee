"""tests/html.py, the parsed-HTML helper the view tests assert with."""

from tests.html import parse

PAGE = """<!doctype html><html><body hx-headers='{"x": 1}'>
<form id="filters" class="builder wide"><select name="order"><option value="a" selected>A<option value="b">B</select>
<input name="q" value="x &amp; y"><br></form>
<section id="results"><table><tr class="row"><td>one</td><td class="n">1</td>
<tr class="row"><td>two</td><td class="n">2</td></table>
<p>first<p>second <a href="/p/1/" data-session="s1">  open   it </a></section>
</body></html>"""


def test_finds_by_tag_attrs_class_and_text():
    doc = parse(PAGE)
    assert not doc.is_fragment
    assert doc.find("form", id="filters").classes == ["builder", "wide"]
    assert doc.find("form", class_="wide") is doc.find("form")
    assert [o.attrs["value"] for o in doc.find_all("option")] == ["a", "b"]
    assert doc.find("option", selected=True).text == "A"
    assert doc.find("input", name="q").attrs["value"] == "x & y"
    assert doc.find("a", text="open it").attrs["href"] == "/p/1/"
    assert doc.find("a", data_session="s1") is not None
    assert doc.find("body").attrs["hx-headers"] == '{"x": 1}'


def test_select_and_texts_with_implied_end_tags():
    doc = parse(PAGE)
    assert doc.texts("#results tr.row td.n") == ["1", "2"]
    assert [r.text for r in doc.select("table tr")] == ["one 1", "two 2"]
    assert doc.texts("section p") == ["first", "second open it"]
    assert doc.one("select[name=order]").tag == "select"
    assert doc.one("a[data-session='s1']").text == "open it"
    assert doc.has("form.builder.wide") and not doc.has("form.narrow")


def test_a_partial_is_a_fragment():
    doc = parse('<section id="results"><p>none</p></section>')
    assert doc.is_fragment and doc.children[0].attrs["id"] == "results"
