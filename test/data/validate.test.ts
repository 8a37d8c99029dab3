/**
 * Validation: one hostile input per rule, each reported with its file, row, column, value and rule;
 * the problem list is capped but the count is not; a failed run writes nothing and leaves latest.json
 * as it was.
 */
import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { openEngine, sqlString } from "../../src/data/engine.js";
import { DataValidationError } from "../../src/data/errors.js";
import type { ValidationProblem, ValidationRule } from "../../src/data/problems.js";
import { validationRules } from "../../src/data/problems.js";
import { type ValidationReport, validateRawData } from "../../src/data/validate.js";
import { rejectsWith } from "../helpers/assertions.js";
import { createDataFixture, csv, type DataFixture, days } from "./helpers.js";

let fixture: DataFixture;
before(async () => {
  fixture = await createDataFixture();
});
after(async () => {
  await fixture.remove();
});

const goodSales = csv(
  "date,sku,quantity",
  days("2024-03-04", 10).flatMap((d, i) => [
    [d, "A", i + 1],
    [d, "B", 2],
  ]),
);

/** Replaces the client's raw folder and settings. */
async function rawFiles(files: Record<string, string | Uint8Array>, settings?: unknown): Promise<void> {
  for await (const entry of fixture.store.list("training-data", "acme/")) {
    await fixture.store.delete("training-data", entry.key);
  }
  await fixture.raw(files, settings);
}

/** Validates and returns the problems, failing the test when validation passes. */
async function problemsOf(runId: string): Promise<{ error: DataValidationError; problems: ValidationProblem[] }> {
  try {
    await validateRawData(await fixture.context(runId));
  } catch (error) {
    assert.ok(error instanceof DataValidationError, `expected a DataValidationError, got ${String(error)}`);
    return { error, problems: [...error.problems] };
  }
  assert.fail("validation passed");
}

async function toParquet(text: string): Promise<Uint8Array> {
  const dir = await fsp.mkdtemp(path.join(fixture.root, "pq-"));
  const engine = await openEngine({ workDir: dir, threads: 1 });
  try {
    await fsp.writeFile(path.join(dir, "in.csv"), text);
    await engine.run(
      `COPY (SELECT * FROM read_csv(${sqlString(path.join(dir, "in.csv"))}, all_varchar = true)) TO ${sqlString(path.join(dir, "out.parquet"))} (FORMAT parquet)`,
    );
    return await fsp.readFile(path.join(dir, "out.parquet"));
  } finally {
    engine.close();
  }
}

/** One case per rule: the files that break it and the problem expected first. */
const cases: Record<
  ValidationRule,
  {
    files: () => Promise<Record<string, string | Uint8Array>>;
    settings?: unknown;
    expect: Partial<Omit<ValidationProblem, "message">> & { message?: RegExp | string };
  }
