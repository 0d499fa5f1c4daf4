"""``dlcourse report``: one self-contained HTML report on a graded class, with plots.

Made from the results files of a ``dlcourse grade`` output folder (read and checked as in
:func:`~dlcourse.grading.feedback.read_folder`; files that fail are listed as skipped): a summary
table per exercise (mean, median, share with full marks), the score distribution per exercise,
the most common failure messages per exercise (the "case k:" prefixes dropped and the grader's
per-case counts, shapes and line numbers written ``#``, so the same mistake on different cases
counts together, once per submission), the runs
that timed out, ran out of memory or crashed, and the grading time per submission. Figures are
drawn with matplotlib (Agg) and embedded as PNG ``data:`` URLs with alt text; every string that
came from a results file is escaped where it is written.
"""
from __future__ import annotations

import argparse
import base64
import io
import re
import statistics
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

from .feedback import ExerciseView, StudentResult, read_folder
from .htmlpage import esc, page, points
from .records import atomic_write
from .sinks import terminal_text

TOP_MESSAGES = 5  # failure messages shown per exercise
SLOWEST = 5  # submissions listed by grading time
MAX_LISTED = 100  # rows of the table of abnormal runs
MAX_FIGURED = 24  # exercises drawn in the figures (a real assignment has far fewer; forged files could hold many)
BAD_RUNS = ("timeout", "memory", "crashed", "grader_error")
RUN_WORDS = {"timeout": "timed out", "memory": "out of memory", "crashed": "crashed", "grader_error": "grader error"}
_CASE_PREFIX = re.compile(r"^(?:case \d+|every case): ")
# The grader's own wording with numbers that change from case to case (never a student's text):
_VARYING = [(re.compile(r"\(\d+ of \d+ entries are off\)"), "(# of # entries are off)"),
            (re.compile(r"wrong shape: got \([\d, ]*\), expected \([\d, ]*\)"), "wrong shape: got (#), expected (#)"),
            (re.compile(r"\(line \d+\)"), "(line #)"),
            (re.compile(r"the returned array has \d+ elements"), "the returned array has # elements")]
_SKIP = re.compile(r"^All hidden cases correct\.$")


def failure_key(line: str) -> str | None:
    """A feedback line without its case prefix, the grader's per-case counts as ``#`` (``None``: not a failure)."""
    line = _CASE_PREFIX.sub("", line.strip())
    if not line or _SKIP.match(line):
        return None
    for pattern, replacement in _VARYING:
        line = pattern.sub(replacement, line)
    return line


def exercise_order(results: list[StudentResult]) -> list[str]:
    """Exercise ids in the order the results list them (the bank's order), each once."""
    seen: dict[str, None] = {}
    for result in results:
        for view in result.exercises:
            if view.scored:
                seen.setdefault(view.id, None)
    return list(seen)


def per_exercise(results: list[StudentResult]) -> dict[str, list[tuple[StudentResult, ExerciseView]]]:
    """Each exercise's scored views, with the result they belong to."""
    table: dict[str, list[tuple[StudentResult, ExerciseView]]] = {e: [] for e in exercise_order(results)}
    for result in results:
        for view in result.exercises:
            if view.scored:
                table[view.id].append((result, view))
    return table


def common_failures(views: list[ExerciseView], top: int = TOP_MESSAGES) -> list[tuple[str, int]]:
    """The ``top`` most common failure messages and how many submissions got each (once per submission)."""
    counts: Counter[str] = Counter()
    for view in views:
        counts.update({key for line in view.lines if (key := failure_key(line))})
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


# ----------------------------------------------------------------------------- figures

