/**
 * Where code packages live in the code bucket (DESIGN §3). One place names every key, so the CI side
 * (publish) and the container side (bootstrap) cannot disagree.
 */
export const latestArchiveKey = "code-latest.tar.gz";
/** The pointer `resolve` reads; `code-latest.tar.gz` is a copy kept for the deployment guide's tools. */
export const latestPointerKey = "code-latest.json";
export const releasesPrefix = "releases/";

export const archiveKey = (sha: string) => `code-${sha}.tar.gz`;
export const manifestKey = (sha: string) => `code-${sha}.manifest.json`;
export const signatureKey = (sha: string) => `code-${sha}.manifest.json.sig`;

/** `releases/<utc-timestamp>-<sha>.json`: keys sort by time, so a listing is the log in order. */
export function releaseKey(at: Date, sha: string): string {
  const stamp = at.toISOString().replace(/[-:]/g, "");
  return `${releasesPrefix}${stamp}-${sha}.json`;
}

const releasePattern = /^releases\/(\d{8}T\d{6}\.\d{3}Z)-([0-9a-f]{40})\.json$/;

/** The time and SHA a release key carries, or undefined for a key that is not a release record. */
export function parseReleaseKey(key: string): { at: Date; sha: string } | undefined {
  const match = releasePattern.exec(key);
  if (!match) return undefined;
  const s = match[1] as string;
  const iso = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13)}`;
  return { at: new Date(iso), sha: match[2] as string };
}

export const isFullSha = (text: string) => /^[0-9a-f]{40}$/.test(text);