> = {
  missing_file: {
    files: async () => ({ "products.csv": csv("sku,category", [["A", "x"]]) }),
    expect: {
      rule: "missing_file",
      file: "sales.csv",
      message: /is missing: put the sales history at training-data\/acme\/raw\/sales\.csv/,
    },
  },
  ambiguous_file: {
    files: async () => ({ "sales.csv": goodSales, "sales.parquet": await toParquet(goodSales) }),
    expect: { rule: "ambiguous_file", file: "sales.csv, sales.parquet", message: /keep exactly one/ },
  },
  unreadable_file: {
    files: async () => ({ "sales.parquet": "date,sku,quantity\nthis is no parquet file\n" }),
    expect: { rule: "unreadable_file", file: "sales.parquet", message: /not a readable Parquet file/ },
  },
  empty_file: {
    files: async () => ({ "sales.csv": "date,sku,quantity\n" }),
    expect: { rule: "empty_file", file: "sales.csv", message: "has a header but no rows" },
  },
  missing_column: {
    files: async () => ({ "sales.csv": csv("date,sku,qty", [["2024-03-04", "A", 1]]) }),
    expect: {
      rule: "missing_column",
      file: "sales.csv",
      column: "quantity",
      message: 'has no "quantity" column; the columns found are: date, sku, qty',
    },
  },
  malformed_row: {
    files: async () => ({ "sales.csv": `${goodSales}2024-03-20,A,1,extra\n` }),
    expect: {
      rule: "malformed_row",
      file: "sales.csv",
      row: 21,
      value: "2024-03-20,A,1,extra",
      message: /Expected Number of Columns: 3 Found: 4/,
    },
  },
  missing_value: {
    files: async () => ({
      "sales.csv": csv("date,sku,quantity", [
        ["2024-03-04", "A", 1],
        ["2024-03-05", " ", 2],
      ]),
    }),
    expect: { rule: "missing_value", file: "sales.csv", row: 2, column: "sku", message: /every row needs a sku/ },
  },
  unparseable_date: {
    files: async () => ({
      "sales.csv": csv("date,sku,quantity", [
        ["2024-03-04", "A", 1],
        ["04/03/2024", "A", 2],
      ]),
    }),
    expect: { rule: "unparseable_date", row: 2, column: "date", value: "04/03/2024", message: /YYYY-MM-DD/ },
  },
  invalid_number: {
    files: async () => ({
      "sales.csv": csv("date,sku,quantity", [
        ["2024-03-04", "A", "three"],
        ["2024-03-05", "A", "inf"],
      ]),
    }),
    expect: { rule: "invalid_number", row: 1, column: "quantity", value: "three", message: "is not a number" },
  },
  negative_quantity: {
    files: async () => ({
      "sales.csv": csv("date,sku,quantity", [
        ["2024-03-04", "A", 1],
        ["2024-03-05", "A", -3],
      ]),
    }),
    expect: {
      rule: "negative_quantity",
      row: 2,
      column: "quantity",
      value: "-3",
      message: /set "returns" to "net" or "drop"/,
    },
  },
  negative_price: {
    files: async () => ({ "sales.csv": goodSales, "prices.csv": csv("date,sku,price", [["2024-03-04", "A", "-1.5"]]) }),
    expect: { rule: "negative_price", file: "prices.csv", row: 1, column: "price", value: "-1.5" },
  },
  invalid_promo: {
    files: async () => ({
      "sales.csv": goodSales,
      "prices.csv": csv("date,sku,price,promo", [["2024-03-04", "A", "2", "yes please"]]),
    }),
    expect: { rule: "invalid_promo", file: "prices.csv", row: 1, column: "promo", value: "yes please" },
  },
  date_out_of_range: {
    files: async () => ({ "sales.csv": `${goodSales}2924-03-05,A,1\n` }),
    expect: {
      rule: "date_out_of_range",
      row: 21,
      column: "date",
      value: "2924-03-05",
      message: /sales cannot be dated in the future/,
    },
  },
  duplicate_key: {
    files: async () => ({ "sales.csv": `${goodSales}2024-03-05,B,7\n` }),
    settings: { duplicates: "reject" },
    expect: {
      rule: "duplicate_key",
      row: 21,
      column: "date, sku",
      value: "2024-03-05, B",
      message: /repeats the date, sku of row 4/,
    },
  },
  unknown_sku: {
    files: async () => ({
      "sales.csv": goodSales,
      "prices.csv": csv("date,sku,price", [
        ["2024-03-04", "A", 2],
        ["2024-03-04", "Z", 3],
        ["2024-03-06", "Z", 3],
      ]),
    }),
    expect: {
      rule: "unknown_sku",
      file: "prices.csv",
      row: 2,
      column: "sku",
      value: "Z",
      message: /has prices \(2 rows\) but no sales/,
    },
  },
  frequency_mismatch: {
    files: async () => ({
      "sales.csv": csv(
        "date,sku,quantity",
        ["2024-03-04", "2024-03-11", "2024-03-18", "2024-03-25"].map((d) => [d, "A", 5]),
      ),
    }),
    expect: { rule: "frequency_mismatch", column: "date", message: /every date is a Monday: the sales look weekly/ },
  },
};

describe("every validation rule has a hostile file", () => {
  test("the cases cover every rule", () => {
    assert.deepEqual(Object.keys(cases).sort(), [...validationRules].sort());
  });
  for (const [rule, { files, settings, expect }] of Object.entries(cases)) {
    test(rule, async () => {
      await rawFiles(await files(), settings);
      const { error, problems } = await problemsOf(`bad-${rule}`);
      const found = problems.find((p) => p.rule === rule);
      assert.ok(found, `no ${rule} problem in: ${error.message}`);
      const { message, ...fields } = expect;
      for (const [key, value] of Object.entries(fields)) {
        assert.equal(found[key as keyof ValidationProblem], value, `${key} of ${JSON.stringify(found)}`);
      }
      if (message instanceof RegExp) assert.match(found.message, message);
      else if (message !== undefined) assert.equal(found.message, message);
      assert.equal(error.code, "DATA_INVALID");
      assert.match(
        error.message,
        /^The raw data in training-data\/acme\/raw\/ has \d+ problems?; nothing was written\./,
      );
      assert.match(error.message, new RegExp(`\\[${rule}\\]`));
    });
  }
});

test("every problem of a run is reported: several rules and files at once", async () => {
  await rawFiles({
    "sales.csv": csv("date,sku,quantity", [
      ["2024-03-04", "A", 1],
      ["2024-02-30", "A", "x"],
      ["2024-03-06", "", -1],
    ]),
    "prices.csv": csv("date,sku,price,promo", [["2024-03-04", "A", "-2", 3]]),
  });
  const { error, problems } = await problemsOf("many");
  assert.deepEqual(
    problems.map((p) => [p.file, p.row, p.column, p.rule]),
    [
      ["sales.csv", 2, "date", "unparseable_date"],
      ["sales.csv", 2, "quantity", "invalid_number"],
      ["sales.csv", 3, "sku", "missing_value"],
      ["sales.csv", 3, "quantity", "negative_quantity"],
      ["prices.csv", 1, "price", "negative_price"],
      ["prices.csv", 1, "promo", "invalid_promo"],
    ],
  );
  assert.equal(error.total, 6);
});

