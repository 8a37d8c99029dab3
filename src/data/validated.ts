/** How the tasks after `validate` read the run's validation report and exactly the raw files it checked. */
import { type DataContext, readRunJson } from "./context.js";
import type { Engine } from "./engine.js";
import { runKeys, type SourceName } from "./layout.js";
import { describeRaw, downloadRaw, type RawTable } from "./raw-inputs.js";
import type { ValidationReport } from "./validate.js";

export function readValidation(context: DataContext): Promise<ValidationReport> {
  return readRunJson<ValidationReport>(context, runKeys(context.client, context.runId).validation, "validate");
}

/** The validated raw file of a source, downloaded; undefined when the client has none. */
export async function openValidatedSource(
  context: DataContext,
  engine: Engine,
  report: ValidationReport,
  source: SourceName,
): Promise<RawTable | undefined> {
  const input = report.inputs[source];
  if (!input) return undefined;
  const path = await downloadRaw(context, input, input.etag);
  return describeRaw(engine, input, path);
}
