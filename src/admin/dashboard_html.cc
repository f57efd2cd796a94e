#include "src/admin/dashboard_html.h"

namespace fiberlb::admin {
namespace {

// Polls /api/geo/status and /api/loadbalancers every second (one poll at a time, so a slow
// answer never piles requests up) and rebuilds the two sections with textContent only:
// names come from the config and are never parsed as HTML. Request rates are computed here,
// from the difference of requests_total between two polls. Status is always colour + symbol
// + word, so it reads without colour vision and in monochrome.
constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fiberlb</title>
<link rel="icon" href="data:,">
<style>
:root{--bg:#f5f6f8;--card:#fff;--ink:#1d2330;--muted:#5b6475;--line:#dde1e8;
--ok:#17803d;--ok-bg:#e3f5e9;--warn:#9a6200;--warn-bg:#fff2d6;--bad:#b42318;--bad-bg:#fde7e5;
--unk:#4b5563;--unk-bg:#eceef2;--accent:#2757d6}
@media (prefers-color-scheme:dark){:root{--bg:#12151c;--card:#1b2029;--ink:#e7eaf0;
--muted:#9aa3b5;--line:#2c3340;--ok:#5fd68a;--ok-bg:#173325;--warn:#f3c15b;--warn-bg:#3a2e12;
--bad:#ff8a80;--bad-bg:#3d1c1a;--unk:#b4bccb;--unk-bg:#2a303b;--accent:#7ea2ff}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:var(--bg);color:var(--ink)}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;padding:.8rem 1.25rem;
background:var(--card);border-bottom:1px solid var(--line)}
h1{font-size:1.3rem;margin:0;letter-spacing:.02em}
h2{font-size:1.05rem;margin:0 0 .6rem}
#meta{color:var(--muted);font-size:.9rem}
#conn{margin-left:auto}
main{padding:1rem 1.25rem;max-width:1400px;margin:0 auto}
section{margin-bottom:1.5rem}
.summary{color:var(--muted);margin:-.3rem 0 .7rem;font-size:.9rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:.75rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.75rem .9rem}
.card.active{border:2px solid var(--accent);box-shadow:0 0 0 3px color-mix(in srgb,var(--accent) 18%,transparent)}
.card h3{margin:0 0 .25rem;font-size:1rem;display:flex;gap:.4rem;align-items:center;flex-wrap:wrap}
.card .sub{color:var(--muted);font-size:.85rem;margin-bottom:.45rem}
.pill{display:inline-block;border-radius:999px;padding:.1rem .55rem;font-size:.8rem;
font-weight:600;white-space:nowrap;border:1px solid transparent}
.s-online,.s-serving,.s-live{color:var(--ok);background:var(--ok-bg);border-color:var(--ok)}
.s-degraded,.s-standby,.s-stale{color:var(--warn);background:var(--warn-bg);border-color:var(--warn)}
.s-offline,.s-ineligible,.s-down{color:var(--bad);background:var(--bad-bg);border-color:var(--bad)}
.s-unknown{color:var(--unk);background:var(--unk-bg);border-color:var(--unk)}
.s-active{color:#fff;background:var(--accent)}
.lb{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8rem .9rem;
margin-bottom:1rem}
.lb h3{margin:0 0 .5rem;font-size:1rem}
.lb .sub{color:var(--muted);font-size:.88rem;margin:-.35rem 0 .6rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:.4rem .55rem;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{color:var(--muted);font-weight:600;font-size:.8rem;text-transform:uppercase;letter-spacing:.03em}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr:last-child td{border-bottom:0}
footer{color:var(--muted);font-size:.85rem;padding:0 1.25rem 1.5rem;text-align:center}
a{color:var(--accent)}
.empty{color:var(--muted);font-style:italic}
@media (max-width:640px){
header{padding:.7rem .9rem}main{padding:.8rem .9rem}
table,tbody,tr,td{display:block;width:100%}thead{display:none}
tr{border:1px solid var(--line);border-radius:6px;margin-bottom:.6rem;padding:.3rem .5rem}
td{border:0;display:flex;justify-content:space-between;gap:1rem;padding:.2rem 0;white-space:normal}
td::before{content:attr(data-label);color:var(--muted);font-size:.8rem}
td.n{text-align:right}}
</style>
</head>
<body>
<header>
<h1>fiberlb</h1>
<span id="meta"></span>
<span id="conn" class="pill s-unknown" role="status">? connecting</span>
</header>
<main>
<section aria-labelledby="regions-h">
<h2 id="regions-h">Regions</h2>
<p class="summary" id="geo-summary"></p>
<div id="regions" class="cards"></div>
</section>
<section aria-labelledby="lbs-h">
<h2 id="lbs-h">Load balancers</h2>
<div id="lbs"></div>
</section>
</main>
<footer>Refreshes every second &middot; <a href="/health">/health</a> &middot;
<a href="/metrics">/metrics</a> &middot; <a href="/api/loadbalancers">/api/loadbalancers</a>
&middot; <a href="/api/geo/status">/api/geo/status</a></footer>
<script>
"use strict";
const STATUS={online:["\u25CF","Online"],degraded:["\u25D0","Degraded"],
offline:["\u2715","Offline"],unknown:["?","Unknown"]};
const prev=new Map();
function el(tag,cls,text){const e=document.createElement(tag);if(cls)e.className=cls;
if(text!==undefined)e.textContent=String(text);return e;}
function pill(cls,symbol,word){return el("span","pill s-"+cls,symbol+" "+word);}
function num(v){return Number(v).toLocaleString("en-US");}
async function getJson(path){const ctl=new AbortController();const t=setTimeout(()=>ctl.abort(),3000);
try{const r=await fetch(path,{cache:"no-store",signal:ctl.signal});
if(!r.ok&&r.status!==503)throw new Error(path+": HTTP "+r.status);return await r.json();}
finally{clearTimeout(t);}}
function renderRegions(geo){
const box=document.getElementById("regions");const cards=[];
const ids=Object.keys(geo.regions||{});
for(const id of ids){const r=geo.regions[id];const st=STATUS[r.status]||STATUS.unknown;
const card=el("div","card"+(r.active?" active":""));const h=el("h3");h.append(el("span","",id));
if(r.active)h.append(pill("active","\u2605","Active"));card.append(h);
if(r.display_name)card.append(el("div","sub",r.display_name));
card.append(pill(r.status in STATUS?r.status:"unknown",st[0],st[1]));
card.append(el("div","sub","priority "+r.priority+" \u00B7 "+(r.eligible_nodes??"?")+"/"+
r.node_count+" backends eligible"));
cards.push(card);}
if(!cards.length)cards.push(el("p","empty","No regions configured."));
box.replaceChildren(...cards);
document.getElementById("geo-summary").textContent=
"Active region: "+(geo.active_region||"none (no eligible backend)")+" \u00B7 "+
geo.online_regions+" of "+geo.total_regions+" regions online \u00B7 "+geo.total_nodes+" backends";}
function eligibility(b){if(!b.eligible)return pill("ineligible","\u2715","Not eligible");
return b.in_rotation?pill("serving","\u2713","Serving"):pill("standby","\u25CB","Eligible, standby");}
function cell(label,content,cls){const td=el("td",cls);td.dataset.label=label;
if(content instanceof Node)td.append(content);else td.textContent=String(content);return td;}
const COLS=[["Backend",""],["Region",""],["Address",""],["Eligibility",""],["Weight","n"],
["Active req.","n"],["Connections","n"],["Requests","n"],["Req/s","n"],["Failures","n"]];
function renderLbs(lbs,now){
const box=document.getElementById("lbs");const out=[];const seen=new Set();
for(const lb of lbs){const d=el("div","lb");
d.append(el("h3","",lb.name));
d.append(el("div","sub",lb.protocol+" \u00B7 "+lb.method+" \u00B7 "+(lb.listen||lb.vip+":"+lb.port)+
" \u00B7 routing to "+(lb.routing_region||"nothing (no eligible backend)")));
const table=el("table");const head=el("tr");
for(const [name,cls] of COLS)head.append(el("th",cls,name));
const thead=el("thead");thead.append(head);const tbody=el("tbody");let lbRate=0;
for(const b of lb.backends){const key=lb.name+"\u0000"+b.name;seen.add(key);
const p=prev.get(key);let rate="\u2013";
if(p&&now>p.t&&b.requests_total>=p.total){const r=(b.requests_total-p.total)*1000/(now-p.t);
lbRate+=r;rate=r.toFixed(1);}
prev.set(key,{total:b.requests_total,t:now});
const tr=el("tr");
tr.append(cell("Backend",b.name),cell("Region",b.region),cell("Address",b.address+":"+b.port),
cell("Eligibility",eligibility(b)),cell("Weight",b.weight,"n"),
cell("Active req.",num(b.active_requests),"n"),cell("Connections",num(b.connections),"n"),
cell("Requests",num(b.requests_total),"n"),cell("Req/s",rate,"n"),
cell("Failures",num(b.failures_total),"n"));
tbody.append(tr);}
if(!lb.backends.length){const tr=el("tr");const td=cell("","No backends.","empty");
td.colSpan=COLS.length;tr.append(td);tbody.append(tr);}
table.append(thead,tbody);const sc=el("div","scroll");sc.append(table);d.append(sc);
d.append(el("div","sub",lb.eligible_backends+" of "+lb.backends.length+
" backends eligible \u00B7 "+lb.endpoints+" serving \u00B7 "+lbRate.toFixed(1)+" req/s"));
out.push(d);}
for(const k of [...prev.keys()])if(!seen.has(k))prev.delete(k);
if(!out.length)out.push(el("p","empty","No load balancers configured."));
box.replaceChildren(...out);}
function setConn(cls,symbol,text){const c=document.getElementById("conn");
c.className="pill s-"+cls;c.textContent=symbol+" "+text;}
async function loadMeta(){try{const h=await getJson("/health");
document.getElementById("meta").textContent=h.component+" \u00B7 v"+h.version+" \u00B7 "+h.mode;}
catch(e){}}
async function poll(){
try{const [geo,lbs]=await Promise.all([getJson("/api/geo/status"),getJson("/api/loadbalancers")]);
const now=performance.now();renderRegions(geo);renderLbs(lbs,now);
setConn("live","\u25CF","Live \u00B7 "+new Date().toLocaleTimeString());}
catch(e){setConn("down","\u2715","Connection lost \u2013 retrying");}
finally{setTimeout(poll,1000);}}
loadMeta();poll();
</script>
</body>
</html>
)html";

}  // namespace

std::string_view dashboardHtml() {
  return kPage;
}

}  // namespace fiberlb::admin
