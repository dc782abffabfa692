/** A small dependency-free SVG line chart: one panel per metric, x = concurrency. */

export interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  points: Array<[number, number]>;
}

export interface Panel {
  title: string;
  yLabel: string;
  series: Series[];
}

const W = 520;
const H = 340;
const M = { left: 70, right: 20, top: 40, bottom: 70 };

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function panel(p: Panel, xs: number[], offsetX: number): string {
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const yMax = niceMax(Math.max(...p.series.flatMap((s) => s.points.map(([, y]) => y))));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (v: number) => offsetX + M.left + (xMax === xMin ? pw / 2 : ((v - xMin) / (xMax - xMin)) * pw);
  const y = (v: number) => M.top + ph - (v / yMax) * ph;
  const out: string[] = [];
  out.push(
    `<text x="${offsetX + W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(p.title)}</text>`,
  );
  for (let i = 0; i <= 5; i++) {
    const v = (yMax / 5) * i;
    out.push(
      `<line x1="${offsetX + M.left}" x2="${offsetX + W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
    );
    out.push(
      `<text x="${offsetX + M.left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${Number(v.toPrecision(3))}</text>`,
    );
  }
  for (const v of xs) {
    out.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${M.top + ph}" y2="${M.top + ph + 5}" stroke="#333"/>`);
    out.push(`<text x="${x(v)}" y="${M.top + ph + 18}" text-anchor="middle" font-size="11">${v}</text>`);
  }
  out.push(
    `<line x1="${offsetX + M.left}" x2="${offsetX + W - M.right}" y1="${M.top + ph}" y2="${M.top + ph}" stroke="#333"/>`,
  );
  out.push(
    `<line x1="${offsetX + M.left}" x2="${offsetX + M.left}" y1="${M.top}" y2="${M.top + ph}" stroke="#333"/>`,
  );
  out.push(
    `<text x="${offsetX + M.left + pw / 2}" y="${M.top + ph + 36}" text-anchor="middle" font-size="12">concurrent sessions</text>`,
  );
  out.push(
    `<text transform="translate(${offsetX + 16},${M.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(p.yLabel)}</text>`,
  );
  p.series.forEach((s, i) => {
    const d = s.points
      .map(([a, b], j) => `${j === 0 ? 'M' : 'L'}${x(a).toFixed(1)},${y(b).toFixed(1)}`)
      .join(' ');
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6,4"' : ''}/>`,
    );
    for (const [a, b] of s.points) out.push(`<circle cx="${x(a)}" cy="${y(b)}" r="3" fill="${s.color}"/>`);
    const lx = offsetX + M.left + (i % 2) * 220;
    const ly = H - 14 - (i < 2 ? 12 : 0);
    out.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6,4"' : ''}/>`,
    );
    out.push(`<text x="${lx + 28}" y="${ly}" font-size="11">${esc(s.label)}</text>`);
  });
  return out.join('\n');
}

export function renderChart(panels: Panel[], xs: number[], caption: string): string {
  const width = W * panels.length;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 24}" viewBox="0 0 ${width} ${H + 24}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...panels.map((p, i) => panel(p, xs, i * W)),
    `<text x="${width / 2}" y="${H + 16}" text-anchor="middle" font-size="11" fill="#555">${esc(caption)}</text>`,
    '</svg>',
  ].join('\n');
}
