/**
 * Value-based secret redaction. Field-name redaction alone misses a secret that reaches a message
 * through an error's text or a URL, so every log line and every printed error passes through this.
 */
export const REDACTED = "[REDACTED]";

// Shorter values are too likely to occur by chance in ordinary text to be replaced safely.
const MIN_SECRET_LENGTH = 4;

export type Redactor = (text: string) => string;

export function createRedactor(secrets: readonly string[]): Redactor {
  const needles = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    needles.add(secret);
    // The same secret as it appears inside a JSON string or a URL.
    needles.add(JSON.stringify(secret).slice(1, -1));
    needles.add(encodeURIComponent(secret));
  }
  if (needles.size === 0) return (text) => text;
  // Longest first, so a secret that contains another is replaced whole.
  const pattern = new RegExp(
    [...needles]
      .sort((a, b) => b.length - a.length)
      .map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join("|"),
    "g",
  );
  return (text) => text.replace(pattern, REDACTED);
}
