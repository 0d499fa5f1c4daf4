"""`dlcourse feedback` and `dlcourse report`: pages made from a real graded class, opened in Chromium.

A class of `01_perceptron` submissions is graded with `dlcourse grade` (in the sandbox): the solution
notebook (full marks), the untouched handout (zero), one with two plausible mistakes, one whose file
name and exception messages carry markup and script, and one that is not a notebook. Forged and
malformed results files are added to the output folder. The pages and the report are then checked
against the results files (the numbers), the bank (public expected values shown, hidden expected
values never), and in headless Chromium with every request refused and recorded: no request, no
script run (no dialog, no console message), the attack strings shown as text. Hypothesis feeds
hostile strings to the escaping sink and to whole pages.
"""
from __future__ import annotations

import base64
import copy
import html
import io
import json
import re
import shlex
import shutil
import statistics
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import grader_helpers as H
from dlcourse import cli
from dlcourse.grading.feedback import parse_result, student_page
from dlcourse.grading.htmlpage import CSP, esc
from dlcourse.grading.intake import student_key
from dlcourse.grading.report import class_report
from dlcourse.grading.registry import Registry
from dlcourse.grading.scoring import expected_for
from dlcourse.grading.sinks import feedback_text
from dlcourse.nbtools import read_notebook

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT, SEED = "01_perceptron", 3
ATTACK = ['<script>alert(1)</script>', '<img src=x onerror=alert(2)>', '"><svg onload=alert(3)>']
ATTACKER = '<img src=x onerror=alert(4)>"><svg onload=alert(5)> &amp; <script>alert(6)'  # no "/" in a file name
SKIPPED = ("forged.json", "deep.json", "huge.json", "mallory.json", "eve.json", "bigint.json")
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p", "strong", "span",
                "div", "ul", "li", "table", "caption", "thead", "tbody", "tr", "th", "td", "code", "br", "section",
                "figure", "img", "figcaption"}


def _submissions(subs: Path) -> None:
    solution = read_notebook(REPO / "solutions" / f"{ASSIGNMENT}.ipynb")
    sources = H.exercise_cell_sources(solution)
    H.write_notebook(solution, subs / "alice.ipynb")
    shutil.copy(REPO / "exercises" / f"{ASSIGNMENT}.ipynb", subs / "bob.ipynb")
    hebb = ("import numpy as np\ndef oja_update(w, x, eta):\n    w = np.asarray(w, float)\n"
            "    return w + eta * (w @ x) * x\n")
    H.write_notebook(H.with_sources(solution, {"oja_update": hebb, "perceptron_train":
                                               sources["perceptron_train"].replace("w @ x > 0", "w @ x >= 0")}),
                     subs / "carol.ipynb")
    message = " ".join(ATTACK)
    attack = {"oja_update": f"def oja_update(w, x, eta):\n    print({message!r})\n    raise ValueError({message!r})\n",
              "hopfield_store": "import os\ndef hopfield_store(patterns):\n    os._exit(3)\n"}
    H.write_notebook(H.with_sources(solution, attack), subs / f"{ATTACKER}.ipynb")
    (subs / "dave.ipynb").write_text("this is not a notebook", encoding="utf-8")


