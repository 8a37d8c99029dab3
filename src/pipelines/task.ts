/**
 * What a pipeline task is: a named function of a client and a pipeline run. `tdf task <name> --client C
 * --run-id R` runs one (that is the command the local runner and Airflow's containers run through
 * `tdf-bootstrap`). Tasks talk to each other only through the object store, the tracker and the
 * forecast database, keyed by client and run id (DESIGN §2), never through local paths.
 */
import type { Config } from "../core/config.js";
import type { Logger } from "../core/logger.js";

export interface TaskContext {
  config: Config;
  logger: Logger;
  /** The client whose data the task works on (`client_name`). */
  client: string;
  /** The pipeline run this task belongs to; every task of one run gets the same id. */
  runId: string;
  /** The git SHA of the code running the task (`TDF_CODE_SHA`, set by the bootstrap); undefined in a checkout. */
  codeSha: string | undefined;
  /** Aborted when the task is asked to stop (SIGTERM/SIGINT): stop at the next safe point. */
  signal: AbortSignal;
  /** Where the task may keep scratch files; removed after the task. */
  workDir: string;
}

export interface TaskDefinition {
  /** snake_case, as in the pipeline definitions and the Airflow task ids (`transform_sales`). */
  name: string;
  description: string;
  run(context: TaskContext): Promise<void>;
}
