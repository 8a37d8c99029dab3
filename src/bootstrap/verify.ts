/**
 * What must hold before downloaded code may run: its signature (when a verify key is configured:
 * fail closed) and its dependency hash against this image's (a mismatch means the code expects other
 * node_modules). The archive's sha256 is checked against the manifest by the download itself.
 */
import type { KeyObject } from "node:crypto";
import { baseImageRef } from "../codepkg/deps-hash.js";
import type { Manifest } from "../codepkg/manifest.js";
import { verifyManifestSignature } from "../codepkg/signing.js";
import { BootstrapError } from "./errors.js";

export interface TrustOptions {
  verifyKey: KeyObject | undefined;
  /** This image's dependency hash (TDF_DEPS_HASH); undefined outside an image: nothing to compare. */
  depsHash: string | undefined;
  allowDepsMismatch: boolean;
  imagePrefix: string;
  registryUrl: string | undefined;
  warn: (message: string) => void;
}

export function verifyTrust(
  manifest: Manifest,
  manifestBytes: Uint8Array,
  signatureBytes: Uint8Array | null,
  where: string,
  options: TrustOptions,
): void {
  if (options.verifyKey) verifyManifestSignature(manifestBytes, signatureBytes, options.verifyKey, where);
  if (options.depsHash === undefined || options.depsHash === manifest.dependencyHash) return;
  const image = baseImageRef(manifest.dependencyHash, options.imagePrefix, options.registryUrl);
  const message =
    `Code ${manifest.git.sha.slice(0, 12)} was built for dependency hash ${manifest.dependencyHash.slice(0, 12)}, ` +
    `but this image has ${options.depsHash.slice(0, 12)}; run it on ${image}`;
  if (!options.allowDepsMismatch) {
    throw new BootstrapError("DEPS_MISMATCH", `${message} (or set TDF_ALLOW_DEPS_MISMATCH=1 to run it here anyway).`, {
      context: { codeDepsHash: manifest.dependencyHash, imageDepsHash: options.depsHash, image },
    });
  }
  options.warn(`${message}; running anyway because TDF_ALLOW_DEPS_MISMATCH=1.`);
}
