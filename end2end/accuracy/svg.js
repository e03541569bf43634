// Draws the viewers' spread over time of an accuracy run as a self-contained SVG (no
// dependencies): one panel per phase side by side (equal widths, each on its own time scale), spread in ms on a linear axis (values above
// the top are drawn at the top and marked), the 50 ms "in sync" line dashed.

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/**
 * `phases`: [{ name, samples: [{ t (ms since the phase start), spread (ms) }] }].
 * Returns the SVG text.
 */
export function spreadSvg(phases, title, { closeMs = 50 } = {}) {
  const W = 960;
  const H = 320;
  const left = 56;
  const right = 16;
  const top = 40;
  const bottom = 48;
  const gap = 14;
  const all = phases.flatMap((p) => p.samples.map((s) => s.spread)).filter(Number.isFinite);
  const sorted = [...all].sort((a, b) => a - b);
  const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? closeMs;
  const yMax = Math.max(closeMs * 2, Math.ceil((p99 * 1.2) / 10) * 10);
  const plotH = H - top - bottom;
  const y = (v) => top + plotH - (Math.min(v, yMax) / yMax) * plotH;
  const durations = phases.map((p) => Math.max(1, ...p.samples.map((s) => s.t)));
  const plotW = W - left - right - gap * (phases.length - 1);
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  // Y axis: ticks every yMax / 5.
  for (let i = 0; i <= 5; i++) {
    const v = (yMax / 5) * i;
    out.push(`<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    out.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${Math.round(v)}</text>`);
  }
  out.push(`<text x="14" y="${top + plotH / 2}" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle" fill="#555">spread between viewers (ms)</text>`);
  out.push(`<line x1="${left}" x2="${W - right}" y1="${y(closeMs)}" y2="${y(closeMs)}" stroke="#c33" stroke-dasharray="5 4"/>`);
  out.push(`<text x="${W - right - 4}" y="${y(closeMs) - 4}" text-anchor="end" fill="#c33">${closeMs} ms</text>`);
  let x0 = left;
  phases.forEach((p, i) => {
    // Equal widths: each phase on its own time scale (a 60 s phase beside an 8 s one).
    const w = plotW / phases.length;
    const x = (t) => x0 + (t / durations[i]) * w;
    out.push(`<rect x="${x0}" y="${top}" width="${w}" height="${plotH}" fill="none" stroke="#bbb"/>`);
    const pts = p.samples.filter((s) => Number.isFinite(s.spread)).map((s) => `${x(s.t).toFixed(1)},${y(s.spread).toFixed(1)}`);
    if (pts.length) out.push(`<polyline fill="none" stroke="#1f6feb" stroke-width="1.2" points="${pts.join(' ')}"/>`);
    for (const s of p.samples) {
      if (s.spread > yMax) out.push(`<circle cx="${x(s.t).toFixed(1)}" cy="${top}" r="2" fill="#c33"/>`);
    }
    out.push(`<text x="${x0 + w / 2}" y="${H - bottom + 16}" text-anchor="middle" fill="#555">${(durations[i] / 1000).toFixed(0)} s</text>`);
    out.push(`<text x="${x0 + w / 2}" y="${H - bottom + 34}" text-anchor="middle">${esc(p.name)}</text>`);
    x0 += w + gap;
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
