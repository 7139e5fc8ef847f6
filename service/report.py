"""Reports of a scan's output: a CSV (one row per file) and a self-contained HTML page.

The HTML page carries everything it shows: styles and script inline, thumbnails as data: URIs, and a Content
Security Policy that forbids loading anything else, so it opens from a file, a mail attachment or an offline
machine, and cannot leak that it was opened. It shows the counts by verdict, by rule and by kind, then every
flagged post (review, violation, incomplete, or a rule that fired for an exempt author) with its thumbnails (the
cited boxes drawn, documents pixelated), the rules it cites and the evidence behind them, sortable by column and
filterable by verdict, rule, kind and text; then the files that could not be screened.

Every text from the scan (file names, captions, OCR words) is escaped: a file named `<script>` is just a name.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detectors.evidence import INFORMATIONAL_STATUSES

DECISIONS = ("violation", "review", "incomplete", "clear")
# Thumbnails embedded for at most this many flagged posts (the most severe first): each is ~20-40 kB of base64,
# and a page of 100 MB does not open. The rest are listed without them (their lines in the JSONL keep them).
MAX_THUMBNAIL_POSTS = 2000
_RANK = {"clear": 0, "review": 1, "violation": 2, "incomplete": 3}


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder (fsynced, then renamed)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def flagged(rec: dict[str, Any]) -> bool:
    """A post the report lists: not clear, or a rule fired (for an exempt author the verdict may be clear)."""
    v = rec.get("verdict")
    return isinstance(v, dict) and (v["decision"] != "clear" or bool(v.get("findings")))


def cited(v: dict[str, Any]) -> list[dict[str, Any]]:
    """The evidence the findings cite, in order, each once."""
    seen: list[int] = []
    for f in v.get("findings", []):
        for i in f.get("evidence", []):
            if i not in seen and 0 <= i < len(v.get("evidence", [])):
                seen.append(i)
    return [v["evidence"][i] for i in seen]


# --- CSV ------------------------------------------------------------------------------------------------------

CSV_COLUMNS = ("file", "status", "decision", "score", "rules", "kinds", "times_s", "post_id", "caption",
               "error_type", "message")


def _cell(value: Any) -> Any:
    """Keep a spreadsheet from running a cell as a formula (a file named `=HYPERLINK(...)`)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for rec in records:
        row: dict[str, Any] = {c: "" for c in CSV_COLUMNS}
        row.update(file=rec["file"], post_id=rec.get("post_id", ""), caption=rec.get("caption", ""))
        v = rec.get("verdict")
        if v:
            ev = cited(v)
            times = sorted({e["time_s"] for e in ev if e.get("time_s") is not None})
            row.update(
                status="verdict", decision=v["decision"], score=v["score"],
                rules=";".join(f["rule_id"] for f in v.get("findings", [])),
                kinds=";".join(sorted({e["kind"] for e in ev})),
                times_s=";".join(f"{t:g}" for t in times),
                message="; ".join(f"{s['detector']} {s['status']}: {s['message']}"
                                  for s in v.get("detector_status", []) if s["status"] not in INFORMATIONAL_STATUSES),
            )
        elif "error" in rec:
            row.update(status="error", error_type=rec.get("error_type", ""), message=rec["error"])
        else:
            row.update(status="skipped", error_type=rec.get("skip_type", ""), message=rec.get("skipped", ""))
        rows.append({k: _cell(val) for k, val in row.items()})
    return rows


