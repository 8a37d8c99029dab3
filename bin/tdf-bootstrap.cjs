#!/usr/bin/env node
// CommonJS, like the bundle it loads: the bootstrap starts every task, and the ES module loader
// would add to each start.
try {
  require("../dist/bootstrap-bundle/bin.cjs");
} catch (error) {
  if (error?.code !== "MODULE_NOT_FOUND" || !String(error.message).includes("bootstrap-bundle/bin.cjs")) throw error;
  process.stderr.write("tdf-bootstrap: the build is missing (dist/); run `npm run build` (npm ci does it for you).\n");
  process.exitCode = 70;
}
