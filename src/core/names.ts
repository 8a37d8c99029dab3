/** Naming rules shared by configuration (checked at start-up) and storage (checked per call). */

// S3 bucket naming rules, the subset every S3 server (Garage included) enforces.
const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function isValidBucketName(name: string): boolean {
  return bucketPattern.test(name) && !name.includes("..");
}