def _forge(out: Path) -> None:
    """Results files the commands must skip (with a note), and one valid forged file full of markup (rendered)."""
    carol = json.loads((out / "carol.json").read_text(encoding="utf-8"))
    (out / "forged.json").write_text(json.dumps({"score": 1, "tests": []}), encoding="utf-8")
    (out / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (out / "huge.json").write_text(json.dumps({**carol, "pad": "x" * (9 << 20)}), encoding="utf-8")
    mallory = copy.deepcopy(carol)
    mallory["extra_data"]["dlcourse"]["student"] = "mallory"
    mallory["tests"][0]["extra_data"]["details"][0]["label"] = {"<b>": 1}  # a label that is not text
    (out / "mallory.json").write_text(json.dumps(mallory), encoding="utf-8")
    (out / "eve.json").write_text(json.dumps(carol), encoding="utf-8")  # carol's results under another name
    big = {**carol, "extra_data": {"dlcourse": {**carol["extra_data"]["dlcourse"], "student": "bigint"}}}
    (out / "bigint.json").write_text(json.dumps(big).replace('"score": ', '"score": 1' + "0" * 400 + ", \"x\": ", 1),
                                     encoding="utf-8")  # float() of that score overflows
    trudy = copy.deepcopy(carol)
    trudy["extra_data"]["dlcourse"]["student"] = "trudy"
    trudy["output"] += "\n" + ATTACK[0]
    case = trudy["tests"][0]["extra_data"]["details"][0]
    case.update(label=ATTACK[1], feedback=ATTACK[2] + " Hint: " + ATTACK[0])
    case["given"] = {ATTACK[2]: {"shape": [2], "dtype": ATTACK[1], "values": [ATTACK[0], 1.5]},
                     "deep": json.loads("[" * 200 + "]" * 200)}
    (out / "trudy.json").write_text(json.dumps(trudy), encoding="utf-8")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(out folder, {student: results dict}) of the graded class, with feedback pages and the report written."""
    root = tmp_path_factory.mktemp("feedback")
    subs, out = root / "subs", root / "out"
    _submissions(subs)
    assert cli.main(["grade", str(subs), "--out", str(out), "--seed", str(SEED), "--jobs", "2", "--no-progress",
                     "--timeout", "30"]) == 0
    _forge(out)
    assert cli.main(["feedback", str(out)]) == 0
    assert cli.main(["report", str(out)]) == 0
    results = {}
    for path in out.glob("*.json"):
        if path.name not in SKIPPED:
            data = json.loads(path.read_text(encoding="utf-8"))
            results[data["extra_data"]["dlcourse"]["student"]] = data
    assert set(results) == {"alice", "bob", "carol", "dave", "trudy", ATTACKER}
    assert results["alice"]["score"] == results["alice"]["max_score"] == 5 and results["bob"]["score"] == 0
    return out, results


def _page_of(out: Path, student: str) -> Path:
    return out / "feedback" / f"{student_key(student)}.html"


def _scored(data: dict) -> list[dict]:
    return [t for t in data["tests"] if t.get("extra_data", {}).get("cases") == "hidden"]


# ----------------------------------------------------------------------------- the files written

def test_a_page_per_usable_results_file_and_a_note_per_skipped_one(graded):
    out, results = graded
    assert sorted(p.name for p in (out / "feedback").iterdir()) == sorted(f"{student_key(s)}.html" for s in results)
    report = (out / "report.html").read_text(encoding="utf-8")
    for name in SKIPPED:
        assert f"skipped {name}:" in report
    assert "6 graded submission(s); 6 file(s) skipped." in report


def _guide_commands() -> list[list[str]]:
    """The command lines of the instructor guide's section on feedback pages and the class report."""
    text = (REPO / "book" / "instructor.md").read_text(encoding="utf-8")
    start = text.index("## Feedback pages and a class report")
    section = text[start:text.find("\n## ", start + 1)]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def test_the_guide_commands_write_the_pages_and_the_report(graded, tmp_path, monkeypatch, capsys):
    out, results = graded
    shutil.copytree(out, tmp_path / "grades" / "01", ignore=shutil.ignore_patterns("feedback", "report.html"))
    monkeypatch.chdir(tmp_path)
    commands = _guide_commands()
    assert [argv[1] for argv in commands] == ["feedback", "report", "feedback", "report"]
    for argv in commands:
        assert argv[0].endswith("dlcourse") and cli.main(argv[1:]) == 0, argv
    for pages in (tmp_path / "grades" / "01" / "feedback", tmp_path / "pages" / "01"):
        assert sorted(p.name for p in pages.iterdir()) == sorted(f"{student_key(s)}.html" for s in results)
    for report in (tmp_path / "grades" / "01" / "report.html", tmp_path / "reports" / "01.html"):
        assert report.read_bytes() == (out / "report.html").read_bytes()
    assert "WARNING: skipped deep.json" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    for command in ("feedback", "report"):
        assert cli.main([command, str(tmp_path / "empty")]) == 2
        assert "error: no results files of dlcourse grade" in capsys.readouterr().err
        assert cli.main([command, str(tmp_path / "missing")]) == 2
        assert "is not a folder of results" in capsys.readouterr().err


def test_pages_show_the_numbers_of_the_results_files(graded):
    out, results = graded
    for student, data in results.items():
        text = html.unescape(_page_of(out, student).read_text(encoding="utf-8"))
        assert f"{data['score']:.4g} / {data['max_score']:.4g}</strong> points" in text
        for test in _scored(data):
            extra = test["extra_data"]
            assert f"Hidden cases: {extra['passed']} of {extra['total']} passed" in text
        for test in data["tests"]:
            if test.get("extra_data", {}).get("cases") == "public":
                assert f"Public cases: {test['extra_data']['passed']} of {test['extra_data']['total']} passed" in text
    dave = html.unescape(_page_of(out, "dave").read_text(encoding="utf-8"))
    assert "not a readable Jupyter notebook" in dave and dave.count("Not graded:") == 5
    attacker = _page_of(out, ATTACKER).read_text(encoding="utf-8")
    assert "Crashed: your code ended the program" in attacker


def _nested(values) -> str:
    if isinstance(values, np.ndarray) and values.ndim:
        return "[" + ", ".join(_nested(v) for v in values) + "]"
    value = values.item() if isinstance(values, np.generic | np.ndarray) else values
    return str(value) if isinstance(value, (int, np.integer)) else f"{value:.8g}"


def test_public_expected_values_are_shown_and_hidden_ones_never(graded):
    out, _ = graded
    exercises = Registry.load().of(ASSIGNMENT)
    bob = html.unescape(_page_of(out, "bob").read_text(encoding="utf-8"))
    for exercise in exercises:
        for case in exercise.public_cases:
            for value in expected_for(exercise, case):
                assert _nested(value) in bob, (exercise.id, case.label)
    pages = [html.unescape(p.read_text(encoding="utf-8")) for p in (out / "feedback").iterdir()]
    report = (out / "report.html").read_text(encoding="utf-8")
    pages.append(html.unescape(re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", report)))  # text, not pixels
    shown = 0
    for exercise in exercises:
        for case in exercise.draw_hidden(SEED):
            for value in np.concatenate([np.ravel(v) for v in expected_for(exercise, case)]).astype(float):
                forms = {f"{value:.8g}", f"{value:.6g}", f"{value:.4g}", repr(float(value))}
                for form in forms:
                    if len(form.lstrip("-0.").replace(".", "")) >= 4:  # distinctive: not 0.5 or -1
                        shown += 1
                        assert all(form not in text for text in pages), f"hidden value {form} of {exercise.id}"
    assert shown > 100  # the check above really looked at many hidden values


def test_report_summary_matches_the_results_files(graded):
    from bs4 import BeautifulSoup

    out, results = graded
    dom = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")
    table = next(t for t in dom.find_all("table") if t.caption.get_text() == "Scores per exercise")
    rows = {r.th.get_text(): [td.get_text() for td in r.find_all("td")] for r in table.tbody.find_all("tr")}
    per_exercise: dict[str, list[dict]] = {}
    for data in results.values():
        for test in _scored(data):
            per_exercise.setdefault(test["name"], []).append(test)
    assert set(rows) == set(per_exercise) | {"Total"}
    for name, tests in per_exercise.items():
        scores = [t["score"] for t in tests]
        full = sum(t["score"] >= t["max_score"] and t["extra_data"]["run"] == "ran" for t in tests)
        assert rows[name] == [f"{tests[0]['max_score']:.4g}", str(len(tests)), f"{statistics.fmean(scores):.2f}",
                              f"{statistics.median(scores):.2f}", f"{100 * full / len(tests):.0f}% ({full})"]
    totals = [d["score"] for d in results.values()]
    assert rows["Total"][2:4] == [f"{statistics.fmean(totals):.2f}", f"{statistics.median(totals):.2f}"]
    text = dom.get_text()
    hebb = sum(any("Hebb's rule" in line for line in t["output"].split("\n"))
               for d in results.values() for t in _scored(d) if t["name"].endswith("oja_update"))
    assert hebb == 2  # carol and trudy (a copy of carol's results)
    oja = next(t for t in dom.find_all("table") if t.caption.get_text().endswith("of 01_perceptron.oja_update"))
    counts = {r.find_all("td")[0].get_text(): int(r.find_all("td")[1].get_text()) for r in oja.tbody.find_all("tr")}
    assert counts["w_new: wrong values (# of # entries are off). Hint: This is Hebb's rule, w + eta*y*x: Oja's rule "
                  "also subtracts the decay eta*y^2*w."] == hebb
    assert any(ATTACK[0] in message for message in counts)
    crashed = [(s, t["name"]) for s, d in results.items() for t in _scored(d) if t["extra_data"]["run"] == "crashed"]
    assert crashed == [(ATTACKER, f"{ASSIGNMENT}.hopfield_store")]
    runs = next(t for t in dom.find_all("table") if t.caption.get_text() == "Abnormal runs")
    assert [[td.get_text() for td in r.find_all(["th", "td"])][:3] for r in runs.tbody.find_all("tr")] == [
        [ATTACKER, f"{ASSIGNMENT}.hopfield_store", "crashed"]]
    slowest = max(results.values(), key=lambda d: d["execution_time"])
    assert f"longest {slowest['execution_time']:.2f} s" in text


def test_report_plots_are_real_images_with_alt_text(graded):
    from bs4 import BeautifulSoup
    from PIL import Image

    out, _ = graded
    dom = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")
    images = dom.find_all("img")
    # scores, one failure chart per exercise with failures (all five here), abnormal runs, times
    assert len(images) == 1 + 5 + 1 + 1
    for img in images:
        assert len(img["alt"]) > 40 and img.find_parent("figure").figcaption.get_text().strip()
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix)
        picture = Image.open(io.BytesIO(base64.b64decode(img["src"][len(prefix):], validate=True)))
        assert picture.format == "PNG" and 800 <= picture.width <= 1200 and 150 <= picture.height <= 2000
        assert len(picture.convert("RGB").getcolors(1 << 20) or []) > 3  # not a blank image


# ----------------------------------------------------------------------------- in the browser

class _Watched:
    """One browser context in which every request other than the page itself is refused and recorded,
    and every dialog, console message and page error is recorded."""

    def __init__(self, browser, **options) -> None:
        self.context = browser.new_context(**options)
        self.url: str | None = None
        self.seen: dict[str, list[str]] = {}
        self.context.route("**/*", self._route)

    def _route(self, request_route) -> None:
        if request_route.request.url == self.url:
            request_route.continue_()
        else:
            self.seen["requests"].append(request_route.request.url)
            request_route.abort()

    def open(self, url: str | None, content: str | None = None):
        """A new page showing ``url`` (or ``content``); returns it, with ``self.seen`` cleared for it."""
        self.url, self.seen = url, {"requests": [], "dialogs": [], "console": []}
        page = self.context.new_page()
        page.on("request", lambda r: r.url != url and not r.url.startswith("data:")
                and self.seen["requests"].append(r.url))
        page.on("dialog", lambda d: (self.seen["dialogs"].append(d.message), d.dismiss()))
        page.on("console", lambda m: self.seen["console"].append(m.text))
        page.on("pageerror", lambda e: self.seen["console"].append(str(e)))
        if content is None:
            page.goto(url, wait_until="load")
        else:
            page.set_content(content, wait_until="load")
        page.wait_for_timeout(50)  # late events (a delayed script, a lazy image) arrive too
        return page


def _no_active_markup(page) -> None:
    """No element that runs or loads anything, no event-handler attribute, no javascript: URL, data: images only."""
    found = page.evaluate("""() => {
        const all = [...document.querySelectorAll('*')];
        return {active: document.querySelectorAll('script, svg, iframe, object, embed, form, a, link, base').length,
                handlers: all.flatMap(e => [...e.attributes])
                    .filter(a => a.name.startsWith('on') || /^\\s*javascript:/i.test(a.value)).length,
                images: [...document.images].filter(i => !i.src.startsWith('data:image/png;base64,')).length};
    }""")
    assert found == {"active": 0, "handlers": 0, "images": 0}


@pytest.fixture(scope="module")
def browser():
    chromium = next((shutil.which(c) for c in ("/usr/bin/chromium", "chromium", "chromium-browser") if shutil.which(c)),
                    None)
    assert chromium, "Chromium is missing (scripts/setup.sh installs the Debian package 'chromium')"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


def test_the_listeners_see_requests_and_scripts(browser):
    """The checks below can fail: an unescaped page that loads an image and runs a script is caught."""
    watched = _Watched(browser)
    watched.open(None, '<img src="http://192.0.2.1/x.png"><script>alert("ran")</script>')
    watched.context.close()
    assert set(watched.seen["requests"]) == {"http://192.0.2.1/x.png"} and watched.seen["dialogs"] == ["ran"]


def test_pages_in_chromium_load_nothing_run_nothing_and_show_the_attack_as_text(graded, browser):
    out, results = graded
    pages = [_page_of(out, s) for s in results] + [out / "report.html"]
    watched = _Watched(browser)
    for path in pages:
        source = path.read_text(encoding="utf-8")
        policy = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        assert source.count(policy) == 1
        hostile = path.name == "report.html" or path in (_page_of(out, ATTACKER), _page_of(out, "trudy"))
        # as written (with the Content-Security-Policy); the hostile ones also without it: escaping alone holds
        for url, content in ((path.as_uri(), None), (None, source.replace(policy, "")))[:2 if hostile else 1]:
            page = watched.open(url, content)
            try:
                assert watched.seen == {"requests": [], "dialogs": [], "console": []}, path.name
                _no_active_markup(page)
                text = page.inner_text("body")
                if path.name == "report.html" or ATTACKER in results and path == _page_of(out, ATTACKER):
                    assert all(a in text for a in ATTACK) and ATTACKER in text, path.name
                if path == _page_of(out, "trudy"):
                    assert all(a in text for a in ATTACK) and "[...]" in text
            finally:
                page.close()
    watched.context.close()


def test_page_is_readable_on_a_phone(graded, browser):
    out, _ = graded
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(_page_of(out, "carol").as_uri())
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360 + 1
    headings = page.evaluate("() => [...document.querySelectorAll('h1,h2,h3,h4')].map(h => +h.tagName[1])")
    assert headings[0] == 1 and all(b - a <= 1 for a, b in zip(headings, headings[1:]))
    context.close()


# ----------------------------------------------------------------------------- the escaping sink

HOSTILE = st.one_of(st.sampled_from(ATTACK + [ATTACKER, "&amp;", "'", "\u202e", "\x00\x1b[31m", "\ud800"]),
                    st.text(st.characters(blacklist_categories=()), max_size=40))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


@given(HOSTILE)
def test_esc_gives_text_that_parses_back_to_itself_in_content_and_attributes(text):
    escaped = esc(text)
    assert not set(escaped) & set("<>\"'")
    escaped.encode("utf-8")  # no lone surrogate left: the page can be written
    parser = _Tags()
    parser.feed(f'<p title="{escaped}">{escaped}</p>')
    parser.close()
    assert parser.tags == [("p", [("title", feedback_text(text))])]
    assert "".join(parser.text) == feedback_text(text) == html.unescape(escaped)


def _results(student: str, strings: list[str]) -> dict:
    label, message, name, note = (strings * 4)[:4]
    value = {"shape": [2], "dtype": name, "values": [message, 1.0]}
    return {"score": 0.5, "max_score": 1.0, "execution_time": 1.0, "output": f"Assignment x: 0.5 / 1 points.\n{note}",
            "tests": [{"name": f"{name} (public cases)", "score": 0.0, "max_score": 0.0, "output": message,
                       "extra_data": {"exercise": name, "cases": "public", "passed": 0, "total": 1, "details": [
                           {"label": label, "passed": False, "given": {name: value}, "expected": [message],
                            "received": [value], "feedback": f"{message} Hint: {label}"}]}},
                      {"name": name, "score": 0.5, "max_score": 1.0, "output": f"1/2 hidden cases passed.\n{message}",
                       "execution_time": 1.0,
                       "extra_data": {"exercise": name, "cases": "hidden", "passed": 1, "total": 2, "run": "ran"}}],
            "extra_data": {"dlcourse": {"grader": "dlcourse-grade-2", "student": student, "assignment": label}}}


@settings(max_examples=60)
@given(HOSTILE, st.lists(HOSTILE, min_size=1, max_size=4))
def test_a_page_from_hostile_strings_holds_only_our_markup_and_shows_every_string(student, strings):
    source = student_page(parse_result(_results(student, strings), student_key(student)))
    parser = _Tags()
    parser.feed(source)
    parser.close()
    assert {tag for tag, _ in parser.tags} <= ALLOWED_TAGS
    for tag, attrs in parser.tags:
        assert all(not name.startswith("on") and name in ("class", "id", "scope", "aria-labelledby", "lang", "charset",
                                                          "http-equiv", "content", "name") for name, _ in attrs), tag
    text = "".join(parser.text)
    for s in [student, *strings]:  # each line of it (a line may be split at its hints) is there as text
        for line in feedback_text(s).split("\n"):
            assert all(piece.strip() in text for piece in re.split(r"\s*\bHint: ", line))


@settings(max_examples=3)
@given(st.lists(HOSTILE, min_size=1, max_size=3))
@example(["$\\frac{", "a $x^$ b"])
def test_a_report_from_hostile_strings_holds_only_our_markup_and_draws(strings):
    """Hostile strings reach the report's tables and the figures' labels (matplotlib mathtext included)."""
    results = [parse_result(_results(s, strings), student_key(s)) for s in ("amy", strings[0])]
    source = class_report(results, [f"skipped {strings[-1]}.json: forged"])
    parser = _Tags()
    parser.feed(source)
    parser.close()
    assert {tag for tag, _ in parser.tags} <= ALLOWED_TAGS
    attrs = [name for _, attrs in parser.tags for name, _ in attrs]
    assert not [a for a in attrs if a.startswith("on")] and attrs.count("src") == attrs.count("alt") >= 3
    text = "".join(parser.text)
    for s in strings:
        for line in feedback_text(s).split("\n"):
            assert line.strip() in text or line.strip()[:100] in text
