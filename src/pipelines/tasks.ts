/** Every task that exists, by name: what `tdf task <name>` runs and what the pipeline definitions may use. */
import { resolveCodeTask } from "./resolve-code.js";
import type { TaskDefinition } from "./task.js";

export const tasks: readonly TaskDefinition[] = [resolveCodeTask];

export function findTask(name: string): TaskDefinition | undefined {
  return tasks.find((task) => task.name === name);
}
