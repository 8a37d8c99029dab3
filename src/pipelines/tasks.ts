/** Every task that exists, by name: what `tdf task <name>` runs and what the pipeline definitions may use. */
import { dataTasks } from "./data-tasks.js";
import { inferenceTasks } from "./inference-tasks.js";
import { resolveCodeTask } from "./resolve-code.js";
import type { TaskDefinition } from "./task.js";
import { trainingTasks } from "./training-tasks.js";

export const tasks: readonly TaskDefinition[] = [resolveCodeTask, ...dataTasks, ...trainingTasks, ...inferenceTasks];

export function findTask(name: string): TaskDefinition | undefined {
  return tasks.find((task) => task.name === name);
}
