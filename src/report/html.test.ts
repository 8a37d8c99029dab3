import assert from "node:assert/strict";
import { test } from "node:test";
import { forecastChart, importanceChart, renderReport } from "./html.js";

const chart = {
  sku: "SKU-<1>",
  coldStart: true,
  history: [
    { date: "2026-01-01", value: 4 },
    { date: "2026-01-02", value: 8 },
  ],
  forecast: [
    { date: "2026-01-03", p10: 2, p50: 5, p90: 10 },
    { date: "2026-01-04", p10: 1, p50: 4, p90: 9 },
  ],
};

test("a forecast chart draws history, the P10–P90 band and P50 on a zero-based axis", () => {
  const svg = forecastChart(chart);
  assert.match(svg, /SKU-&lt;1&gt; \(cold start\)/);
  assert.match(svg, /class="band"/);
  assert.match(svg, /class="history"/);
  assert.match(svg, /class="p50"/);
  // The axis runs from 0 to the largest P90 (10) plus 5 % headroom: 10.5, shown rounded.
  assert.match(svg, /text-anchor="end">0<\/text>/);
  assert.match(svg, /text-anchor="end">11<\/text>/);
});

test("importances are sorted, largest first, as percentages", () => {
  const svg = importanceChart("encoder", { price: 0.2, quantity: 0.7, promo: 0.1 });
  assert.ok(svg.indexOf("quantity") < svg.indexOf("price") && svg.indexOf("price") < svg.indexOf("promo"));
  assert.match(svg, /70\.0 %/);
});

test("the report is one self-contained page: no scripts, no external resources", () => {
  const html = renderReport({
    client: "demo",
    generatedAt: "2026-11-27T00:00:00Z",
    codeSha: "0123456789abcdef0123",
    pipelines: [{ name: "training", seconds: 12.3, status: "success" }],
    forecastRows: 28,
    segments: [
      {
        modelType: "top_seller",
        modelVersion: "1",
        verdict: "version 1 is champion",
        skus: 1,
        scores: [
          { method: "tft", wape: 0.3, ql50: 0.25, ql90: 0.1, coverage80: 0.8 },
          { method: "seasonal_naive", wape: 0.4, ql50: 0.4, ql90: 0.3, coverage80: 0.6 },
        ],
        epochs: [
          { epoch: 1, trainLoss: 2, validationLoss: 1.5 },
          { epoch: 2, trainLoss: 1, validationLoss: 1.2 },
        ],
        importances: [{ title: "encoder", weights: { quantity: 1 } }],
        series: [chart],
      },
    ],
  });
  assert.doesNotMatch(html, /<script|https?:\/\/|<link/i);
  assert.match(html, /<tr class="best"><td>tft<\/td>/);
  assert.match(html, /0123456789ab/);
  assert.match(html, /12\.3 s/);
});