def _plain(text: str, width: int = 0) -> str:
    """Text for a matplotlib label: controls escaped, ``$`` kept literal (no mathtext), wrapped if asked."""
    text = terminal_text(text).replace("$", r"\$")
    return "\n".join(textwrap.wrap(text, width, max_lines=3, placeholder=" ...")) if width else text


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(fig: Any, alt: str, caption: str) -> str:
    return (f'<figure><img src="data:image/png;base64,{_png(fig)}" alt="{esc(alt)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def scores_figure(table: dict[str, list[tuple[StudentResult, ExerciseView]]]) -> Any:
    """Histograms of the points per exercise, three panels a row."""
    plt = _pyplot()
    n = len(table)
    rows = (n + 2) // 3
    fig, axes = plt.subplots(rows, min(n, 3), figsize=(10, 2.8 * rows), squeeze=False)
    for ax, (ex_id, pairs) in zip(axes.flat, table.items()):
        top = max((v.max_score for _, v in pairs), default=1.0) or 1.0
        ax.hist([min(max(v.score, 0.0), top) for _, v in pairs], bins=10, range=(0, top),
                color="#4c72b0", edgecolor="black")
        ax.set_title(_plain(ex_id.partition(".")[2] or ex_id), fontsize=11)
        ax.set_xlabel(f"points (of {top:g})")
        ax.set_ylabel("submissions")
        ax.yaxis.get_major_locator().set_params(integer=True)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def failures_figure(ex_id: str, messages: list[tuple[str, int]]) -> Any:
    """Horizontal bars: how many submissions got each of an exercise's most common failure messages."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.9 + 0.75 * len(messages))))
    labels = [_plain(m, 60) for m, _ in messages][::-1]
    ax.barh(range(len(messages)), [c for _, c in messages][::-1], color="#dd8452", edgecolor="black")
    ax.set_yticks(range(len(messages)), labels, fontsize=9)
    ax.set_xlabel("submissions with this message")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(_plain(ex_id), fontsize=11)
    fig.tight_layout()
    return fig


def runs_figure(counts: dict[str, Counter[str]]) -> Any:
    """Stacked bars per exercise: runs that timed out, ran out of memory, crashed or hit a grader error."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, max(2.5, 1.2 + 0.5 * len(counts))))
    names = [_plain(e.partition(".")[2] or e) for e in counts]
    left = [0] * len(counts)
    for status, colour, hatch in zip(BAD_RUNS, ("#c44e52", "#8172b3", "#937860", "#8c8c8c"), ("//", "..", "xx", "")):
        widths = [c[status] for c in counts.values()]
        ax.barh(names, widths, left=left, color=colour, hatch=hatch, edgecolor="black", label=RUN_WORDS[status])
        left = [a + b for a, b in zip(left, widths)]
    ax.set_xlabel("submissions")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.invert_yaxis()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=len(BAD_RUNS), fontsize=9)
    fig.tight_layout()
    return fig


