export { type DagPlan, dagFileName, dagId, planDags, renderDag, writeDags } from "./airflow.js";
export { OrchestrateError, type OrchestrateErrorCode } from "./errors.js";
export { createLocalRunner, type LocalRunnerOptions } from "./local-runner.js";
export { createProgressView, type ProgressOptions, type ProgressView } from "./progress.js";
export { formatSeconds, runDetails, runFailure, runListLine, taskLines } from "./report.js";
export { findRun, listRuns, newRunId, runDir, runsDir, shownState } from "./run-store.js";
export {
  type BootstrapProcessOptions,
  bootstrapProcess,
  type TaskProcess,
  type TaskProcessBuilder,
  type TaskProcessContext,
} from "./task-process.js";
export type * from "./types.js";
