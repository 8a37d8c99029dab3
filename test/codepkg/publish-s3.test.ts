import { randomBytes } from "node:crypto";
import { s3Store } from "../../src/storage/s3.js";
import { s3SkipReason, testS3Server } from "../helpers/s3-server.js";
import { publishContract } from "./publish.contract.js";

const server = testS3Server();
if (server) {
  publishContract("s3 (real S3 server on loopback)", async () => {
    const store = s3Store(server);
    const bucket = `tdf-code-${randomBytes(4).toString("hex")}`;
    await store.ensureBucket(bucket);
    return { store, bucket };
  });
} else {
  s3SkipReason();
}
