/**
 * The dependency hash: what the base image's dependencies are made from (the lockfile and the
 * `docker/` folder). Publishing records it in each manifest and the same hash tags the base image, so
 * "does this code run on that image" is a comparison, not a guess.
 */
import { createHash } from "node:crypto";
import fsp from "node:fs/promises";
import path from "node:path";
import { walkFiles } from "./files.js";

export const lockfileName = "package-lock.json";
export const dockerDir = "docker";

export async function dependencyHash(root: string): Promise<string> {
  const files = [lockfileName, ...walkFiles(root, dockerDir)];
  const hash = createHash("sha256");
  for (const file of files) {
    const content = await fsp.readFile(path.join(root, file));
    hash.update(`${file}\0${createHash("sha256").update(content).digest("hex")}\n`);
  }
  return hash.digest("hex");
}

/** The base image tag for a dependency hash: code and image meet on this name. */
export function baseImageTag(hash: string): string {
  return `deps-${hash.slice(0, 12)}`;
}

/** `<registry>/<prefix>-base:<tag>`, the image that runs code with this dependency hash. */
export function baseImageRef(hash: string, imagePrefix: string, registryUrl: string | undefined): string {
  const name = `${imagePrefix}-base:${baseImageTag(hash)}`;
  return registryUrl ? `${registryUrl.replace(/\/+$/, "")}/${name}` : name;
}
