/**
 * Refusing to pack likely secrets. A code package is readable by every runtime key, so a credential
 * that slips into one is leaked to every container: names and contents are checked before anything is
 * written.
 */
import path from "node:path";

export interface SecretFinding {
  path: string;
  reason: string;
}

const secretNames: Array<[RegExp, string]> = [
  [/^\.env(\..+)?$/, "an environment file"],
  [/\.(pem|key|p12|pfx|jks|keystore)$/i, "a key or certificate store"],
  [/^id_(rsa|dsa|ecdsa|ed25519)(\.pub)?$/, "an SSH key"],
  [/^(credentials|\.netrc|\.npmrc|\.pgpass|\.git-credentials)$/, "a credentials file"],
  [/^(credentials|service[-_]account.*|gcp[-_]key.*)\.json$/i, "a credentials file"],
];
// Templates that document variables without values are safe to ship.
const allowedNames = /^\.env\.(example|sample|template)$/;

// Built so that this module's own compiled text does not match them.
const secretContents: Array<[RegExp, string]> = [
  [new RegExp(["-----BEGIN", "( [A-Z]+)*", " PRIVATE KEY-----"].join("")), "a private key"],
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/, "an AWS access key id"],
  [/aws_secret_access_key\s*[=:]\s*["']?[A-Za-z0-9/+]{40}/i, "an AWS secret access key"],
  [/\bGK[0-9a-f]{24}\b[\s\S]{0,200}\b[0-9a-f]{64}\b/, "a Garage key id with its secret"],
  [/\b(ghp|gho|ghs|ghu)_[A-Za-z0-9]{36}\b/, "a GitHub token"],
  [/\bnpm_[A-Za-z0-9]{36}\b/, "an npm token"],
];

export function scanForSecrets(relativePath: string, content: Buffer): SecretFinding | undefined {
  const name = path.posix.basename(relativePath);
  if (!allowedNames.test(name)) {
    for (const [pattern, reason] of secretNames) if (pattern.test(name)) return { path: relativePath, reason };
  }
  // Binary files (a NUL early on) are not searched: their bytes match text patterns by chance.
  if (content.subarray(0, 8192).includes(0)) return undefined;
  const text = content.toString("utf8");
  for (const [pattern, reason] of secretContents) if (pattern.test(text)) return { path: relativePath, reason };
  return undefined;
}
