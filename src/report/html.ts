/**
 * The demo's report: one self-contained HTML page (inline SVG and CSS, no scripts, no network) with the
 * forecasts of the top SKUs, the loss curves and the variable importances of each segment.
 */

export interface SeriesChart {
  sku: string;
  coldStart: boolean;
  history: { date: string; value: number }[];
  forecast: { date: string; p10: number; p50: number; p90: number }[];
}

export interface MethodScores {
  method: string;
  wape: number;
  ql50: number;
  ql90: number;
  coverage80: number;
}

export interface SegmentReport {
  modelType: string;
  modelVersion: string | undefined;
  verdict: string | undefined;
  skus: number;
  scores: MethodScores[];
  epochs: { epoch: number; trainLoss: number; validationLoss: number | undefined }[];
  importances: { title: string; weights: Record<string, number> }[];
  series: SeriesChart[];
}

export interface ReportData {
  client: string;
  generatedAt: string;
  codeSha: string;
  pipelines: { name: string; seconds: number; status: string }[];
  forecastRows: number;
  segments: SegmentReport[];
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
const fixed = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : "–");

const W = 640;
const H = 220;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

/** Maps data to pixels; the y axis starts at zero (demand is never negative). */
function scales(xCount: number, yMax: number) {
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const top = yMax > 0 ? yMax * 1.05 : 1;
  return {
    x: (i: number) => PAD.left + (xCount <= 1 ? innerW / 2 : (i / (xCount - 1)) * innerW),
    y: (v: number) => PAD.top + innerH - (Math.max(0, v) / top) * innerH,
    top,
  };
}

function axes(yTop: number, firstLabel: string, lastLabel: string): string {
  const ticks = [0, 0.5, 1].map((f) => {
    const y = PAD.top + (H - PAD.top - PAD.bottom) * (1 - f);
    return `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}" class="grid"/><text x="${PAD.left - 6}" y="${y + 4}" text-anchor="end">${fixed(yTop * f, yTop < 10 ? 1 : 0)}</text>`;
  });
  return `${ticks.join("")}<text x="${PAD.left}" y="${H - 8}">${escapeHtml(firstLabel)}</text><text x="${W - PAD.right}" y="${H - 8}" text-anchor="end">${escapeHtml(lastLabel)}</text>`;
}

const path = (points: [number, number][]) =>
  points.map(([x, y], i) => `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`).join("");

export function forecastChart(chart: SeriesChart): string {
  const dates = [...chart.history.map((p) => p.date), ...chart.forecast.map((p) => p.date)];
  const yMax = Math.max(0, ...chart.history.map((p) => p.value), ...chart.forecast.map((p) => p.p90));
  const s = scales(dates.length, yMax);
  const h = chart.history.length;
  const band = [
    ...chart.forecast.map((p, i): [number, number] => [s.x(h + i), s.y(p.p90)]),
    ...chart.forecast.map((p, i): [number, number] => [s.x(h + i), s.y(p.p10)]).reverse(),
  ];
  const title = `${chart.sku}${chart.coldStart ? " (cold start)" : ""}`;
  return `<figure><figcaption>${escapeHtml(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">
${axes(s.top, dates[0] ?? "", dates.at(-1) ?? "")}
<path d="${path(band)}Z" class="band"/>
<path d="${path(chart.history.map((p, i) => [s.x(i), s.y(p.value)]))}" class="history"/>
<path d="${path(chart.forecast.map((p, i) => [s.x(h + i), s.y(p.p50)]))}" class="p50"/>
</svg></figure>`;
}

export function lossChart(epochs: SegmentReport["epochs"]): string {
  if (epochs.length === 0) return "";
  const values = epochs.flatMap((e) => [e.trainLoss, e.validationLoss ?? 0]);
  const s = scales(epochs.length, Math.max(...values));
  const train = path(epochs.map((e, i) => [s.x(i), s.y(e.trainLoss)]));
  const withValidation = epochs.filter((e) => e.validationLoss !== undefined);
  const validation = path(
    withValidation.map((e) => [s.x(epochs.indexOf(e)), s.y(e.validationLoss as number)] as [number, number]),
  );
  return `<figure><figcaption>Loss per epoch: <span class="key train">training</span> <span class="key validation">validation</span></figcaption><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="loss per epoch">
${axes(s.top, `epoch ${epochs[0]?.epoch}`, `epoch ${epochs.at(-1)?.epoch}`)}
<path d="${train}" class="train"/><path d="${validation}" class="validation"/>
</svg></figure>`;
}

