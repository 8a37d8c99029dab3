// One timed operation of `bench:storage`, in a process of its own so its peak RSS is its own. Plain
// JavaScript on the drivers the bench bundled into `driversDir`: no TypeScript loader inflates the figures.
import { createReadStream, createWriteStream } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";

const [op, dir, bucket, driversDir] = process.argv.slice(2);
const source = path.join(dir, "source.bin");
const target = path.join(dir, `target-${op}.bin`);

async function openStore(driver) {
  if (driver === "fs")
    return (await import(path.join(driversDir, "fs.mjs"))).fsStore({ root: path.join(dir, "store") });
  const env = process.env;
  return (await import(path.join(driversDir, "s3.mjs"))).s3Store({
    endpoint: env.TDF_TEST_S3_ENDPOINT,
    region: env.TDF_TEST_S3_REGION,
    accessKeyId: env.TDF_TEST_S3_ACCESS_KEY_ID,
    secretAccessKey: env.TDF_TEST_S3_SECRET_ACCESS_KEY,
  });
}

const [driver, action] = op.split("-");
const store = action === "put" || action === "get" ? await openStore(driver) : undefined;
const started = process.hrtime.bigint();
if (op === "stream-copy") await pipeline(createReadStream(source), createWriteStream(target));
else if (action === "put") await store.put(bucket, "bench/object.bin", createReadStream(source));
else {
  const object = await store.get(bucket, "bench/object.bin");
  if (!object) throw new Error("the benchmark object is missing");
  await pipeline(object.body, createWriteStream(target));
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await fsp.rm(target, { force: true });
process.stdout.write(JSON.stringify({ seconds, peakRssMiB: process.resourceUsage().maxRSS / 1024 }));
