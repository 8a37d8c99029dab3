/**
 * Ed25519 signatures over the manifest bytes (node:crypto; no extra dependency). The manifest holds
 * the archive's sha256, so a valid signature vouches for the archive too.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import fs from "node:fs";
import { CodePackageError } from "./errors.js";

export interface SignatureFile {
  algorithm: "ed25519";
  /** sha256 of the public key (DER), first 16 hex digits: says which key signed. */
  keyId: string;
  signature: string;
}

export function generateSigningKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

/** A key given as PEM text or as the path of a PEM file (as TDF_SIGNING_KEY / TDF_VERIFY_KEY are). */
function pemOf(keyOrPath: string, variable: string): string {
  if (keyOrPath.includes("-----BEGIN")) return keyOrPath;
  try {
    return fs.readFileSync(keyOrPath, "utf8");
  } catch (cause) {
    throw new CodePackageError(
      "SIGNING_KEY_INVALID",
      `Cannot read the key file named by ${variable}; check the path.`,
      { cause },
    );
  }
}

function keyId(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex")
    .slice(0, 16);
}

/** An Ed25519 key from PEM text or a path, or one sentence saying what the variable should hold. */
function loadEd25519(
  keyOrPath: string,
  variable: string,
  create: (pem: string) => KeyObject,
  expected: string,
): KeyObject {
  try {
    const key = create(pemOf(keyOrPath, variable));
    if (key.asymmetricKeyType !== "ed25519") throw new Error(`a ${key.asymmetricKeyType} key`);
    return key;
  } catch (cause) {
    if (cause instanceof CodePackageError) throw cause;
    throw new CodePackageError("SIGNING_KEY_INVALID", `${variable} is not ${expected}.`, { cause });
  }
}

export function loadSigningKey(keyOrPath: string): KeyObject {
  return loadEd25519(
    keyOrPath,
    "TDF_SIGNING_KEY",
    (pem) => createPrivateKey(pem),
    "an Ed25519 private key in PEM form; make one with `tdf code keygen`",
  );
}

export function loadVerifyKey(keyOrPath: string): KeyObject {
  return loadEd25519(
    keyOrPath,
    "TDF_VERIFY_KEY",
    (pem) => createPublicKey(pem),
    "an Ed25519 public key in PEM form; use the .pub.pem file `tdf code keygen` wrote",
  );
}

export function signManifest(manifestBytes: Uint8Array, privateKey: KeyObject): Buffer {
  const file: SignatureFile = {
    algorithm: "ed25519",
    keyId: keyId(createPublicKey(privateKey)),
    signature: sign(null, manifestBytes, privateKey).toString("base64"),
  };
  return Buffer.from(`${JSON.stringify(file, null, 2)}\n`, "utf8");
}

/** Throws unless `signatureBytes` is a valid signature of `manifestBytes` by `publicKey`. */
export function verifyManifestSignature(
  manifestBytes: Uint8Array,
  signatureBytes: Uint8Array | null,
  publicKey: KeyObject,
  where: string,
): void {
  const refuse = (why: string) =>
    new CodePackageError("SIGNATURE_INVALID", `The code manifest ${where} ${why}; refusing to use it.`, {
      context: { where },
    });
  if (signatureBytes === null) throw refuse("is not signed, but a verify key is configured (TDF_VERIFY_KEY)");
  let file: SignatureFile;
  try {
    file = JSON.parse(Buffer.from(signatureBytes).toString("utf8")) as SignatureFile;
  } catch {
    throw refuse("has an unreadable signature file");
  }
  const expected = keyId(publicKey);
  if (file.keyId !== expected) throw refuse(`is signed by key ${file.keyId}, not by the configured key ${expected}`);
  if (
    file.algorithm !== "ed25519" ||
    !verify(null, manifestBytes, publicKey, Buffer.from(String(file.signature), "base64"))
  ) {
    throw refuse("has a signature that does not match its content (tampered, or signed by another key)");
  }
}
