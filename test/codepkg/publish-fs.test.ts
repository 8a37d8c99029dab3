import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fsStore } from "../../src/storage/fs.js";
import { publishContract } from "./publish.contract.js";

publishContract("fs", async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-codepkg-fs-"));
  const store = fsStore({ root });
  await store.ensureBucket("code-repository");
  return { store, bucket: "code-repository", teardown: () => fsp.rm(root, { recursive: true, force: true }) };
});
