/**
 * Finds the real S3-protocol test server (Ceph's radosgw, started by `scripts/s3-test-server.sh`)
 * through TDF_TEST_S3_* variables. Without them, S3 tests are skipped with a loud notice; under CI
 * they fail instead, so a missing server can never pass silently.
 */
export interface TestS3Server {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export function testS3Server(): TestS3Server | undefined {
  const env = process.env;
  const endpoint = env.TDF_TEST_S3_ENDPOINT;
  if (endpoint && env.TDF_TEST_S3_ACCESS_KEY_ID && env.TDF_TEST_S3_SECRET_ACCESS_KEY) {
    return {
      endpoint,
      region: env.TDF_TEST_S3_REGION ?? "garage",
      accessKeyId: env.TDF_TEST_S3_ACCESS_KEY_ID,
      secretAccessKey: env.TDF_TEST_S3_SECRET_ACCESS_KEY,
    };
  }
  if (env.CI) {
    throw new Error(
      "TDF_TEST_S3_ENDPOINT and its keys are not set under CI; .ci/run must start scripts/s3-test-server.sh.",
    );
  }
  return undefined;
}

/** The reason to skip S3 tests on this machine, printed so nobody mistakes a skip for a pass. */
export function s3SkipReason(): string | false {
  if (testS3Server()) return false;
  const reason = 'no S3 test server: set TDF_TEST_S3_* (eval "$(scripts/s3-test-server.sh start)") to run the S3 tests';
  process.stderr.write(`\n!!! SKIPPING S3 TESTS: ${reason}\n\n`);
  return reason;
}
