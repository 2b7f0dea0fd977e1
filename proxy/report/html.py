"""``--format html``: one self-contained page to attach to a bug report.

Nothing is loaded from anywhere: the style and a small script are inline, the page's
Content-Security-Policy allows only those two (by hash) and no network at all, fonts
are the reader's own. Per session: the one-sentence verdict and the culprit, the
ladder (inline SVG), every message's decoded fields and bytes (``<details>``: a click
on a ladder row opens its detail, a click on a field highlights its bytes), the
evidence table, the negotiated summary, the certificates, stack fingerprints where the
events carry them. With several sessions an overview comes first.

Plain string building with :func:`html.escape` on every value (one place,
:meth:`_Text.__call__`): the page is a handful of fixed fragments, and a template
engine would add a dependency without removing any code.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape

from proxy.compare.diff import SessionDiff
from proxy.compare.render import diff_text
from proxy.decode.dtls.fields import FieldNode
from proxy.events import Check, MessageSeen, iso_time
from proxy.report.model import (
    DIFF_MARK,
    CertificateView,
    Detail,
    Row,
    SessionBlock,
    SessionData,
    alert_sentence,
    build_rows,
    certificates,
    culprit_text,
    evidence,
    headline,
    row_detail,
    side_name,
    stacks,
    summary_facts,
)
from proxy.report.options import ReportOptions, certificate_names, is_key_material
from proxy.report.redact import Pseudonyms, Scrub
from proxy.report.svg import ladder_svg

HEX_WIDTH = 16
"""Bytes per line of a hex dump (the script draws the same layout)."""

CSS = """
:root{--fg:#1b1f24;--muted:#5b6570;--line:#d0d7de;--c2s:#0b6e99;--s2c:#2a7a2e;
--err:#c40000;--culprit:#ff8700;--copy:#8a6d00;--fault:#a0007d;--shade:#f3f6f9;--bg:#fff}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1200px;padding:12px;font:15px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg);
overflow-wrap:break-word}
h1{font-size:1.35em;margin:.2em 0}h2{font-size:1.2em;margin:0 0 .3em}
h3{font-size:1.02em;margin:1.1em 0 .35em;border-bottom:1px solid var(--line)}
a{color:var(--c2s)}code,pre,.mono{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace}
.src{color:var(--muted);margin:.2em 0 1em}
section.session{border-top:3px solid var(--line);padding-top:.6em;margin-top:1.2em}
section.session.trouble{border-top-color:var(--err)}
.state{display:inline-block;white-space:nowrap;padding:0 .45em;border-radius:3px;font-size:.8em;
font-weight:bold;text-transform:uppercase;vertical-align:middle;background:#e6e9ed}
.state.failed,.state.alert,.state.stalled{background:var(--err);color:#fff}
.state.established{background:#d6f0d8;color:#14501a}.state.handshaking{background:#fff0c2}
.verdict{font-size:1.1em;font-weight:600;margin:.3em 0;padding:.45em .6em;
border-left:5px solid var(--muted);background:var(--shade)}
.trouble .verdict{border-left-color:var(--err)}
.culprit-line{margin:.25em 0}.culprit-tag{background:var(--culprit);color:#000;
font-weight:bold;padding:0 .35em;border-radius:2px}
.alert-line{color:var(--err);font-weight:600;margin:.25em 0}
.tobe{color:var(--muted);margin:.25em 0}
.story{display:grid;gap:12px;grid-template-columns:minmax(0,1fr)}.story>*{min-width:0}
@media(min-width:1000px){.story{grid-template-columns:minmax(0,560px) minmax(0,1fr)}}
svg.ladder{width:100%;max-width:560px;height:auto;display:block;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
svg .lane-role{font-size:12px;font-weight:bold}svg .lane-label{font-size:10.5px;fill:var(--muted)}
svg .life{stroke:#9aa4ad;stroke-dasharray:3 3}
svg .time{font-size:9.5px;fill:var(--muted)}svg .flight{font-size:10.5px;font-weight:bold}
svg .label{font-size:11.5px}svg .note{font-size:10.5px;fill:var(--muted)}
svg .hit{fill:transparent}svg .shade{fill:var(--shade)}svg .band{fill:var(--culprit)}
svg .row{cursor:pointer}svg .row:hover .hit,svg .row:hover .shade{fill:#e3ecf5}
svg .row.sel rect{stroke:#1f5fbf;stroke-width:1.5}
svg .arrow{stroke-width:1.6}
svg .c2s .arrow{stroke:var(--c2s)}svg .c2s .head{fill:var(--c2s)}svg .c2s .label{fill:var(--c2s)}
svg .s2c .arrow{stroke:var(--s2c)}svg .s2c .head{fill:var(--s2c)}svg .s2c .label{fill:var(--s2c)}
svg .encrypted .arrow{stroke-dasharray:6 3}
svg .k-alert .arrow{stroke:var(--err);stroke-width:2.6}svg .k-alert .head{fill:var(--err)}
svg .k-alert .label{fill:var(--err);font-weight:bold}
svg .culprit .arrow{stroke:#000;stroke-width:2.6}svg .culprit .head{fill:#000}
svg .culprit .label{fill:#000;font-weight:bold}
svg .k-fault .arrow{stroke:var(--fault);stroke-dasharray:2 2}svg .k-fault .head{fill:var(--fault)}
svg .k-fault .label{fill:var(--fault);font-weight:bold}
svg .k-copies .label{fill:var(--copy);font-weight:bold}
svg .k-verdict .label{fill:#b35c00;font-weight:bold}
svg .k-malformed .arrow{stroke:var(--err)}svg .k-malformed .label{fill:var(--err)}
.legend{font-size:.8em;color:var(--muted);margin:.2em 0}
.legend b{color:#000;background:var(--culprit);padding:0 .3em}.legend .e{color:var(--err)}
details.msglist>summary{font-weight:600;cursor:pointer}
details.msg{border:1px solid var(--line);border-radius:4px;margin:3px 0}
details.msg>summary{cursor:pointer;padding:.15em .4em;font-size:.92em;overflow-wrap:anywhere}
details.msg[open]>summary{background:var(--shade)}
details.msg.culprit>summary{background:var(--culprit);color:#000;font-weight:bold}
details.msg.alert>summary{color:var(--err);font-weight:600}
.detail{padding:.3em .5em;overflow-x:auto}
ul.tree{list-style:none;margin:0;padding-left:1em;overflow-wrap:anywhere}.detail>ul.tree{font-size:.86em}
ul.tree>li{padding-left:0}.detail>ul.tree{padding-left:0}
ul.tree li>span.f{cursor:pointer;border-radius:2px}ul.tree li.on>span.f{background:#ffe27a}
ul.tree .k{font-weight:600}ul.tree .at{color:var(--muted);font-size:.85em}
.bytes{display:flex;gap:1em;margin-top:.4em}
pre.hex,pre.asc{margin:0;font-size:12px;line-height:1.35}
pre.asc{color:var(--muted)}mark{background:#ffd23f;color:#000}
@media(max-width:560px){pre.asc{display:none}pre.hex{font-size:10.5px}
table.evidence thead{display:none}table.evidence tr{display:grid;
grid-template-columns:4.2em minmax(0,1fr)}table.evidence td:nth-child(3){grid-column:1/-1}
body{font-size:14px;padding:8px}
svg .label{font-size:13px}svg .note{font-size:12px}svg .time{font-size:11px}
svg .flight{font-size:12px}svg .lane-role{font-size:13px}svg .lane-label{font-size:12px}}
ul.sessions{padding-left:1.1em;margin:.3em 0}ul.sessions li{margin:.25em 0}
ul.sessions .between{color:var(--muted)}
table{border-collapse:collapse;width:100%;font-size:.9em;table-layout:fixed}
th.r{width:4.2em}th.c{width:28%}h4{margin:.5em 0 .2em;font-size:.95em}
th,td{border:1px solid var(--line);padding:.25em .4em;text-align:left;vertical-align:top;
overflow-wrap:break-word}td:nth-child(3){overflow-wrap:anywhere}
th{background:var(--shade)}td.r{white-space:nowrap;font-weight:bold}
tr.fail td.r{color:#fff;background:var(--err)}tr.pass td.r{color:#14501a}
tr.na td.r{color:var(--muted)}
ul.vals{margin:.2em 0 0;padding-left:1.1em;font-size:.9em;color:var(--muted)}
dl.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.1em .8em;margin:0}
dl.facts dt{font-weight:600}dl.facts dd{margin:0;overflow-wrap:anywhere}
dl.facts dd.mono{font-size:.85em}
.fp{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.85em;
overflow-wrap:anywhere}
pre.difftext{font-size:12px;overflow-x:auto;margin:.3em 0}.diffsum{margin:.2em 0}
ul.changes li{font-weight:600}
footer{margin-top:2em;color:var(--muted);font-size:.85em;border-top:1px solid var(--line)}
@media print{body{max-width:none;font-size:11pt}details.msglist{display:none}
section.session{break-before:auto}tr,svg.ladder{break-inside:avoid}.story{display:block}}
""".strip()

SCRIPT = """
(function(){
function esc(c){return c==='&'?'&amp;':c==='<'?'&lt;':c==='>'?'&gt;':c}
function dump(box,s,e){
var pre=box.querySelector('pre.hex'),asc=box.querySelector('pre.asc');if(!pre)return;
var h=pre.getAttribute('data-hex'),n=h.length/2,W=16,hx=[],as=[];
for(var o=0;o<n;o+=W){var l=('000'+o.toString(16)).slice(-4)+'  ',a='',on=false;
for(var i=o;i<Math.min(o+W,n);i++){var b=h.substr(2*i,2),c=parseInt(b,16),
ch=esc(c>=32&&c<127?String.fromCharCode(c):'.'),m=i>=s&&i<e;
if(m&&!on){l+='<mark>';a+='<mark>';on=true}if(!m&&on){l+='</mark>';a+='</mark>';on=false}
l+=b;a+=ch;var nx=i+1<Math.min(o+W,n);if(on&&!(i+1>=s&&i+1<e)){l+='</mark>';a+='</mark>';on=false}
if(nx)l+=(i-o===7)?'  ':' '}
if(on){l+='</mark>';a+='</mark>'}hx.push(l);as.push(a)}
pre.innerHTML=hx.join('\\n');if(asc)asc.innerHTML=as.join('\\n')}
function open(id,scroll){var d=document.getElementById(id);if(!d)return;
for(var p=d;p;p=p.parentElement)if(p.tagName==='DETAILS')p.open=true;
var old=document.querySelectorAll('.row.sel');
for(var i=0;i<old.length;i++)old[i].classList.remove('sel');
var rows=document.querySelectorAll('[data-m="'+id+'"]');
for(i=0;i<rows.length;i++)rows[i].classList.add('sel');
if(scroll)d.scrollIntoView({block:'nearest'});
try{history.replaceState(null,'','#'+id)}catch(x){}}
document.addEventListener('click',function(ev){var t=ev.target;if(!t.closest)return;
var r=t.closest('[data-m]');if(r){ev.preventDefault();open(r.getAttribute('data-m'),true);return}
var f=t.closest('li[data-s]');if(f){var box=f.closest('.detail');if(!box)return;
var on=box.querySelectorAll('li.on');for(var i=0;i<on.length;i++)on[i].classList.remove('on');
if(f.getAttribute('data-s')===''){dump(box,-1,-1);return}
f.classList.add('on');dump(box,+f.getAttribute('data-s'),+f.getAttribute('data-e'))}});
if(location.hash)open(decodeURIComponent(location.hash.slice(1)),true);
})();
""".strip()


def _digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (f"default-src 'none'; style-src {_digest(CSS)}; script-src {_digest(SCRIPT)}; "
       "img-src data:; base-uri 'none'; form-action 'none'")
"""Nothing but the page's own style and script, by hash: no request can leave the page,
and no markup that slipped through escaping could run."""


class _Text:
    """Every text of a session goes through here: redacted, then escaped."""

    def __init__(self, scrub: Scrub) -> None:
        self.scrub = scrub

    def __call__(self, text: object) -> str:
        return escape(self.scrub(str(text)), quote=True)


def session_block(sd: SessionData, opts: ReportOptions) -> SessionBlock:
    """One session's section of the page (and what the overview says of it)."""
    esc = _Text(Scrub(certificate_names(sd) if opts.redact_certificates else ()))
    rows = build_rows(sd)
    head = headline(sd)
    state = sd.state
    parts = [f'<section class="session{" trouble" if sd.troubled else ""}" id="{esc(sd.sid)}" '
             f'data-state="{esc(state)}">',
             f'<h2>{esc(sd.sid)} <span class="state {esc(state)}">{esc(state)}</span> '
             f'{esc(side_name(sd, "client"))} ⇄ {esc(side_name(sd, "server"))}</h2>',
             f'<p class="verdict">{esc(head)}</p>']
    culprit = culprit_text(sd)
    if culprit:
        parts.append(f'<p class="culprit-line"><span class="culprit-tag">◆ culprit</span> '
                     f"{esc(culprit)}</p>")
    alert = alert_sentence(sd)
    if alert and sd.verdicts:
        parts.append(f'<p class="alert-line">✖ {esc(alert)}</p>')
    for v in sd.verdicts[:-1]:
        parts.append(f'<p class="tobe">also: {esc(v.code)}: {esc(v.reason)}</p>')
    if sd.summary is not None and sd.summary.note:
        parts.append(f'<p class="tobe">{esc(sd.summary.note)}</p>')
    for pv in sd.peer_views.values():
        parts.append(f'<p class="tobe">peer\'s view: {esc(pv.sentence)}</p>')
    if sd.verdicts and sd.verdicts[-1].to_be_certain:
        parts.append(f'<p class="tobe">to be certain: {esc(sd.verdicts[-1].to_be_certain)}</p>')
    left = ("client", sd.client_label)
    right = ("server", sd.server_label)
    parts.append('<div class="story"><div>')
    parts.append(ladder_svg(rows, left, right, sd.first_ts, esc, f"{sd.sid} ladder"))
    parts.append('<p class="legend">◆ <b>culprit</b> · <span class="e">✖ alert</span> · '
                 "dashed: encrypted on the wire ([…] when not decrypted) · ↻ retransmissions "
                 "(counts) · click a row for its fields and bytes</p></div>")
    parts.append(_details(sd, rows, esc, opts))
    parts.append("</div>")
    parts.append(_evidence(sd, esc))
    parts.append(_negotiated(sd, esc))
    parts.append(_certificates(sd, esc, opts))
    found = stacks(sd)
    if found:
        parts.append("<h3>Stack fingerprints</h3>" + _facts(found, esc))
    parts.append(DIFF_MARK)
    parts.append("</section>")
    return SessionBlock(sd.sid, state, esc.scrub(head), sd.troubled, sd.first_ts, sd.last_ts,
                        "\n".join(parts),
                        esc.scrub(f"{side_name(sd, 'client')} ⇄ {side_name(sd, 'server')}"))


def _details(sd: SessionData, rows: Sequence[Row], esc: _Text, opts: ReportOptions) -> str:
    out = [f'<details class="msglist" id="{esc(sd.sid)}-messages"><summary>Messages and rows '
           f"({len(rows)}): decoded fields and bytes</summary>"]
    for row in rows:
        if row.kind in ("traffic", "more"):
            continue
        d = row_detail(sd, row)
        if opts.redact_certificates and isinstance(row.event, MessageSeen) and \
                row.event.type == "Certificate":
            d = _certificate_withheld(d)
        classes = "msg" + (" culprit" if row.culprit else "") + (
            " alert" if row.kind == "alert" else "")
        mark = "◆ CULPRIT · " if row.culprit else ""
        info = f" · {row.info}" if row.info and row.kind != "verdict" else ""
        out.append(f'<details class="{classes}" id="{esc(row.anchor)}"><summary>{mark}'
                   f"+{row.ts - sd.first_ts:.3f}s {esc(d.title)}{esc(info)}</summary>"
                   f'<div class="detail">{_tree(d.nodes, esc)}{_bytes(d)}</div></details>')
    out.append("</details>")
    return "\n".join(out)


def _steps(d: SessionDiff) -> str:
    """``dtlsproxy diff``'s text without its first line (the sentence shown above it)."""
    text = diff_text(d)
    head, _, rest = text.partition("\n")
    return rest if head == d.summary else text


def diff_part(ref: str, d: SessionDiff, opts: ReportOptions) -> str:
    """A failed session compared with ``ref``, one that established: the sentence, then
    message by message (``dtlsproxy diff``'s text)."""
    esc = _Text(Scrub(certificate_names([*d.a.messages, *d.b.messages])
                      if opts.redact_certificates else ()))
    return (f'<h3>Compared with <a href="#{escape(ref)}">{escape(ref)}</a>, which '
            f'established</h3><p class="diffsum">{esc(d.summary)}</p>'
            '<details class="diff"><summary>message by message (A: '
            f'{escape(ref)}, B: this session)</summary><pre class="difftext">'
            f"{esc(_steps(d))}</pre></details>")


def _certificate_withheld(d: Detail) -> Detail:
    """A Certificate's detail with only the fingerprints (``--redact certificates``)."""
    def prints(nodes: Sequence[FieldNode]) -> list[FieldNode]:
        out: list[FieldNode] = []
        for n in nodes:
            if n.label == "fingerprint sha-256":
                out.append(FieldNode(n.label, n.value, None))
            out += prints(n.children)
        return out

    seen = [n for n in d.nodes if n.label in ("seen", "handshake header")]
    return Detail(d.title, (*seen, FieldNode("certificates", "withheld (--redact "
                                             "certificates): fingerprints only", None,
                                             tuple(prints(d.nodes)))))


def _tree(nodes: Sequence[FieldNode], esc: _Text) -> str:
    if not nodes:
        return ""
    items = []
    for n in nodes:
        if n.span is not None:
            at = f' data-s="{n.span[0]}" data-e="{n.span[1]}"'
            where = f' <span class="at">[{n.span[0]}–{n.span[1]})</span>'
        else:
            at, where = ' data-s=""', ""
        value = f': <span class="v">{esc(n.value)}</span>' if n.value else ""
        items.append(f'<li{at}><span class="f"><span class="k">{esc(n.label)}</span>'
                     f"{value}{where}</span>{_tree(n.children, esc)}</li>")
    return '<ul class="tree">' + "".join(items) + "</ul>"


def hex_lines(raw: bytes, width: int = HEX_WIDTH) -> tuple[list[str], list[str]]:
    """(offset and hex, printable characters) per line, as the page's script draws them."""
    hexes, chars = [], []
    for off in range(0, len(raw), width):
        chunk = raw[off:off + width]
        cells = [f"{b:02x}" for b in chunk]
        line = " ".join(cells[:8]) + ("  " + " ".join(cells[8:]) if len(cells) > 8 else "")
        hexes.append(f"{off:04x}  {line}")
        chars.append("".join(chr(b) if 32 <= b < 127 else "." for b in chunk))
    return hexes, chars


def _bytes(d: Detail) -> str:
    if not d.raw:
        return ""
    hexes, chars = hex_lines(d.raw)
    if d.highlight is not None:
        lo, hi = d.highlight
        hexes = [_mark_line(line, n * HEX_WIDTH, lo, hi) for n, line in enumerate(hexes)]
    return (f'<div class="bytes"><pre class="hex" data-hex="{d.raw.hex()}">' + "\n".join(hexes)
            + '</pre><pre class="asc">' + "\n".join(escape(x) for x in chars) + "</pre></div>")


def _mark_line(line: str, first: int, lo: int, hi: int) -> str:
    """A hex line with the bytes in [lo, hi) marked (a malformed datagram's offset)."""
    head, cells = line[:6], line[6:].replace("  ", " ").split(" ")
    out = [f"<mark>{c}</mark>" if lo <= first + i < hi else c for i, c in enumerate(cells)]
    return head + " ".join(out[:8]) + ("  " + " ".join(out[8:]) if len(out) > 8 else "")


def _evidence(sd: SessionData, esc: _Text) -> str:
    source, checks = evidence(sd)
    if not checks:
        return ('<h3>Evidence</h3><p class="tobe">no checks were run (no verdict, and no '
                "completed handshake to check)</p>")
    rows = []
    for c in checks:
        if not isinstance(c, Check):
            continue
        cls, mark = {True: ("pass", "pass"), False: ("fail", "FAIL"), None: ("na", "n/a")}[
            c.passed]
        values = [(k, v) for k, v in c.values.items() if not is_key_material(k)]
        vals = ("<ul class=\"vals\">" + "".join(
            f'<li>{esc(k)}: <span class="mono">{esc(v)}</span></li>' for k, v in values)
            + "</ul>") if values else ""
        rows.append(f'<tr class="{cls}"><td class="r">{mark}</td><td>{esc(c.name)}</td>'
                    f"<td>{esc(c.detail)}{vals}</td></tr>")
    failed = sum(isinstance(c, Check) and c.passed is False for c in checks)
    return (f"<h3>Evidence <small>({esc(source)}: {len(checks)} checks, {failed} failed)"
            "</small></h3><table class=\"evidence\"><thead><tr><th class=\"r\">result</th>"
            "<th class=\"c\">check</th><th>detail</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table>")


def _facts(facts: Sequence[tuple[str, str]], esc: _Text) -> str:
    return '<dl class="facts">' + "".join(
        f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts) + "</dl>"


def _negotiated(sd: SessionData, esc: _Text) -> str:
    if sd.summary is None:
        return ""
    counts = []
    if sd.stun:
        counts.append(("STUN", str(sd.stun)))
    if sd.rtp or sd.rtcp:
        counts.append(("media", f"{sd.rtp} RTP, {sd.rtcp} RTCP packets"))
    times = [("first seen", iso_time(sd.first_ts)), ("last seen", iso_time(sd.last_ts))]
    return "<h3>Negotiated</h3>" + _facts([*summary_facts(sd.summary), *counts, *times], esc)


def _certificates(sd: SessionData, esc: _Text, opts: ReportOptions) -> str:
    certs = certificates(sd)
    if not certs:
        encrypted = any(m.encrypted for m in sd.messages)
        why = ("encrypted (DTLS 1.3 hides certificates; a key log would show them)"
               if encrypted else "none was sent")
        return f'<h3>Certificates</h3><p class="tobe">{why}</p>'
    note = ('<p class="tobe">subjects, issuers, keys and validity withheld '
            "(--redact certificates)</p>" if opts.redact_certificates else "")
    return "<h3>Certificates</h3>" + note + "".join(_certificate(c, esc, opts) for c in certs)


def _certificate(c: CertificateView, esc: _Text, opts: ReportOptions) -> str:
    who = f"{c.role}'s certificate" + ("" if c.position == 0 else f" (chain {c.position})")
    facts = [("SHA-256", c.fingerprint or "?")]
    s = c.summary
    if c.error:
        facts.append(("error", c.error))
    if s is not None and not opts.redact_certificates:
        key = s.key_type + (f" {s.curve}" if s.curve else "") + (
            f" {s.key_size} bits" if s.key_size and not s.curve else "")
        signed = "self-signed" if s.self_signed else ("self-issued" if s.self_issued else "no")
        facts += [("subject", s.subject), ("issuer", s.issuer), ("self-signed", signed),
                  ("key", key), ("signature", s.signature_algorithm),
                  ("valid", f"{s.not_before} – {s.not_after}"), ("serial", s.serial)]
    return f'<h4>{esc(who)}</h4>' + _facts(facts, esc)


# ------------------------------------------------------------------ the page


def page(blocks: Sequence[SessionBlock], opts: ReportOptions) -> str:
    """The whole document: head, overview (two sessions or more), the sessions."""
    shown = blocks[:opts.max_sessions]
    body = [f"<header><h1>{escape(opts.title)}</h1>"
            f'<p class="src">{escape(_source_line(blocks, opts))}</p></header>']
    if len(blocks) > 1:
        body.append(_overview(blocks, len(shown), opts))
    if not blocks:
        body.append(f"<p>no DTLS or STUN found{' in ' + escape(opts.source) if opts.source else ''}"
                    "</p>")
    body += [b.text for b in shown]
    body.append(_footer(opts))
    text = "\n".join(body)
    if opts.redact_addresses:
        text = Pseudonyms().sub(text)
    title = _title(blocks, opts)
    if opts.redact_addresses:
        title = Pseudonyms().sub(title)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="generator" content="dtlsproxy">\n'
            f"<title>{escape(title)}</title>\n<style>{CSS}</style></head>\n<body>\n"
            f"{text}\n<script>{SCRIPT}</script>\n</body></html>\n")


def _title(blocks: Sequence[SessionBlock], opts: ReportOptions) -> str:
    if len(blocks) == 1:
        b = blocks[0]
        return f"{b.sid} {b.state}: {b.headline[:120]}"
    bad = sum(b.troubled for b in blocks)
    return f"{opts.title}: {len(blocks)} sessions, {bad} with trouble"


def _source_line(blocks: Sequence[SessionBlock], opts: ReportOptions) -> str:
    parts = []
    if opts.source:
        parts.append(opts.source)
    if blocks:
        first = min(b.first_ts for b in blocks)
        last = max(b.last_ts for b in blocks)
        parts.append(f"{iso_time(first)} – {iso_time(last)}")
    parts.append(f"{len(blocks)} session{'s' if len(blocks) != 1 else ''}")
    return " · ".join(parts)


def _overview(blocks: Sequence[SessionBlock], shown: int, opts: ReportOptions) -> str:
    counts: dict[str, int] = {}
    for b in blocks:
        counts[b.state] = counts.get(b.state, 0) + 1
    order = ("failed", "alert", "stalled", "handshaking", "unconfirmed", "established", "idle")
    states = [s for s in order if s in counts] + sorted(set(counts) - set(order))
    out = ['<section id="overview"><h2>Overview</h2>',
           "<p>" + escape(f"{len(blocks)} sessions: " + ", ".join(
               f"{counts[s]} {s}" for s in states)) + "</p>"]
    if opts.overview_notes:
        out.append("<h3>What changed</h3><ul class=\"changes\">" + "".join(
            f"<li>{escape(line)}</li>" for line in opts.overview_notes) + "</ul>")
    if opts.overview_groups:
        out.append("<details class=\"groups\"><summary>By outcome and handshake shape"
                   "</summary><table><thead><tr><th class=\"r\">sessions</th><th>outcome "
                   "and shape</th></tr></thead><tbody>" + "".join(
                       f"<tr><td>{n}</td><td>{escape(text)}</td></tr>"
                       for n, text in opts.overview_groups) + "</tbody></table></details>")
    items = []
    for i, b in enumerate(blocks):
        sid = (f'<a href="#{escape(b.sid)}">{escape(b.sid)}</a>' if i < shown
               else escape(b.sid))
        items.append(f'<li class="{"fail" if b.troubled else "pass"}"><b>{sid}</b> '
                     f'<span class="state {escape(b.state)}">{escape(b.state)}</span> '
                     f'<span class="between">{escape(b.title)}</span>: {escape(b.headline)}</li>')
    out.append('<ul class="sessions">' + "".join(items) + "</ul>")
    if shown < len(blocks):
        out.append(f'<p class="tobe">{len(blocks) - shown} more sessions are listed here but '
                   "not drawn: choose them with --session ID</p>")
    out.append("</section>")
    return "\n".join(out)


def _footer(opts: ReportOptions) -> str:
    red = [w for w, on in (("addresses replaced by pseudonyms", opts.redact_addresses),
                           ("certificates shown by fingerprint only",
                            opts.redact_certificates)) if on]
    return ("<footer><p>Made by dtlsproxy. This page is self-contained: it loads nothing "
            "(no network, no fonts, no scripts from elsewhere) and works offline. Key "
            "material never appears in it." + (f" Redacted: {escape('; '.join(red))}."
                                               if red else "") + "</p></footer>")
