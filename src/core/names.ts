/** Naming rules shared by configuration (checked at start-up) and storage (checked per call). */

// S3 bucket naming rules, the subset every S3 server (Garage included) enforces.
const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function isValidBucketName(name: string): boolean {
  return bucketPattern.test(name) && !name.includes("..");
}

// Client names become object-key prefixes, experiment and model names, and database values.
const clientPattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function isValidClientName(name: string): boolean {
  return clientPattern.test(name);
}
