/**
 * The `transform_events` task: the run's calendar → `calendar.parquet`, one row per period from the
 * history's first period to the end of the forecast horizon, with the calendar features and the
 * client's events (holidays, campaigns) as flags. Everything in it is known in advance.
 *
 * Daily: `day_of_week` (0 = Monday), `day_of_month`, `week_of_year` (ISO), `month`. Weekly (periods
 * are ISO weeks dated by their Monday): `week_of_year`, `month` (of the week's Thursday, as ISO
 * assigns weeks to years). Both: `is_event` (any event in the period), `is_holiday` (an event whose
 * `kind` is `holiday`), `events` (the names, `+`-joined, `none` without any) and `is_future`.
 */
import { type DataContext, scratchFile, uploadFile, withEngine } from "./context.js";
import { sqlString } from "./engine.js";
import { runKeys } from "./layout.js";
import { rawRelation, typed } from "./raw-inputs.js";
import { openValidatedSource, readValidation } from "./validated.js";

export interface CalendarTransformResult {
  periods: number;
  eventDays: number;
}

/** The calendar's feature columns (besides `date`, `events` and `is_future`), per frequency. */
export const calendarFeatures = {
  daily: ["is_event", "is_holiday", "day_of_week", "day_of_month", "week_of_year", "month"],
  weekly: ["is_event", "is_holiday", "week_of_year", "month"],
} as const;

export async function transformEvents(context: DataContext): Promise<CalendarTransformResult> {
  const report = await readValidation(context);
  return withEngine(context, async (engine) => {
    const { periods } = report;
    const table = await openValidatedSource(context, engine, report, "events");
    const first = `DATE ${sqlString(periods.start)}`;
    const last = `DATE ${sqlString(periods.futureEndDay)}`;
    const events = table
      ? `SELECT DISTINCT ${typed("date", "date")} AS date, ${typed("event", "text")} AS event,
                ${table.columns.includes("kind") ? `lower(${typed("kind", "text")})` : "NULL::VARCHAR"} AS kind
         FROM ${rawRelation(table)} WHERE ${typed("date", "date")} BETWEEN ${first} AND ${last}`
      : "SELECT NULL::DATE AS date, NULL::VARCHAR AS event, NULL::VARCHAR AS kind LIMIT 0";
    await engine.run(
      `CREATE TEMP TABLE days AS
       WITH ev AS (${events})
       SELECT d.day, count(ev.event)::INTEGER AS n_events, coalesce(bool_or(ev.kind = 'holiday'), false) AS holiday,
              string_agg(DISTINCT ev.event, '+' ORDER BY ev.event) AS names
       FROM (SELECT unnest(generate_series(${first}, ${last}, INTERVAL 1 DAY))::DATE AS day) d
       LEFT JOIN ev ON ev.date = d.day GROUP BY d.day`,
    );
    const end = `DATE ${sqlString(periods.end)}`;
    const select =
      report.settings.frequency === "weekly"
        ? `SELECT date, (max(n_events) > 0)::INTEGER AS is_event, bool_or(holiday)::INTEGER AS is_holiday,
                  weekofyear(date)::INTEGER AS week_of_year, month(date + INTERVAL 3 DAY)::INTEGER AS month,
                  coalesce(string_agg(DISTINCT names, '+' ORDER BY names), 'none') AS events,
                  (date > ${end})::INTEGER AS is_future
           FROM (SELECT date_trunc('week', day)::DATE AS date, * FROM days) GROUP BY date`
        : `SELECT day AS date, (n_events > 0)::INTEGER AS is_event, holiday::INTEGER AS is_holiday,
                  (isodow(day) - 1)::INTEGER AS day_of_week, day(day)::INTEGER AS day_of_month,
                  weekofyear(day)::INTEGER AS week_of_year, month(day)::INTEGER AS month,
                  coalesce(names, 'none') AS events, (day > ${end})::INTEGER AS is_future
           FROM days`;
    const file = await scratchFile(context, "calendar.parquet");
    await engine.run(`COPY (${select} ORDER BY date) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`);
    const [result = { periods: 0, eventDays: 0 }] = await engine.rows<CalendarTransformResult>(
      `SELECT (SELECT count(*) FROM read_parquet(${sqlString(file)}))::INTEGER AS periods,
              (SELECT count(*) FROM days WHERE n_events > 0)::INTEGER AS eventDays`,
    );
    await uploadFile(context, runKeys(context.client, context.runId).calendar, file);
    context.logger.info({ ...result }, "calendar built");
    return result;
  });
}
