/**
 * `npm run build:cli`: the CLI as ES modules in dist/cli, split so that a command loads only what it
 * needs. Packages stay in node_modules, except commander: every `tdf` start loads it, and Node.js 20
 * loads a CommonJS package into an ES module more slowly than bundled code (with Node's crypto kept
 * off the start path as well, `tdf --version` starts ~7 ms sooner; see docs/bootstrap.md).
 */
import { build } from "esbuild";

const bundled = new Set(["commander"]);

await build({
  entryPoints: ["src/cli/bin.ts"],
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  splitting: true,
  outdir: "dist/cli",
  logLevel: "warning",
  plugins: [
    {
      name: "packages-stay-external",
      setup(esbuild) {
        // Bare specifiers (packages and node: modules); relative and absolute paths are bundled.
        esbuild.onResolve({ filter: /^[^./]/ }, ({ path }) =>
          bundled.has(path) ? undefined : { path, external: true },
        );
      },
    },
  ],
  // Bundled CommonJS calls require() for Node's own modules; an ES module has to make one.
  banner: {
    js: 'import { createRequire as __createRequire } from "node:module";\nconst require = __createRequire(import.meta.url);',
  },
});
