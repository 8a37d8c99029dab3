/**
 * The demo's report in a real browser: `renderReport` writes the page, headless Chromium (Debian's
 * `chromium`, driven by playwright-core) opens it from a file, and the test measures what was drawn —
 * not that the file exists. Chromium is found as TDF_CHROMIUM or `chromium` on PATH; without it the test
 * is skipped with a loud notice, and under CI it fails instead (.ci/run installs it).
 */
import assert from "node:assert/strict";
import { accessSync, constants } from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";
import { type ReportData, renderReport, type SegmentReport } from "../../src/report/html.js";

function chromiumPath(): string | undefined {
  const candidates = process.env.TDF_CHROMIUM
    ? [process.env.TDF_CHROMIUM]
    : (process.env.PATH ?? "")
        .split(path.delimiter)
        .flatMap((dir) => [path.join(dir, "chromium"), path.join(dir, "chromium-browser")]);
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  if (process.env.CI) {
    throw new Error("Chromium is not installed under CI; .ci/run must install Debian's chromium package.");
  }
  return undefined;
}

const chromium = chromiumPath();
const skip = chromium
  ? false
  : "no Chromium: install it (sudo apt-get install -y chromium) or set TDF_CHROMIUM to run the browser test";
if (skip) process.stderr.write(`\n!!! SKIPPING THE BROWSER TEST: ${skip}\n\n`);

/*
 * The page's side of the test runs in Chromium. The project compiles without the DOM library, so the
 * few browser members it uses are declared here, for this file only.
 */
interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
interface PageElement {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
  getAttribute(name: string): string | null;
  readonly textContent: string | null;
  getBoundingClientRect(): Box;
  /** SVG graphics elements: the box in the element's own user units. */
  getBBox(): Box;
  getTotalLength(): number;
  getPointAtLength(length: number): { x: number; y: number };
  isPointInFill(point: { x: number; y: number }): boolean;
}
declare function getComputedStyle(element: PageElement): {
  fill: string;
  stroke: string;
  strokeWidth: string;
  opacity: string;
  visibility: string;
};

const day = (offset: number) => new Date(Date.UTC(2026, 0, 1 + offset)).toISOString().slice(0, 10);

/** A weekly-seasonal history and a widening forecast band, P10 < P50 < P90 everywhere. */
function series(sku: string, level: number, coldStart = false): SegmentReport["series"][number] {
  const historyLength = coldStart ? 3 : 42;
  const history = Array.from({ length: historyLength }, (_, i) => ({
    date: day(i),
    value: Math.max(0, level + level * 0.4 * Math.sin((2 * Math.PI * i) / 7) + ((i * 7) % 5) - 2),
  }));
  const forecast = Array.from({ length: 14 }, (_, i) => {
    const p50 = level + level * 0.4 * Math.sin((2 * Math.PI * (historyLength + i)) / 7);
    const spread = level * (0.2 + 0.03 * i);
    return { date: day(historyLength + i), p10: Math.max(0, p50 - spread), p50, p90: p50 + 1.5 * spread };
  });
  return { sku, coldStart, history, forecast };
}

const segment = (modelType: string, skus: SegmentReport["series"]): SegmentReport => ({
  modelType,
  modelVersion: "3",
  verdict: `version 3 of demo-${modelType} is champion: its P50 loss beats the best baseline`,
  skus: skus.length * 40,
  scores: [
    { method: "tft", wape: 0.28, ql50: 0.21, ql90: 0.09, coverage80: 0.79 },
    { method: "seasonal_naive", wape: 0.41, ql50: 0.33, ql90: 0.2, coverage80: 0.55 },
    { method: "moving_average", wape: 0.37, ql50: 0.3, ql90: 0.18, coverage80: 0.61 },
  ],
  epochs: Array.from({ length: 6 }, (_, i) => ({
    epoch: i + 1,
    trainLoss: 1.2 / (i + 1),
    validationLoss: i === 5 ? undefined : 1.1 / (i + 1) + 0.05,
  })),
  importances: [
    { title: "Encoder variables", weights: { quantity: 0.55, price: 0.25, promo: 0.15, is_event: 0.05 } },
    { title: "Static variables", weights: { category: 0.6, brand: 0.3, demand_class: 0.1 } },
  ],
  series: skus,
});

