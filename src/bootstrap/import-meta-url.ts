/**
 * `import.meta.url` for the CommonJS bundle of the bootstrap: the build injects this and defines
 * `import.meta.url` as `importMetaUrl` (see package.json's build:bootstrap). The bootstrap is bundled
 * as CommonJS because every container starts it, and Node.js 20's ES module loader adds ~10 ms to a
 * process start that CommonJS does not.
 */
import { pathToFileURL } from "node:url";

export const importMetaUrl = pathToFileURL(__filename).href;