def times_figure(seconds: list[float]) -> Any:
    """Histogram of the grading time per submission, with the median marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.hist(seconds, bins=min(30, max(5, len(seconds) // 3)), color="#55a868", edgecolor="black")
    median = statistics.median(seconds)
    ax.axvline(median, color="black", linestyle="--", label=f"median {median:.2f} s")
    ax.set_xlabel("seconds per submission (sum of its sandboxed runs)")
    ax.set_ylabel("submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- sections

def _table(caption: str, head: list[str], rows: list[list[str]], numeric: frozenset[int] = frozenset()) -> str:
    """A table; ``head`` is plain text, ``rows`` hold HTML (escaped); the first cell of a row is its header."""
    cls = [' class="num"' if i in numeric else "" for i in range(len(head))]
    thead = "".join(f'<th scope="col"{c}>{esc(h)}</th>' for h, c in zip(head, cls))
    body = "".join("<tr>" + "".join((f'<th scope="row"{cls[i]}>{cell}</th>' if i == 0 else f"<td{cls[i]}>{cell}</td>")
                                    for i, cell in enumerate(row)) + "</tr>" for row in rows)
    return (f'<div class="scroll"><table><caption>{esc(caption)}</caption><thead><tr>{thead}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _summary(table: dict[str, list[tuple[StudentResult, ExerciseView]]], results: list[StudentResult]) -> str:
    rows = []
    columns = [(esc(e), [v.score for _, v in pairs], max((v.max_score for _, v in pairs), default=0.0),
                sum(v.full for _, v in pairs)) for e, pairs in table.items()]
    totals = [r.score for r in results]
    columns.append(("Total", totals, max((r.max_score for r in results), default=0.0),
                    sum(r.max_score > 0 and r.score >= r.max_score for r in results)))
    for name, scores, top, full in columns:
        rows.append([f'<span class="wrap">{name}</span>', points(top), str(len(scores)),
                     f"{statistics.fmean(scores):.2f}", f"{statistics.median(scores):.2f}",
                     f"{100 * full / len(scores):.0f}% ({full})"])
    return _table("Scores per exercise", ["Exercise", "Max points", "Submissions", "Mean", "Median", "Full marks"],
                  rows, frozenset({1, 2, 3, 4, 5}))


def _scores_section(table: dict[str, list[tuple[StudentResult, ExerciseView]]], n: int) -> str:
    means = "; ".join(f"{e.partition('.')[2] or e}: mean {statistics.fmean(v.score for _, v in p):.2f} of "
                      f"{max(v.max_score for _, v in p):g}" for e, p in table.items())
    return ("<h2>Score distribution per exercise</h2><p>Each panel counts the submissions by the points they "
            "scored on one exercise: a tall bar at the right means most of the class solved it, one at the left "
            "that most did not.</p>"
            + _figure(scores_figure(table), f"Histograms of the points scored on each exercise by {n} "
                      f"submissions. {means}.", "Points per exercise, in ten equal bins from 0 to full marks."))


def _failures_section(table: dict[str, list[tuple[StudentResult, ExerciseView]]]) -> str:
    out = ["<h2>Most common failure messages</h2><p>For each exercise, the messages of the hidden cases that "
           f"the most submissions got (at most {TOP_MESSAGES}), each counted once per submission. The case "
           "number is dropped and the counts, shapes and line numbers that change from case to case are "
           "shown as #, so the same mistake on different cases counts together. The table under each chart "
           "gives the full messages.</p>"]
    for ex_id, pairs in table.items():
        messages = common_failures([v for _, v in pairs])
        out.append(f'<h3 class="wrap">{esc(ex_id)}</h3>')
        if not messages:
            out.append("<p>No failure messages: every submission passed every hidden case.</p>")
            continue
        alt = f"Bar chart of the {len(messages)} most common failure messages of {ex_id}: " + "; ".join(
            f"{count} submission(s): {message[:120]}" for message, count in messages)
        out.append(_figure(failures_figure(ex_id, messages), alt,
                           f"Submissions per failure message for {ex_id}, most common first."))
        out.append(_table(f"Most common failure messages of {ex_id}", ["Rank", "Message", "Submissions"],
                          [[str(i), f'<span class="wrap">{esc(m)}</span>', str(c)]
                           for i, (m, c) in enumerate(messages, start=1)], frozenset({2})))
    return "\n".join(out)


def _runs_section(table: dict[str, list[tuple[StudentResult, ExerciseView]]]) -> str:
    counts = {e: Counter(v.run for _, v in pairs if v.run in BAD_RUNS) for e, pairs in table.items()}
    bad = [(r, v) for pairs in table.values() for r, v in pairs if v.run in BAD_RUNS]
    out = ["<h2>Runs that timed out or crashed</h2>"]
    if not bad:
        out.append("<p>No run timed out, ran out of memory, crashed or hit a grader error.</p>")
        return "\n".join(out)
    counts = {e: c for e, c in counts.items() if c}
    summary = "; ".join(f"{e}: " + ", ".join(f"{c[s]} {RUN_WORDS[s]}" for s in BAD_RUNS if c[s])
                        for e, c in counts.items())
    out.append(f"<p>{len(bad)} exercise run(s) ended abnormally. The chart counts them per exercise and by how "
               "they ended (hatching and the legend tell the kinds apart); the table lists each one.</p>")
    out.append(_figure(runs_figure(counts), f"Stacked bar chart of abnormal runs per exercise: {summary}.",
                       "Abnormal runs per exercise, by how they ended."))
    rows = [[f'<span class="wrap">{esc(r.student)}</span>', f'<span class="wrap">{esc(v.id)}</span>',
             esc(RUN_WORDS[v.run]), f"{v.seconds:.2f}"] for r, v in bad[:MAX_LISTED]]
    out.append(_table("Abnormal runs", ["Student", "Exercise", "How it ended", "Seconds"], rows, frozenset({3})))
    if len(bad) > MAX_LISTED:
        out.append(f"<p>{len(bad) - MAX_LISTED} more abnormal runs are not listed.</p>")
    return "\n".join(out)


def _times_section(results: list[StudentResult]) -> str:
    seconds = [r.seconds for r in results]
    slowest = sorted(results, key=lambda r: -r.seconds)[:SLOWEST]
    out = ["<h2>Grading time per submission</h2>",
           f"<p>How long each submission took to grade (the sum of its sandboxed runs): median "
           f"{statistics.median(seconds):.2f} s, longest {max(seconds):.2f} s, total {sum(seconds):.1f} s for "
           f"{len(seconds)} submissions. A long tail points at slow or looping code.</p>",
           _figure(times_figure(seconds), f"Histogram of the grading time of {len(seconds)} submissions; median "
                   f"{statistics.median(seconds):.2f} s, longest {max(seconds):.2f} s.",
                   "Submissions per grading time; the dashed line marks the median.")]
    rows = []
    for r in slowest:
        top = max(r.exercises, key=lambda v: v.seconds, default=None)
        where = f'<span class="wrap">{esc(top.id)}</span> ({top.seconds:.2f} s)' if top else "&ndash;"
        rows.append([f'<span class="wrap">{esc(r.student)}</span>', f"{r.seconds:.2f}", where])
    out.append(_table(f"The {len(rows)} slowest submissions", ["Student", "Seconds", "Slowest exercise"], rows,
                      frozenset({1})))
    return "\n".join(out)


def class_report(results: list[StudentResult], skipped: list[str]) -> str:
    """The whole report page for the results of one class."""
    if not results:
        raise ValueError("no results to report on")
    table = per_exercise(results)
    assignments = sorted({r.assignment for r in results})
    body = [f"<h1>Class report: {esc(', '.join(assignments))}</h1>",
            f"<p>{len(results)} graded submission(s); {len(skipped)} file(s) skipped.</p>"]
    if skipped:
        body.append('<div class="note"><h2>Skipped files</h2><ul>'
                    + "".join(f'<li class="wrap">{esc(s)}</li>' for s in skipped[:MAX_LISTED]) + "</ul></div>")
    body.append("<h2>Summary</h2>")
    body.append(_summary(table, results) if table else "<p>No exercise was graded.</p>")
    if table:
        drawn = dict(list(table.items())[:MAX_FIGURED])
        if len(table) > MAX_FIGURED:
            body.append(f"<p>The figures below show the first {MAX_FIGURED} of {len(table)} exercises.</p>")
        body += [_scores_section(drawn, len(results)), _failures_section(drawn), _runs_section(drawn)]
    body.append(_times_section(results))
    return page(f"Class report: {', '.join(assignments)}", "\n".join(body))


def _cmd_report(args: argparse.Namespace) -> int:
    out = Path(args.out)
    results, skipped = read_folder(out)
    for note in skipped:
        print(f"WARNING: {terminal_text(note)}", file=sys.stderr)
    if not results:
        raise ValueError(f"no results files of dlcourse grade in {out} (expected <student>.json files)")
    target = Path(args.to) if args.to else out / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, class_report(results, skipped))
    print(f"wrote the class report on {len(results)} submission(s) to {terminal_text(str(target))}; "
          f"skipped {len(skipped)} file(s)")
    return 0


def register(sub: Any) -> None:
    """Add ``dlcourse report`` to the command's subparsers."""
    cmd = sub.add_parser("report", help="write a self-contained HTML report with plots on a graded class")
    cmd.add_argument("out", help="the --out folder of dlcourse grade (its <student>.json results)")
    cmd.add_argument("--to", default=None, help="the report's file (default: OUT/report.html)")
    cmd.set_defaults(func=_cmd_report)