const data: ReportData = {
  client: "demo",
  generatedAt: "2026-11-27T12:00:00Z",
  codeSha: "0123456789abcdef0123456789abcdef01234567",
  pipelines: [
    { name: "data_transformation", seconds: 12.4, status: "success" },
    { name: "training", seconds: 151.2, status: "success" },
    { name: "inference", seconds: 9.8, status: "success" },
  ],
  forecastRows: 3360,
  segments: [
    segment("top_seller", [series("SKU-0001", 120), series("SKU-0002", 80), series("SKU-0003", 45)]),
    segment("long_tail", [series("SKU-0100", 4), series("SKU-0101", 1.5), series("SKU-NEW", 2, true)]),
  ],
};

describe("the report in headless Chromium", { skip, timeout: 60_000 }, () => {
  let browser: Browser;
  let page: Page;
  let dir: string;
  let url: string;
  const requests: string[] = [];
  const problems: string[] = [];

  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-report-browser-"));
    const file = path.join(dir, "report.html");
    await fsp.writeFile(file, renderReport(data));
    url = pathToFileURL(file).href;
    const { chromium: launcher } = await import("playwright-core");
    browser = await launcher.launch({ executablePath: chromium as string, headless: true });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on("request", (request) => requests.push(request.url()));
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));
    await page.goto(url, { waitUntil: "load" });
  });
  after(async () => {
    await browser?.close();
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  });

  test("the page loads nothing but itself and logs no errors", () => {
    assert.deepEqual(requests, [url]);
    assert.deepEqual(problems, []);
  });

  test("every chart is drawn at a real size", async () => {
    const sizes = await page.$$eval("svg", (svgs: PageElement[]) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        return { label: svg.getAttribute("aria-label"), width: box.width, height: box.height };
      }),
    );
    // Per segment: three SKU charts, the loss chart, two importance charts.
    assert.equal(sizes.length, 2 * (3 + 1 + 2));
    for (const size of sizes) {
      assert.ok(size.width > 200 && size.height > 20, `${size.label} is drawn ${size.width}×${size.height}`);
    }
  });

  test("each forecast chart has its history, a P10–P90 band and a P50 line inside the band", async () => {
    const charts = await page.$$eval("figure", (figures: PageElement[]) =>
      figures
        .filter((figure) => figure.querySelector("path.band"))
        .map((figure) => {
          const svg = figure.querySelector("svg") as PageElement;
          const band = figure.querySelector("path.band") as PageElement;
          const p50 = figure.querySelector("path.p50") as PageElement;
          const [bandBox, p50Box, historyBox] = [band, p50, figure.querySelector("path.history")].map((element) => {
            const b = element?.getBBox();
            return b && { x: b.x, y: b.y, width: b.width, height: b.height };
          });
          // Points along the P50 line, away from its ends, in the chart's own coordinates.
          const length = p50.getTotalLength();
          const inside = [0.1, 0.3, 0.5, 0.7, 0.9].map((f) => {
            const point = p50.getPointAtLength(length * f);
            return band.isPointInFill({ x: point.x, y: point.y });
          });
          const style = getComputedStyle(band);
          const lineStyle = getComputedStyle(p50);
          return {
            caption: figure.querySelector("figcaption")?.textContent ?? "",
            rendered: svg.getBoundingClientRect().width,
            band: bandBox as Box,
            p50: p50Box as Box,
            history: historyBox,
            inside,
            bandVisible: style.fill !== "none" && Number(style.opacity) > 0 && style.visibility === "visible",
            lineVisible: lineStyle.stroke !== "none" && Number.parseFloat(lineStyle.strokeWidth) > 0,
          };
        }),
    );
    assert.deepEqual(
      charts.map((c) => c.caption),
      ["SKU-0001", "SKU-0002", "SKU-0003", "SKU-0100", "SKU-0101", "SKU-NEW (cold start)"],
    );
    for (const chart of charts) {
      const at = `chart ${chart.caption}`;
      assert.ok(chart.rendered > 200, `${at}: not drawn`);
      assert.ok(chart.band.width > 50 && chart.band.height > 5, `${at}: the band is ${JSON.stringify(chart.band)}`);
      assert.ok(chart.p50.width > 50, `${at}: the P50 line is ${JSON.stringify(chart.p50)}`);
      assert.ok(chart.bandVisible && chart.lineVisible, `${at}: the band or the P50 line is invisible`);
      // The P50 line spans the forecast period, as the band does, and lies within it.
      assert.ok(
        Math.abs(chart.p50.x - chart.band.x) < 0.5,
        `${at}: P50 starts at ${chart.p50.x}, the band at ${chart.band.x}`,
      );
      assert.ok(Math.abs(chart.p50.width - chart.band.width) < 0.5, `${at}: P50 and the band differ in width`);
      assert.ok(chart.p50.y >= chart.band.y && chart.p50.y + chart.p50.height <= chart.band.y + chart.band.height);
      assert.deepEqual(chart.inside, [true, true, true, true, true], `${at}: the P50 line leaves the band`);
      // The history comes before the forecast.
      assert.ok(chart.history && chart.history.width > 0, `${at}: no history drawn`);
      assert.ok(chart.history.x + chart.history.width <= chart.band.x, `${at}: the history overlaps the forecast`);
    }
  });

  test("the loss chart draws training and validation loss; importances are bars, largest first", async () => {
    const loss = await page.$$eval("svg[aria-label='loss per epoch']", (svgs: PageElement[]) =>
      svgs.map((svg) =>
        ["path.train", "path.validation"].map((selector) => {
          const b = (svg.querySelector(selector) as PageElement).getBBox();
          return { width: b.width, height: b.height };
        }),
      ),
    );
    assert.equal(loss.length, 2);
    for (const [train, validation] of loss) {
      // Training loss falls over six epochs; validation is known for five of them.
      assert.ok(train && train.width > 100 && train.height > 10, `training loss drawn ${JSON.stringify(train)}`);
      assert.ok(validation && validation.width > 50 && validation.width < (train?.width ?? 0));
    }
    const bars = await page.$$eval("svg", (svgs: PageElement[]) =>
      svgs
        .filter((svg) => svg.querySelector("rect.bar"))
        .map((svg) => [...svg.querySelectorAll("rect.bar")].map((bar) => bar.getBoundingClientRect().width)),
    );
    assert.deepEqual(
      bars.map((widths) => widths.length),
      [4, 3, 4, 3],
    );
    for (const widths of bars) {
      assert.ok(
        widths.every((w, i) => w > 0 && (i === 0 || w <= (widths[i - 1] as number))),
        `bars ${widths}`,
      );
    }
  });

  test("the tables show the pipelines and each segment's scores, the best method marked", async () => {
    const tables = await page.$$eval("table", (elements: PageElement[]) =>
      elements.map((table) => {
        const box = table.getBoundingClientRect();
        return {
          visible: box.width > 0 && box.height > 0,
          rows: [...table.querySelectorAll("tbody tr")].map((tr) =>
            [...tr.querySelectorAll("td")].map((td) => td.textContent?.trim()),
          ),
          best: [...table.querySelectorAll("tr.best td:first-child")].map((td) => td.textContent),
        };
      }),
    );
    assert.equal(tables.length, 3);
    assert.ok(tables.every((t) => t.visible));
    assert.deepEqual(
      tables[0]?.rows.map((r) => r[0]),
      ["data_transformation", "training", "inference"],
    );
    assert.deepEqual(tables[0]?.rows[1], ["training", "success", "151.2 s"]);
    for (const scores of tables.slice(1)) {
      assert.deepEqual(
        scores.rows.map((r) => r[0]),
        ["tft", "seasonal_naive", "moving_average"],
      );
      assert.deepEqual(scores.rows[0], ["tft", "0.280", "0.210", "0.090", "79.0 %"]);
      assert.deepEqual(scores.best, ["tft"]);
    }
    const headings = await page.$$eval("h2", (h: PageElement[]) => h.map((e) => e.textContent));
    assert.deepEqual(headings, ["top_seller · 120 SKUs · model version 3", "long_tail · 120 SKUs · model version 3"]);
  });
});
