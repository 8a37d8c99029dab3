/** `tdf airflow render --out dags/`: the Airflow DAG files, rendered from the pipeline definitions. */
import path from "node:path";
import { type Command, Option } from "commander";
import type { CliContext } from "./main.js";

export function registerAirflowCommands(program: Command, context: CliContext): void {
  const { io } = context;
  const airflow = program.command("airflow").description("Airflow DAGs rendered from the pipeline definitions");
  airflow
    .command("render")
    .description(
      "write one DAG file per pipeline whose tasks all exist (tft_<pipeline>.py) and the module they share (tft_common.py)",
    )
    .addOption(new Option("--out <dir>", "the DAG folder").default("dags"))
    .addOption(new Option("--pipeline <name>", "only this pipeline"))
    .action(async (options: { out: string; pipeline?: string }) => {
      const [{ findPipeline, pipelines }, { tasks }, { planDags, writeDags }] = await Promise.all([
        import("../pipelines/definitions.js"),
        import("../pipelines/tasks.js"),
        import("../orchestrate/airflow.js"),
      ]);
      const chosen = options.pipeline === undefined ? pipelines : [findPipeline(options.pipeline)];
      const plan = planDags(
        chosen,
        tasks.map((t) => t.name),
      );
      for (const file of await writeDags(path.resolve(io.cwd, options.out), plan)) io.stdout.write(`${file}\n`);
    });
}
