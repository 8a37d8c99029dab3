/** The promotion rule: a new version becomes champion only when it beats the best baseline and the champion. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { judge } from "./training-tasks.js";

const base = {
  baselineName: "seasonal_naive",
  candidate: "3",
  champion: null,
  evaluatedChampion: undefined,
  championQl: undefined,
};

test("the first version that beats the best baseline becomes champion", () => {
  const verdict = judge({ ...base, tft: 0.3, baseline: 0.4 });
  assert.equal(verdict.promote, true);
  assert.match(verdict.reason, /no champion/);
});

test("a baseline that wins (or ties) keeps the new version out, and says which baseline", () => {
  for (const baseline of [0.2, 0.3]) {
    const verdict = judge({ ...base, tft: 0.3, baseline });
    assert.equal(verdict.promote, false);
    assert.match(verdict.reason, /seasonal_naive/);
  }
});

test("the champion stays when it is at least as good on the same holdout", () => {
  const champion = { version: "2" };
  const kept = judge({ ...base, tft: 0.3, baseline: 0.4, champion, evaluatedChampion: "2", championQl: 0.29 });
  assert.equal(kept.promote, false);
  assert.match(kept.reason, /champion 2/);
  const promoted = judge({ ...base, tft: 0.3, baseline: 0.4, champion, evaluatedChampion: "2", championQl: 0.31 });
  assert.equal(promoted.promote, true);
});

test("a champion that changed after the evaluation is not replaced blindly", () => {
  const verdict = judge({
    ...base,
    tft: 0.1,
    baseline: 0.4,
    champion: { version: "5" },
    evaluatedChampion: "2",
    championQl: 0.3,
  });
  assert.equal(verdict.promote, false);
  assert.match(verdict.reason, /changed to 5/);
});

test("a champion that could not be evaluated on this data gives way to a version that beats the baselines", () => {
  const verdict = judge({ ...base, tft: 0.3, baseline: 0.4, champion: { version: "2" } });
  assert.equal(verdict.promote, true);
  assert.match(verdict.reason, /could not be evaluated/);
});
