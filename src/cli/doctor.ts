/**
 * `tdf doctor`: checks what the pipelines need of the object store, with the configured keys, and
 * prints one line per check; each failing line says what to fix. Exits non-zero when any check fails.
 */
import { Readable } from "node:stream";
import type { Command } from "commander";
import type { Config } from "../core/config.js";
import { TdfError } from "../core/errors.js";
import type { ObjectStore } from "../storage/types.js";
import type { CliContext } from "./main.js";

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const MiB = 1024 * 1024;
const probePrefix = ".tdf-doctor/";
// The global Web Crypto, not node:crypto: this module loads on every CLI start, the probes rarely.
const probeId = () => crypto.randomUUID().slice(0, 8);

async function attempt(name: string, run: () => Promise<string>, fix: (error: Error) => string): Promise<Check> {
  try {
    return { name, ok: true, detail: await run() };
  } catch (error) {
    return { name, ok: false, detail: fix(error as Error) };
  }
}

const messageOf = (error: Error) => error.message;

async function readable(store: ObjectStore, bucket: string): Promise<string> {
  for await (const _ of store.list(bucket)) return "listed";
  return "listed (empty)";
}

async function checkS3(config: Config & { storage: { driver: "s3" } }): Promise<Check[]> {
  const { s3Store } = await import("../storage/s3.js");
  const { storage } = config;
  const checks: Check[] = [];
  const runtimeKey = storage.airflow ?? storage.cicd;
  const ciKey = storage.cicd;
  if (runtimeKey === undefined) throw new TdfError("CONFIG_INVALID", "No access key is configured for the S3 store.");
  const runtime = s3Store({ endpoint: storage.endpoint, region: storage.region, ...runtimeKey, maxAttempts: 2 });
  const runtimeName = storage.airflow ? "runtime key (GARAGE_AIRFLOW_*)" : "CI key (GARAGE_CICD_*, no runtime key set)";

  const reach = await attempt(
    `endpoint ${storage.endpoint} reachable`,
    async () => {
      await runtime.head(storage.buckets.code, `${probePrefix}reachability`).catch((error: { code?: string }) => {
        // Any answer from the server proves it is reachable; only a network failure does not.
        if (error.code === "STORAGE_UNREACHABLE") throw error;
      });
      return "answers";
    },
    messageOf,
  );
  checks.push(reach);
  if (!reach.ok) return checks;

  checks.push(
    await attempt(
      `region "${storage.region}" accepted`,
      async () => {
        await runtime.head(storage.buckets.code, `${probePrefix}region`).catch((error: Error & { code?: string }) => {
          if (/region/i.test(error.message) || /AuthorizationHeaderMalformed/.test(error.message)) throw error;
        });
        return "signed requests accepted";
      },
      (error) => `${error.message} Set GARAGE_REGION to the server's s3_region.`,
    ),
  );

  for (const [role, bucket] of Object.entries(storage.buckets)) {
    checks.push(
      await attempt(
        `bucket ${bucket} (${role}) readable with the ${runtimeName}`,
        () => readable(runtime, bucket),
        messageOf,
      ),
    );
  }

  if (storage.airflow) {
    const key = `${probePrefix}write-${probeId()}`;
    checks.push(
      await attempt(
        `code bucket not writable with the runtime key (least privilege)`,
        async () => {
          try {
            await runtime.put(storage.buckets.code, key, "probe");
          } catch (error) {
            if ((error as { code?: string }).code === "STORAGE_ACCESS_DENIED") return "write refused, as it should be";
            throw error;
          }
          await runtime.delete(storage.buckets.code, key).catch(() => {});
          throw new Error(
            `the runtime key can write to bucket "${storage.buckets.code}"; give it read-only access there (Garage: \`garage bucket allow --read\` only).`,
          );
        },
        messageOf,
      ),
    );
  }

  if (ciKey) {
    const ci = s3Store({
      endpoint: storage.endpoint,
      region: storage.region,
      ...ciKey,
      partSize: 5 * MiB,
      maxAttempts: 2,
    });
    const source = `${probePrefix}multipart-${probeId()}`;
    const copy = `${source}-copy`;
    checks.push(
      await attempt(
        "multipart upload and CopyObject with the CI key (GARAGE_CICD_*)",
        async () => {
          try {
            // Two parts of 5 MiB + 1 MiB: the smallest upload that must go multipart.
            await ci.put(storage.buckets.code, source, Readable.from([Buffer.alloc(5 * MiB, 1), Buffer.alloc(MiB, 2)]));
            await ci.copy(storage.buckets.code, source, storage.buckets.code, copy);
            const copied = await ci.head(storage.buckets.code, copy);
            if (copied?.size !== 6 * MiB) throw new Error(`the copy has ${copied?.size} bytes, not ${6 * MiB}`);
            return "both work";
          } finally {
            await ci.delete(storage.buckets.code, source).catch(() => {});
            await ci.delete(storage.buckets.code, copy).catch(() => {});
          }
        },
        messageOf,
      ),
    );
  } else {
    checks.push({
      name: "CI key (GARAGE_CICD_*)",
      ok: false,
      detail: "not set; CI needs it to publish code packages.",
    });
  }
  return checks;
}

async function checkFs(config: Config & { storage: { driver: "fs" } }): Promise<Check[]> {
  const { openStore } = await import("../storage/index.js");
  const store = await openStore(config);
  const checks: Check[] = [
    { name: `embedded store at ${config.storage.root}`, ok: true, detail: "no S3 endpoint configured" },
  ];
  for (const [role, bucket] of Object.entries(config.storage.buckets)) {
    const key = `${probePrefix}probe-${probeId()}`;
    checks.push(
      await attempt(
        `bucket ${bucket} (${role}) readable and writable`,
        async () => {
          await store.put(bucket, key, "probe");
          await store.delete(bucket, key);
          return await readable(store, bucket);
        },
        messageOf,
      ),
    );
  }
  return checks;
}

export function registerDoctorCommand(program: Command, context: CliContext): void {
  program
    .command("doctor")
    .description("check the object store and keys the pipelines need, one line per check")
    .action(async () => {
      const config = context.config();
      const checks =
        config.storage.driver === "s3"
          ? await checkS3(config as Config & { storage: { driver: "s3" } })
          : await checkFs(config as Config & { storage: { driver: "fs" } });
      const width = Math.max(...checks.map((c) => c.name.length));
      for (const check of checks) {
        context.io.stdout.write(`${check.ok ? "ok  " : "FAIL"}  ${check.name.padEnd(width)}  ${check.detail}\n`);
      }
      const failed = checks.filter((c) => !c.ok).length;
      if (failed > 0) {
        throw new TdfError(
          "DOCTOR_FAILED",
          `${failed} of ${checks.length} checks failed; fix the lines marked FAIL above.`,
        );
      }
    });
}
