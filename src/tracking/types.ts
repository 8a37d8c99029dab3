/**
 * The Tracker: experiments, runs, params, metrics, tags, artifacts and the model registry, shaped
 * after MLflow's REST API (2.0) so the `mlflow` driver is a thin mapping and the `local` driver
 * (SQLite + the object store) behaves the same. Ids are strings, timestamps milliseconds since the
 * epoch, as MLflow has them.
 */

export type RunStatus = "RUNNING" | "FINISHED" | "FAILED" | "KILLED";
export type EndStatus = Exclude<RunStatus, "RUNNING">;

export interface Experiment {
  id: string;
  name: string;
  /** Where the experiment's runs keep their artifacts (e.g. `s3://mlflow-artifacts/1`). */
  artifactLocation: string;
  tags: Record<string, string>;
}

export interface RunInfo {
  id: string;
  experimentId: string;
  name: string | undefined;
  status: RunStatus;
  startTime: number;
  endTime: number | undefined;
  artifactUri: string;
}

export interface Metric {
  key: string;
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  step: number;
}

export interface Run {
  info: RunInfo;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** The latest value of each metric (`metricHistory` has every value). */
  metrics: Record<string, Metric>;
}

export interface LogBatch {
  metrics?: Metric[];
  params?: Record<string, string>;
  tags?: Record<string, string>;
}

export interface ArtifactEntry {
  /** Relative to the run's artifact root, `/`-separated. */
  path: string;
  isDir: boolean;
  /** Bytes, for files. */
  size: number | undefined;
}

export interface ModelVersion {
  name: string;
  version: string;
  /** The artifact location the version was created from (`runs:/<run>/<path>` or a URI). */
  source: string;
  runId: string | undefined;
  creationTimestamp: number;
  tags: Record<string, string>;
}

export interface RegisteredModel {
  name: string;
  /** alias → version, e.g. `{ champion: "3" }`. */
  aliases: Record<string, string>;
  tags: Record<string, string>;
  creationTimestamp: number;
}

export interface SearchRunsOptions {
  /** Only runs with this status. */
  status?: RunStatus;
  /** Newest first; at most this many (default 100). */
  maxResults?: number;
}

export interface SearchModelVersionsOptions {
  /** How many versions one request (or one database read) fetches; default 1000, at most 200000. */
  pageSize?: number;
}

export interface Tracker {
  readonly driver: "local" | "mlflow";
  /** Where the tracker is, for messages (a database file or a server URI, without credentials). */
  readonly location: string;

  getExperimentByName(name: string): Promise<Experiment | null>;
  /** Gets the experiment, creating it if needed; safe when several processes race to create it. */
  getOrCreateExperiment(name: string, tags?: Record<string, string>): Promise<Experiment>;

  startRun(
    experimentId: string,
    options?: { name?: string; tags?: Record<string, string>; startTime?: number },
  ): Promise<RunInfo>;
  endRun(runId: string, status: EndStatus, endTime?: number): Promise<void>;
  getRun(runId: string): Promise<Run | null>;
  /** Runs of the experiments, newest first. */
  searchRuns(experimentIds: readonly string[], options?: SearchRunsOptions): Promise<RunInfo[]>;

  /**
   * Metrics append; params are write-once (the same value again is fine, another value is refused);
   * tags overwrite. Limits are checked before anything is sent, and large batches are split.
   */
  logBatch(runId: string, batch: LogBatch): Promise<void>;
  metricHistory(runId: string, key: string): Promise<Metric[]>;

  /** Uploads a file, or a folder recursively, under `artifactPath` (default: the root). */
  logArtifacts(runId: string, localPath: string, artifactPath?: string): Promise<void>;
  listArtifacts(runId: string, path?: string): Promise<ArtifactEntry[]>;
  /** Downloads a file or folder of the run's artifacts into `destination`; returns the local path. */
  downloadArtifacts(runId: string, path: string, destination: string): Promise<string>;

  /** Gets the registered model, creating it if needed. */
  getOrCreateRegisteredModel(name: string, tags?: Record<string, string>): Promise<RegisteredModel>;
  getRegisteredModel(name: string): Promise<RegisteredModel | null>;
  /** A new version (1, 2, 3, …) of a registered model from a run's artifact path. */
  createModelVersion(
    name: string,
    options: { runId: string; artifactPath: string; tags?: Record<string, string> },
  ): Promise<ModelVersion>;
  getModelVersion(name: string, version: string): Promise<ModelVersion | null>;
  /** The newest version, or null when the model has none. */
  latestModelVersion(name: string): Promise<ModelVersion | null>;
  /**
   * Every version of every registered model, by model name, then version number; fetched a page at
   * a time as the caller iterates.
   */
  searchModelVersions(options?: SearchModelVersionsOptions): AsyncIterable<ModelVersion>;
  setAlias(name: string, alias: string, version: string): Promise<void>;
  deleteAlias(name: string, alias: string): Promise<void>;
  /** The version an alias points at, or null when the alias is not set. */
  getVersionByAlias(name: string, alias: string): Promise<ModelVersion | null>;
}
