/**
 * Renders one trace, as a local OTLP receiver got it, into an SVG waterfall (the README's
 * picture of a session's trace): a row per span, indented by depth, a bar from start to end.
 */
import type { ReceivedSpan } from './otlp-receiver.ts';

const ROW = 22;
const LABEL = 330;
const BARS = 560;

export function traceSvg(spans: ReceivedSpan[], title: string): string {
  const ns = (t: string) => BigInt(t);
  let t0 = ns(spans[0]!.startTimeUnixNano);
  let t1 = 0n;
  for (const s of spans) {
    if (ns(s.startTimeUnixNano) < t0) t0 = ns(s.startTimeUnixNano);
    if (ns(s.endTimeUnixNano) > t1) t1 = ns(s.endTimeUnixNano);
  }
  const total = Number(t1 - t0) || 1;
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const depth = (s: ReceivedSpan): number => {
    const parent = s.parentSpanId ? byId.get(s.parentSpanId) : undefined;
    return parent ? depth(parent) + 1 : 0;
  };
  const ordered = [...spans].sort(
    (a, b) => Number(ns(a.startTimeUnixNano) - ns(b.startTimeUnixNano)) || depth(a) - depth(b),
  );
  const esc = (text: string) =>
    text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const rows = ordered.map((s, i) => {
    const y = 40 + i * ROW;
    const x = LABEL + (Number(ns(s.startTimeUnixNano) - t0) / total) * BARS;
    const w = Math.max(2, (Number(ns(s.endTimeUnixNano) - ns(s.startTimeUnixNano)) / total) * BARS);
    const failed = s.status.code === 2;
    const ms = (Number(ns(s.endTimeUnixNano) - ns(s.startTimeUnixNano)) / 1e6).toFixed(2);
    return [
      `<text x="${8 + depth(s) * 14}" y="${y + 14}">${esc(s.name)}</text>`,
      `<rect x="${x.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="14" rx="2" fill="${failed ? '#d9534f' : '#3b7dd8'}"/>`,
      `<text x="${(x + w + 4).toFixed(1)}" y="${y + 14}" class="ms">${ms} ms${failed ? ` ${esc(String(s.attributes['error.type'] ?? 'error'))}` : ''}</text>`,
    ].join('');
  });
  const height = 50 + ordered.length * ROW;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${LABEL + BARS + 160}" height="${height}" font-family="sans-serif" font-size="12" role="img" aria-label="${esc(title)}">
<title>${esc(title)}</title>
<style>.ms{fill:#555;font-size:11px}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="8" y="22" font-weight="bold">${esc(title)}</text>
${rows.join('\n')}
</svg>
`;
}