def render_csv(records: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(csv_rows(records))
    return buf.getvalue()


def write_csv(records: Sequence[dict[str, Any]], path: Path) -> None:
    atomic_write(path, render_csv(records).encode("utf-8"))


# --- HTML -----------------------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.5em 0 .5em}
.meta{color:#666;margin:0 0 1em}
.counts{display:flex;gap:2em;flex-wrap:wrap;align-items:flex-start}
table{border-collapse:collapse}th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4}th[data-sort]{cursor:pointer;user-select:none}th[data-sort]:after{content:" \\2195";color:#aaa}
th.asc:after{content:" \\2191";color:#222}th.desc:after{content:" \\2193";color:#222}
td.num{text-align:right}
.badge{display:inline-block;padding:1px 6px;border-radius:3px;font-weight:600;font-size:.85em;color:#fff}
.violation{background:#c0392b}.review{background:#d68910}.incomplete{background:#7d3c98}.clear{background:#1e8449}
.thumbs img{max-width:240px;max-height:240px;display:block;margin:0 0 4px}
.thumbs figure{margin:0 0 6px}.thumbs figcaption{font-size:.8em;color:#555}
.filters{display:flex;gap:.6em;flex-wrap:wrap;margin:.5em 0}
.rule{margin:0 0 6px}.cite{color:#555;font-size:.9em}.ev{margin:0 0 4px;font-size:.9em}
.caption{color:#333;font-style:italic;max-width:28em}
.file{word-break:break-all;max-width:18em}
.none{color:#888}
"""

_JS = r"""
(function(){
  var rows = Array.prototype.slice.call(document.querySelectorAll('#posts tbody tr.post'));
  var body = document.querySelector('#posts tbody');
  var f = {decision: document.getElementById('f-decision'), rule: document.getElementById('f-rule'),
           kind: document.getElementById('f-kind'), text: document.getElementById('f-text')};
  var shown = document.getElementById('shown');
  function apply(){
    var d = f.decision.value, r = f.rule.value, k = f.kind.value, t = f.text.value.trim().toLowerCase();
    var n = 0;
    rows.forEach(function(tr){
      var ok = (!d || tr.dataset.decision === d) &&
               (!r || (' ' + tr.dataset.rules + ' ').indexOf(' ' + r + ' ') >= 0) &&
               (!k || (' ' + tr.dataset.kinds + ' ').indexOf(' ' + k + ' ') >= 0) &&
               (!t || tr.dataset.text.indexOf(t) >= 0);
      tr.hidden = !ok;
      if (ok) n++;
    });
    shown.textContent = String(n);
  }
  ['decision','rule','kind'].forEach(function(key){ f[key].addEventListener('change', apply); });
  f.text.addEventListener('input', apply);
  var heads = document.querySelectorAll('#posts th[data-sort]');
  Array.prototype.forEach.call(heads, function(th){
    th.addEventListener('click', function(){
      var key = th.dataset.sort, numeric = th.dataset.type === 'number';
      var dir = th.classList.contains('desc') ? 1 : (th.classList.contains('asc') ? -1 : (numeric ? -1 : 1));
      Array.prototype.forEach.call(heads, function(h){ h.classList.remove('asc', 'desc'); });
      th.classList.add(dir > 0 ? 'asc' : 'desc');
      rows.sort(function(a, b){
        var x = a.dataset[key], y = b.dataset[key];
        if (numeric) { x = parseFloat(x); y = parseFloat(y); return (x - y) * dir || 0; }
        return x < y ? -dir : (x > y ? dir : 0);
      });
      rows.forEach(function(tr){ body.appendChild(tr); });
    });
  });
  apply();
})();
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _time(t: Any) -> str:
    return f" at {float(t):.1f} s" if t is not None else ""


def _count_table(table_id: str, title: str, head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = "".join("<tr>" + "".join(
        f"<td class=num>{_e(c)}</td>" if isinstance(c, int) else f"<td>{_e(c)}</td>" for c in row) + "</tr>"
        for row in rows) or f"<tr><td colspan={len(head)} class=none>none</td></tr>"
    ths = "".join(f"<th>{_e(h)}</th>" for h in head)
    return (f"<table id={table_id}><caption>{_e(title)}</caption><thead><tr>{ths}</tr></thead>"
            f"<tbody>{cells}</tbody></table>")


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts for the page: by decision (with errors and skipped files), by rule and by kind of cited evidence."""
    decisions: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    citations: dict[str, str] = {}
    kinds: Counter[str] = Counter()
    for rec in records:
        v = rec.get("verdict")
        if v:
            decisions[v["decision"]] += 1
            for rid in {f["rule_id"] for f in v.get("findings", [])}:
                rules[rid] += 1
            for f in v.get("findings", []):
                citations.setdefault(f["rule_id"], f.get("citation", ""))
            for k in {e["kind"] for e in cited(v)}:
                kinds[k] += 1
        elif "error" in rec:
            decisions["error"] += 1
        else:
            decisions["skipped"] += 1
    return {"decisions": decisions, "rules": rules, "citations": citations, "kinds": kinds}


def _post_row(rec: dict[str, Any], with_thumbnails: bool = True) -> str:
    v = rec["verdict"]
    ev = cited(v)
    rules = [f["rule_id"] for f in v.get("findings", [])]
    kinds = sorted({e["kind"] for e in ev})
    times = [e["time_s"] for e in ev if e.get("time_s") is not None]
    thumbs = "".join(
        f"<figure><img alt=\"{_e(rec['file'])} image {t['image'] + 1}\" src=\"{_e(t['src'])}\">"
        f"<figcaption>image {t['image'] + 1}{_e(_time(t.get('time_s')))}</figcaption></figure>"
        for t in (rec.get("thumbnails", []) if with_thumbnails else [])
        if str(t.get("src", "")).startswith("data:image/")
    ) or ("<span class=none>no image</span>" if with_thumbnails else
          "<span class=none>left out (report size); in the JSONL</span>")
    findings = "".join(
        f"<div class=rule><b>{_e(f['rule_id'])}</b> "
        f"<span class=\"badge {_e(f['decision'])}\">{_e(f['decision'])}</span>"
        + (f" exempt: {_e(f['exempted_by'])}" if f.get("exempted_by") else "")
        + f"<div class=cite>{_e(f.get('citation', ''))}</div><div>{_e(f.get('reason', ''))}</div></div>"
        for f in v.get("findings", [])
    )
    status = [s for s in v.get("detector_status", []) if s["status"] not in INFORMATIONAL_STATUSES]
    findings += "".join(f"<div class=rule>{_e(s['detector'])} {_e(s['status'])}: {_e(s['message'])}</div>"
                        for s in status)
    evidence = "".join(
        f"<div class=ev><b>{_e(e['kind'])}</b> {_e(e['label'])} {float(e['score']):.2f}"
        + (f" (image {e['image_index'] + 1}{_e(_time(e.get('time_s')))})" if e.get("image_index") is not None else "")
        + f" <span class=cite>{_e(e['detector'])}: {_e(e['explanation'])}</span></div>"
        for e in ev
    ) or "<span class=none>none cited</span>"
    caption = f"<div class=caption>{_e(rec['caption'])}</div>" if rec.get("caption") else ""
    text = " ".join([rec["file"], rec.get("caption", ""), *rules, *kinds,
                     *(f"{e['label']} {e['explanation']}" for e in ev)]).lower()
    attrs = {
        "file": rec["file"].lower(), "decision": v["decision"], "rank": _RANK.get(v["decision"], 0),
        "score": f"{float(v['score']):.4f}", "rules": " ".join(rules), "kinds": " ".join(kinds),
        "time": f"{min(times):.3f}" if times else "-1", "text": text,
    }
    data = " ".join(f"data-{k}=\"{_e(val)}\"" for k, val in attrs.items())
    return (
        f"<tr class=post {data}><td class=file>{_e(rec['file'])}{caption}</td>"
        f"<td><span class=\"badge {_e(v['decision'])}\">{_e(v['decision'])}</span></td>"
        f"<td class=num>{float(v['score']):.2f}</td><td class=thumbs>{thumbs}</td>"
        f"<td>{findings}</td><td>{evidence}</td></tr>"
    )


def render_html(records: Sequence[dict[str, Any]], title: str = "Scan report") -> str:
    counts = summarise(records)
    posts = sorted((r for r in records if flagged(r)),
                   key=lambda r: (-_RANK.get(r["verdict"]["decision"], 0), -float(r["verdict"]["score"]), r["file"]))
    problems = [r for r in records if "verdict" not in r]
    dec_rows = [(d, counts["decisions"][d]) for d in (*DECISIONS, "error", "skipped") if counts["decisions"][d]]
    rule_rows = [(r, counts["citations"].get(r, ""), n) for r, n in sorted(counts["rules"].items(),
                                                                           key=lambda x: (-x[1], x[0]))]
    kind_rows = sorted(counts["kinds"].items(), key=lambda x: (-x[1], x[0]))

    def options(values: Sequence[str], label: str) -> str:
        return f"<option value=\"\">{_e(label)}</option>" + "".join(
            f"<option value=\"{_e(x)}\">{_e(x)}</option>" for x in values)

    decisions_present = [d for d in DECISIONS if any(p["verdict"]["decision"] == d for p in posts)]
    problem_rows = "".join(
        f"<tr><td class=file>{_e(r['file'])}</td><td>{_e(r.get('error_type') or r.get('skip_type', ''))}</td>"
        f"<td>{_e(r.get('error') or r.get('skipped', ''))}</td></tr>" for r in problems
    ) or "<tr><td colspan=3 class=none>none</td></tr>"
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p class=meta>{len(records)} files; {len(posts)} flagged; generated {_e(time.strftime('%Y-%m-%d %H:%M'))}"
        "</p>",
        "<section class=counts>",
        _count_table("by-decision", "Files by verdict", ("verdict", "files"), dec_rows),
        _count_table("by-rule", "Posts by rule", ("rule", "citation", "posts"), rule_rows),
        _count_table("by-kind", "Posts by kind of cited evidence", ("kind", "posts"), kind_rows),
        "</section>",
        f"<h2>Flagged posts (<span id=shown>{len(posts)}</span> of {len(posts)} shown)</h2>",
        "<div class=filters>",
        f"<select id=f-decision aria-label=verdict>{options(decisions_present, 'every verdict')}</select>",
        f"<select id=f-rule aria-label=rule>{options(sorted(counts['rules']), 'every rule')}</select>",
        f"<select id=f-kind aria-label=kind>{options(sorted(counts['kinds']), 'every kind')}</select>",
        "<input id=f-text type=search placeholder=\"search file, caption, evidence\" aria-label=search>",
        "</div>",
        "<table id=posts><thead><tr><th data-sort=file>file</th><th data-sort=rank data-type=number>verdict</th>"
        "<th data-sort=score data-type=number>score</th><th>images</th><th>rules cited</th><th>evidence</th>"
        "</tr></thead><tbody>",
        "".join(_post_row(r, i < MAX_THUMBNAIL_POSTS) for i, r in enumerate(posts)),
        "</tbody></table>",
        f"<h2>Not screened ({len(problems)})</h2>",
        "<table id=problems><thead><tr><th>file</th><th>type</th><th>reason</th></tr></thead>"
        f"<tbody>{problem_rows}</tbody></table>",
    ]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\">"
        "<meta name=viewport content=\"width=device-width,initial-scale=1\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + f"<script>{_JS}</script></body></html>\n"
    )


def write_html(records: Sequence[dict[str, Any]], path: Path, title: str = "Scan report") -> None:
    atomic_write(path, render_html(records, title).encode("utf-8"))


def read_records(path: Path) -> list[dict[str, Any]]:
    """A scan output's records (the last per file; damaged lines left out)."""
    records: dict[str, dict[str, Any]] = {}
    with Path(path).open("rb") as fh:
        for raw in fh:
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("file"), str) and raw.endswith(b"\n"):
                records.pop(rec["file"], None)
                records[rec["file"]] = rec
    return list(records.values())
