/** `tdf store …`: look at and move objects in the configured store, whichever driver it is. */
import { createReadStream } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Command, Option } from "commander";
import { writeFileAtomic } from "../core/atomic-file.js";
import { TdfError, UsageError } from "../core/errors.js";
import { StorageError } from "../storage/errors.js";
import type { ObjectStore, PutOptions, StoreRole } from "../storage/index.js";
import type { CliContext } from "./main.js";

const contentTypes: Record<string, string> = {
  ".csv": "text/csv",
  ".json": "application/json",
  ".parquet": "application/vnd.apache.parquet",
  ".gz": "application/gzip",
  ".txt": "text/plain",
  ".html": "text/html",
};

interface StoreOptions {
  key: StoreRole;
}

async function target(text: string, requireKey: boolean): Promise<{ bucket: string; key: string }> {
  const { parseObjectPath } = await import("../storage/index.js");
  const parsed = parseObjectPath(text);
  if (requireKey && parsed.key === "") {
    throw new UsageError(`"${text}" names a bucket but no object; write it as <bucket>/<key>.`);
  }
  return parsed;
}

export function registerStoreCommands(program: Command, context: CliContext): void {
  const { io } = context;
  const open = async (options: StoreOptions): Promise<ObjectStore> => {
    const { openStore } = await import("../storage/index.js");
    return openStore(context.config(), options.key);
  };
  const keyOption = () =>
    new Option("--key <role>", "which S3 key pair to use: runtime (GARAGE_AIRFLOW_*) or cicd (GARAGE_CICD_*)")
      .choices(["runtime", "cicd"])
      .default("runtime");

  const store = program
    .command("store")
    .description("list, read, write and delete objects in the configured object store (filesystem or S3)");

  store
    .command("init")
    .description("create the configured buckets where they do not exist yet")
    .addOption(keyOption())
    .action(async (options: StoreOptions) => {
      const s = await open(options);
      const buckets = [...new Set(Object.values(context.config().storage.buckets))];
      for (const bucket of buckets) await s.ensureBucket(bucket);
      io.stdout.write(`${buckets.map((b) => `ready: ${b}`).join("\n")}\n`);
    });

  store
    .command("ls")
    .description("list the objects of a bucket under an optional prefix")
    .argument("<bucket[/prefix]>", "bucket, optionally followed by a key prefix")
    .addOption(new Option("--json", "print one JSON object per line"))
    .addOption(keyOption())
    .action(async (where: string, options: StoreOptions & { json?: boolean }) => {
      const { bucket, key: prefix } = await target(where, false);
      const s = await open(options);
      for await (const entry of s.list(bucket, prefix)) {
        const line = options.json
          ? JSON.stringify({ ...entry, lastModified: entry.lastModified.toISOString() })
          : `${String(entry.size).padStart(12)}  ${entry.lastModified.toISOString()}  ${entry.key}`;
        io.stdout.write(`${line}\n`);
      }
    });

  store
    .command("get")
    .description("download an object to a file (written atomically) or to standard output")
    .argument("<bucket/key>", "the object")
    .argument("[file]", "where to write it; standard output when omitted or -")
    .addOption(keyOption())
    .action(async (where: string, file: string | undefined, options: StoreOptions) => {
      const { bucket, key } = await target(where, true);
      const s = await open(options);
      const object = await s.get(bucket, key);
      if (object === null) {
        throw new StorageError(
          "STORAGE_NO_SUCH_KEY",
          `There is no object ${bucket}/${key} in ${s.location}; check the key with \`tdf store ls ${bucket}\`.`,
        );
      }
      if (file === undefined || file === "-") {
        await pipeline(object.body, io.stdout, { end: false }).catch((error: unknown) => {
          // The reader went away (`| head`): not a failure of ours.
          if ((error as NodeJS.ErrnoException).code !== "EPIPE") throw error;
        });
        return;
      }
      const destination = path.resolve(io.cwd, file);
      await writeFileAtomic(destination, object.body).catch((error: unknown) => {
        if (error instanceof TdfError) throw error;
        throw new TdfError(
          "FILE_WRITE_FAILED",
          `Cannot write ${destination}: ${(error as Error).message}; check the path.`,
          {
            cause: error,
          },
        );
      });
    });

  store
    .command("put")
    .description("upload a file (or standard input) as an object")
    .argument("<bucket/key>", "the object")
    .argument("[file]", "what to upload; standard input when omitted or -")
    .addOption(new Option("--content-type <type>", "the object's content type (default: from the file extension)"))
    .addOption(new Option("--meta <name=value...>", "user metadata, repeatable"))
    .addOption(keyOption())
    .action(
      async (
        where: string,
        file: string | undefined,
        options: StoreOptions & { contentType?: string; meta?: string[] },
      ) => {
        const { bucket, key } = await target(where, true);
        const metadata: Record<string, string> = {};
        for (const pair of options.meta ?? []) {
          const eq = pair.indexOf("=");
          if (eq <= 0) throw new UsageError(`--meta "${pair}" is not name=value.`);
          metadata[pair.slice(0, eq).toLowerCase()] = pair.slice(eq + 1);
        }
        let body: Readable;
        if (file === undefined || file === "-") {
          body = Readable.from(io.stdin);
        } else {
          const source = path.resolve(io.cwd, file);
          // Checked before contacting the store, so a wrong path fails fast with its own message.
          const stats = await fsp.stat(source).catch((cause: unknown) => {
            throw new TdfError("FILE_NOT_FOUND", `Cannot read ${source}; check the path.`, { cause });
          });
          if (!stats.isFile())
            throw new TdfError("FILE_NOT_FOUND", `${source} is not a file; give the path of a file.`);
          body = createReadStream(source);
        }
        const putOptions: PutOptions = { metadata };
        const contentType = options.contentType ?? contentTypes[path.extname(file ?? "").toLowerCase()];
        if (contentType !== undefined) putOptions.contentType = contentType;
        const s = await open(options);
        const { etag } = await s.put(bucket, key, body, putOptions);
        io.stdout.write(`${bucket}/${key} ${etag}\n`);
      },
    );

  store
    .command("rm")
    .description("delete an object (deleting an absent object is not an error)")
    .argument("<bucket/key>", "the object")
    .addOption(keyOption())
    .action(async (where: string, options: StoreOptions) => {
      const { bucket, key } = await target(where, true);
      await (await open(options)).delete(bucket, key);
    });
}
