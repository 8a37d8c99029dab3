/** The process entry of `tdf` (bin/tdf.js loads the built copy): the one place the process ends. */
import { main } from "./main.js";

// The AWS SDK warns on every run under Node.js 20 about its own future releases; the lockfile pins
// the SDK, so that notice concerns maintainers (see README), not each command's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

process.exitCode = await main(process.argv.slice(2), process.env, {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  cwd: process.cwd(),
});
