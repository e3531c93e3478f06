import { escapeXml, plainLine, plainText } from './escape.ts';
import { isBlamed, isFirstFalse, selectEvents, type VisualCase } from './model.ts';
import { COORDINATOR_LANE, type TimelineEvent } from './timeline.ts';

/** Events drawn: a long run keeps its protocol and the traffic near blamed steps. */
export const MAX_HTML_EVENTS = 1_500;
const LANE_HEIGHT_PX = 30;
const LABEL_WIDTH_PX = 170;
/** Columns shrink to fit this width (a laptop screen) down to the minimum, then the lanes scroll. */
const FIT_WIDTH_PX = 1_000;
const MIN_COLUMN_WIDTH_PX = 3.5;
const MAX_COLUMN_WIDTH_PX = 12;
const TOP_PX = 40;

/**
 * One self-contained HTML file for a replayed case: verdict, blame chains, the timeline in
 * lanes (an inline SVG, one column per event, blamed events in red), fault plan, violations
 * and replay command. No network: a Content-Security-Policy forbids every fetch, and the
 * only script (click a blame link to find its event) is inline.
 */
export function toHtml(visual: VisualCase, limit: number = MAX_HTML_EVENTS): string {
  const lanes = [COORDINATOR_LANE, ...visual.timeline.taskLanes, ...visual.timeline.externalLanes];
  const events = selectEvents(visual, limit, true);
  const omitted = visual.timeline.events.length - events.length;
  const columnWidth = Math.min(MAX_COLUMN_WIDTH_PX, Math.max(MIN_COLUMN_WIDTH_PX, FIT_WIDTH_PX / Math.max(1, events.length)));
  const width = Math.ceil(Math.max(1, events.length) * columnWidth + 20);
  const height = TOP_PX + lanes.length * LANE_HEIGHT_PX + 10;
  const laneY = (lane: string): number => TOP_PX + Math.max(0, lanes.indexOf(lane)) * LANE_HEIGHT_PX + LANE_HEIGHT_PX / 2;
  const x = (column: number): number => Math.round((column * columnWidth + columnWidth / 2) * 10) / 10;

  // Lane labels stay put in their own column while the events scroll.
  const labels: string[] = [`<svg class="labels" xmlns="http://www.w3.org/2000/svg" width="${LABEL_WIDTH_PX}" height="${height}">`];
  const svg: string[] = [];
  svg.push(`<svg id="lanes" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="timeline in lanes">`);
  lanes.forEach((lane, i) => {
    const y = laneY(lane);
    const background = `<rect class="lane-bg${i % 2 === 0 ? ' even' : ''}" x="0" y="${y - LANE_HEIGHT_PX / 2}" width="${width}" height="${LANE_HEIGHT_PX}"/>`;
    labels.push(`<g class="lane" data-lane="${escapeXml(plainLine(lane, 80))}">${background}<text class="lane-label" x="6" y="${y + 4}">${escapeXml(plainLine(lane, 24))}</text></g>`);
    svg.push(`${background}<line class="lane-line" x1="0" y1="${y}" x2="${width}" y2="${y}"/>`);
  });
  labels.push('</svg>');
  events.forEach((event, column) => {
    if (event.kind === 'deploy') {
      svg.push(`<line class="attempt" x1="${x(column)}" y1="${TOP_PX - 6}" x2="${x(column)}" y2="${height}"/><text class="attempt-label" x="${x(column) + 3}" y="${TOP_PX - 8}">${escapeXml(plainLine(event.text, 60))}</text>`);
    } else if (column % Math.max(1, Math.round(100 / columnWidth)) === 0) {
      svg.push(`<text class="tick" x="${x(column)}" y="12">step ${event.step}</text>`);
    }
  });
  const columnOf = new Map(events.map((event, column) => [event.index, column]));
  // Messages between lanes (barrier, ack, trigger, notification) as thin connectors.
  events.forEach((event, column) => {
    if (event.peer === undefined || !lanes.includes(event.peer) || event.kind === 'record') return;
    svg.push(`<line class="message kind-${event.kind}" x1="${x(column)}" y1="${laneY(event.peer)}" x2="${x(column)}" y2="${laneY(event.lane)}"/>`);
  });
  for (const event of events) {
    const column = columnOf.get(event.index)!;
    const blamed = isBlamed(visual, event);
    const firstFalse = blamed && isFirstFalse(visual, event);
    const classes = ['event', `kind-${event.kind}`, ...(blamed ? ['blamed'] : []), ...(firstFalse ? ['first-false'] : [])].join(' ');
    const radius = blamed ? 6 : event.kind === 'record' || event.kind === 'emit' ? Math.min(2.5, columnWidth / 2) : 4;
    svg.push(
      `<circle class="${classes}" data-step="${event.step}" data-lane="${escapeXml(plainLine(event.lane, 80))}" cx="${x(column)}" cy="${laneY(event.lane)}" r="${radius}">` +
        `<title>${escapeXml(`step ${event.step}, ${event.timeMs} ms, attempt ${event.attempt + 1}: ${plainLine(event.text)}`)}</title></circle>`,
    );
  }
  svg.push('</svg>');

  const chains = visual.chains.map((chain, i) =>
    [
      `<div class="chain" id="chain-${i}"><h3>${escapeXml(plainLine(`${chain.property}: ${chain.subject}`))}</h3><ol>`,
      ...chain.links.map(
        (l) => `<li class="link${l.firstFalse ? ' first-false' : ''}" data-step="${l.step}"><span class="step">step ${l.step}</span> <span class="lane-name">${escapeXml(plainLine(l.lane, 40))}</span> ${escapeXml(plainLine(l.text))}</li>`,
      ),
      `</ol><p class="anomaly">⇒ ${escapeXml(plainLine(chain.anomalyClass))}; the invariant first became false at step ${chain.firstFalseStep}</p></div>`,
    ].join('\n'),
  );
  const violations = visual.violations.slice(0, 20).map((v) => `<li><b>${escapeXml(plainLine(v.property, 80))}</b> ${escapeXml(plainLine(v.anomaly, 80))}: ${escapeXml(plainLine(v.message))}</li>`);
  if (visual.violations.length > 20) violations.push(`<li>… and ${visual.violations.length - 20} more</li>`);
  const faults = visual.faultPlan.length === 0 ? ['<li>(none: the schedule alone is enough)</li>'] : visual.faultPlan.slice(0, 50).map((f) => `<li>${escapeXml(plainLine(f))}</li>`);

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(plainLine(`streamcheck: ${visual.title}`, 200))}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #1f2328; background: #fff; }
h1 { font-size: 18px; margin: 0 0 4px; } h1.fail { color: #b42318; } h1.pass { color: #1a7f37; }
h2 { font-size: 15px; margin: 18px 0 6px; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 14px; margin: 8px 0 4px; }
.meta { color: #57606a; margin: 0; }
.chain ol { margin: 0; padding-left: 22px; } .chain li { cursor: pointer; padding: 1px 4px; border-radius: 4px; }
.chain li:hover { background: #fff8c5; } .chain li.first-false { background: #ffebe9; font-weight: 600; }
.step { font-family: ui-monospace, monospace; color: #57606a; } .lane-name { font-family: ui-monospace, monospace; color: #0969da; }
.anomaly { font-weight: 600; color: #b42318; margin: 4px 0 10px; }
.lanes-wrap { display: flex; border: 1px solid #d0d7de; border-radius: 6px; overflow: hidden; } .labels { flex: none; border-right: 1px solid #d0d7de; }
.scroll { overflow-x: auto; flex: 1; }
svg text { font: 11px ui-monospace, monospace; fill: #1f2328; } svg .tick, svg .attempt-label { fill: #57606a; }
.lane-bg { fill: #ffffff; } .lane-bg.even { fill: #f6f8fa; } .lane-line { stroke: #d0d7de; }
.attempt { stroke: #8250df; stroke-dasharray: 4 3; } .message { stroke: #afb8c1; stroke-width: 1; }
.event { fill: #6e7781; } .kind-barrier, .kind-trigger, .kind-trigger-task { fill: #0969da; } .kind-ack, .kind-completed, .kind-notify { fill: #1a7f37; }
.kind-io, .kind-io-at-crash { fill: #bf8700; } .kind-fault, .kind-failover, .kind-io-failed, .kind-notify-lost, .kind-checkpoint-failed { fill: #cf222e; }
.kind-deploy, .kind-deploy-task { fill: #8250df; } .kind-record, .kind-emit { fill: #afb8c1; }
.event.blamed { fill: #ff0000; stroke: #82071e; stroke-width: 2; } .event.first-false { stroke: #000; stroke-width: 3; }
.event.focus { stroke: #fb8500; stroke-width: 4; }
pre { background: #f6f8fa; padding: 8px; border-radius: 6px; white-space: pre-wrap; word-break: break-all; }
</style>
</head>
<body>
<header>
<h1 class="${visual.passed ? 'pass' : 'fail'}">${escapeXml(plainLine(visual.title, 300))}</h1>
<p class="meta">${visual.steps} steps, ${visual.virtualTimeMs} virtual ms, trace ${escapeXml(plainLine(visual.traceHash, 20))}; ${events.length} events drawn${omitted > 0 ? `, ${omitted} more in the trace (record traffic far from the blamed steps)` : ''}</p>
</header>
<section id="blame"><h2>Blame chain</h2>
${chains.length === 0 ? '<p>No invariant was violated.</p>' : chains.join('\n')}
</section>
<section id="timeline"><h2>Timeline in lanes</h2>
<p class="meta">One column per event, in trace order; hover for the step. Red: named by the blame chain (black ring: where the invariant first became false). Dashed: a (re)deployment.</p>
<div class="lanes-wrap">${labels.join('\n')}<div class="scroll">${svg.join('\n')}</div></div>
</section>
<section id="faults"><h2>Fault plan</h2><ul>${faults.join('\n')}</ul></section>
<section id="violations"><h2>Violations</h2><ul>${violations.length === 0 ? '<li>none</li>' : violations.join('\n')}</ul></section>
<section id="replay"><h2>Replay</h2><pre><code>${escapeXml(plainText(visual.replay, 8_000))}</code></pre></section>
<script>
var firstFalse = document.querySelector('.event.first-false');
if (firstFalse) firstFalse.scrollIntoView({ block: 'nearest', inline: 'center' });
document.querySelectorAll('.chain li[data-step]').forEach(function (item) {
  item.addEventListener('click', function () {
    document.querySelectorAll('.event.focus').forEach(function (e) { e.classList.remove('focus'); });
    var target = document.querySelector('.event.blamed[data-step="' + item.getAttribute('data-step') + '"]') || document.querySelector('.event[data-step="' + item.getAttribute('data-step') + '"]');
    if (target) { target.classList.add('focus'); target.scrollIntoView({ block: 'nearest', inline: 'center' }); }
  });
});
</script>
</body>
</html>
`;
}

/** For tests and tools: the events an HTML page would draw. */
export function htmlEvents(visual: VisualCase, limit: number = MAX_HTML_EVENTS): readonly TimelineEvent[] {
  return selectEvents(visual, limit, true);
}
