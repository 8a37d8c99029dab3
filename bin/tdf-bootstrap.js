#!/usr/bin/env node
await import("../dist/bootstrap-bundle/bin.js").catch((error) => {
  if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("dist/bootstrap-bundle/bin.js"))
    throw error;
  process.stderr.write("tdf-bootstrap: the build is missing (dist/); run `npm run build` (npm ci does it for you).\n");
  process.exitCode = 70;
});
