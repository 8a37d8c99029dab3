/**
 * Which code package each registered model version was trained with, so that `tdf code gc` never
 * deletes one a model came from: the code behind every registered model stays there to read or to
 * train with again.
 *
 * The SHA is a tag on the version. Versions registered before training wrote it there carry it only on
 * their training run, so the run is read when the version lacks it. A version with neither was trained
 * from a checkout, not from a package, and keeps no package.
 */
import type { ModelVersion, Tracker } from "./types.js";

/** Each code SHA with the model versions trained from it; `codeShaTag` names the tag that holds the SHA. */
export async function modelVersionsByCodeSha(
  tracker: Tracker,
  codeShaTag: string,
): Promise<Map<string, ModelVersion[]>> {
  const bySha = new Map<string, ModelVersion[]>();
  // Several versions can come from one run (re-registration): read each run once.
  const shaOfRun = new Map<string, string | undefined>();
  for await (const version of tracker.searchModelVersions()) {
    let sha = version.tags[codeShaTag];
    if (!sha && version.runId !== undefined) {
      if (!shaOfRun.has(version.runId)) {
        shaOfRun.set(version.runId, (await tracker.getRun(version.runId))?.tags[codeShaTag]);
      }
      sha = shaOfRun.get(version.runId);
    }
    if (!sha) continue;
    const versions = bySha.get(sha) ?? [];
    versions.push(version);
    bySha.set(sha, versions);
  }
  return bySha;
}