test("the problem list is capped, the count is not, and the message shows the first ones", async () => {
  const rows = [...days("2024-01-01", 250).map((d) => [d, "A", "n/a"]), ["2024-09-07", "A", 1]];
  await rawFiles({ "sales.csv": csv("date,sku,quantity", rows) });
  const { error, problems } = await problemsOf("capped");
  assert.equal(error.total, 250);
  assert.equal(problems.length, 100);
  assert.deepEqual(
    problems.slice(0, 3).map((p) => p.row),
    [1, 2, 3],
  );
  assert.match(error.message, /has 250 problems/);
  assert.match(error.message, /sales\.csv, row 1, column "quantity": "n\/a": is not a number \[invalid_number\]/);
  assert.match(error.message, /… and 240 more$/);
  assert.equal(error.message.split("\n").length, 12);
});

test("sales without a single positive quantity are refused", async () => {
  await rawFiles({
    "sales.csv": csv("date,sku,quantity", [
      ["2024-03-04", "A", 0],
      ["2024-03-05", "B", 0],
    ]),
  });
  const { problems } = await problemsOf("no-demand");
  assert.deepEqual(
    problems.map((p) => [p.rule, p.message]),
    [["empty_file", "has no row with a positive quantity: there is no demand to learn from"]],
  );
});

test("rows after a malformed row keep their row numbers in the file", async () => {
  await rawFiles({
    "sales.csv": "date,sku,quantity\n2024-03-04,A,1\n2024-03-05,A,1,9\n2024-03-06,A,x\n",
  });
  const { problems } = await problemsOf("rows");
  assert.deepEqual(
    problems.map((p) => [p.rule, p.row]),
    [
      ["malformed_row", 2],
      ["invalid_number", 3],
    ],
  );
});

test("Parquet inputs are checked with their row numbers, and column names match in any case", async () => {
  await rawFiles({
    "sales.parquet": await toParquet("Date,SKU,Quantity\n2024-03-04,A,1\n2024-03-05,A,-4\n"),
  });
  const { problems } = await problemsOf("parquet");
  assert.deepEqual(
    problems.map((p) => [p.file, p.row, p.column, p.value, p.rule]),
    [["sales.parquet", 2, "quantity", "-4", "negative_quantity"]],
  );
});

test("client.json problems are all listed at once", async () => {
  await rawFiles(
    { "sales.csv": goodSales },
    { frequency: "hourly", horizon: 0, duplicate: "sum", segmentation: { cv2: -1 } },
  );
  await assert.rejects(
    validateRawData(await fixture.context("settings")),
    rejectsWith("DATA_SETTINGS_INVALID", /client\.json has 4 problems/),
  );
});

test("a valid client: validation.json holds the settings, the inputs with their ETags and the periods", async () => {
  await rawFiles(
    {
      "sales.csv": goodSales,
      "products.csv": csv("sku,category", [
        ["A", "x"],
        ["C", "y"],
      ]),
    },
    { frequency: "weekly", horizon: 4 },
  );
  const report = await validateRawData(await fixture.context("ok"));
  const stored = await fixture.json<ValidationReport>("acme/ok/validation.json");
  assert.deepEqual(stored, report);
  assert.equal(report.settings.frequency, "weekly");
  assert.equal(report.inputs.sales?.rows, 20);
  assert.match(report.inputs.sales?.etag ?? "", /^[0-9a-f]{32}$/);
  assert.deepEqual(report.warnings, ["1 SKU in products.csv has no sales and is ignored."]);
  // Daily sales 2024-03-04 (Mon) … 2024-03-13 (Wed): one whole week; the partial second week is left out.
  assert.deepEqual(report.periods, {
    start: "2024-03-04",
    end: "2024-03-04",
    futureStart: "2024-03-11",
    futureEnd: "2024-04-01",
    historyEndDay: "2024-03-10",
    futureEndDay: "2024-04-07",
    count: 1,
  });
});

test("a failed validation writes nothing and leaves latest.json untouched", async () => {
  await rawFiles({ "sales.csv": goodSales });
  await validateRawData(await fixture.context("good"));
  const latest =
    '{"runId":"good","createdAt":"2024-01-01T00:00:00.000Z","summary":"acme/good/consolidated/summary.json"}';
  await fixture.store.put("data-pipeline", "acme/latest.json", latest);
  const before = await fixture.outputs();

  await rawFiles({ "sales.csv": `${goodSales}2024-03-20,A,-1\n` });
  await problemsOf("broken");
  assert.deepEqual(await fixture.outputs(), before);
  assert.ok(!before.some((key) => key.startsWith("acme/broken/")));
  const after = await fixture.store.getBytes("data-pipeline", "acme/latest.json");
  assert.equal(Buffer.from(after ?? []).toString(), latest);
});