export function importanceChart(title: string, weights: Record<string, number>): string {
  const entries = Object.entries(weights).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return "";
  const max = Math.max(...entries.map(([, v]) => v), 1e-9);
  const rowH = 18;
  const height = entries.length * rowH + 8;
  const bars = entries
    .map(([name, value], i) => {
      const y = 4 + i * rowH;
      const w = (value / max) * (W - 260);
      return `<text x="150" y="${y + 13}" text-anchor="end">${escapeHtml(name)}</text><rect x="156" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 5}" class="bar"/><text x="${(160 + w).toFixed(1)}" y="${y + 13}">${(value * 100).toFixed(1)} %</text>`;
    })
    .join("");
  return `<figure><figcaption>${escapeHtml(title)}</figcaption><svg viewBox="0 0 ${W} ${height}" role="img" aria-label="${escapeHtml(title)}">${bars}</svg></figure>`;
}

function scoresTable(scores: MethodScores[]): string {
  const best = Math.min(...scores.map((s) => s.ql50));
  const rows = scores
    .map(
      (s) =>
        `<tr${s.ql50 === best ? ' class="best"' : ""}><td>${escapeHtml(s.method)}</td><td>${fixed(s.wape)}</td><td>${fixed(s.ql50)}</td><td>${fixed(s.ql90)}</td><td>${fixed(s.coverage80 * 100, 1)} %</td></tr>`,
    )
    .join("");
  return `<table><thead><tr><th>method</th><th>WAPE</th><th>P50 QL</th><th>P90 QL</th><th>80 % coverage</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function renderReport(data: ReportData): string {
  const pipelines = data.pipelines
    .map(
      (p) =>
        `<tr><td>${escapeHtml(p.name)}</td><td>${escapeHtml(p.status)}</td><td>${p.seconds.toFixed(1)} s</td></tr>`,
    )
    .join("");
  const segments = data.segments
    .map(
      (
        segment,
      ) => `<section><h2>${escapeHtml(segment.modelType)} · ${segment.skus} SKUs · model version ${escapeHtml(segment.modelVersion ?? "–")}</h2>
${segment.verdict ? `<p>${escapeHtml(segment.verdict)}</p>` : ""}
<h3>Holdout (last horizon): TFT against the baselines</h3>${scoresTable(segment.scores)}
<h3>Forecasts of the top SKUs (history, P10–P90 band, P50)</h3><div class="grid">${segment.series.map(forecastChart).join("")}</div>
<h3>Training</h3><div class="grid">${lossChart(segment.epochs)}</div>
<h3>Variable importance</h3><div class="grid">${segment.importances.map((i) => importanceChart(i.title, i.weights)).join("")}</div>
</section>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demand forecast report · ${escapeHtml(data.client)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1360px;padding:0 1rem;color:#1d2733}
h1{font-size:1.5rem}h2{margin-top:2.5rem;border-bottom:1px solid #d6dde5;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .75rem;border-bottom:1px solid #e5e9ee;text-align:right}
td:first-child,th:first-child{text-align:left}tr.best td{font-weight:600;background:#eef7ee}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:1rem}
figure{margin:0}figcaption{font-weight:600;margin-bottom:.25rem}svg{width:100%;height:auto;font-size:11px;fill:#4a5866}
.grid line.grid,line.grid{stroke:#e5e9ee}.band{fill:#8fb8de;opacity:.45;stroke:none}
.history{fill:none;stroke:#5b6b7a;stroke-width:1.2}.p50{fill:none;stroke:#1f5fa8;stroke-width:2}
.train{fill:none;stroke:#1f5fa8;stroke-width:2}.validation{fill:none;stroke:#d9822b;stroke-width:2}
.bar{fill:#1f5fa8}.key.train{color:#1f5fa8}.key.validation{color:#d9822b}
</style></head><body>
<h1>Demand forecast report · ${escapeHtml(data.client)}</h1>
<p>Generated ${escapeHtml(data.generatedAt)} from code ${escapeHtml(data.codeSha.slice(0, 12))}; ${data.forecastRows} forecast rows exported.</p>
<table><thead><tr><th>pipeline</th><th>status</th><th>time</th></tr></thead><tbody>${pipelines}</tbody></table>
${segments}
</body></html>
`;
}
