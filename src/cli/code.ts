/** `tdf code …`: the CI side of code packages (pack, sign, publish, versions, promote, resolve, gc). */
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type Command, Option } from "commander";
import type { Env } from "../core/config.js";
import { TdfError, UsageError } from "../core/errors.js";
import type { ModelVersion } from "../tracking/index.js";
import type { CliContext } from "./main.js";

/** Why gc could not ask the tracker, by the tracker's error code (any other says its own message). */
const trackerFailures: Record<string, string> = {
  TRACKING_UNREACHABLE: "it did not answer",
  TRACKING_AUTH: "it refused the credentials",
  TRACKING_SERVER_ERROR: "it answered with an error",
};

/** CI provenance from the environment CI systems set (GitHub Actions first, then generic names). */
function provenanceFrom(env: Env) {
  if (env.GITHUB_ACTIONS === "true") {
    return {
      system: "github-actions",
      runId: env.GITHUB_RUN_ID,
      actor: env.GITHUB_ACTOR,
      workflow: env.GITHUB_WORKFLOW,
      repository: env.GITHUB_REPOSITORY,
    };
  }
  if (env.CI) {
    return {
      system: "ci",
      runId: env.CI_PIPELINE_ID ?? env.BUILD_ID,
      actor: env.CI_ACTOR ?? env.USER,
      workflow: undefined,
      repository: undefined,
    };
  }
  return undefined;
}

const short = (sha: string) => sha.slice(0, 12);
const kib = (bytes: number | undefined) => (bytes === undefined ? "?" : `${(bytes / 1024).toFixed(0)} KiB`);

export function registerCodeCommands(program: Command, context: CliContext, env: Env): void {
  const { io } = context;
  const codepkg = () => import("../codepkg/index.js");
  const open = async (role: "cicd" | "runtime") => {
    const { openStore } = await import("../storage/index.js");
    const config = context.config();
    return { store: await openStore(config, role), bucket: config.storage.buckets.code };
  };
  const say = (message: string) => io.stderr.write(`${message}\n`);
  /** What pack and publish share: this checkout, the configured include list, limit and key, CI provenance. */
  const packOptions = (sha: string | undefined) => {
    const { codepkg: settings } = context.config();
    return {
      root: io.cwd,
      include: settings.include,
      maxBytes: settings.maxBytes,
      sha,
      signingKey: settings.signingKey,
      provenance: provenanceFrom(env),
    };
  };
  const shaOption = () => new Option("--sha <sha>", "the git SHA to record when packing outside a git repository");

  const code = program
    .command("code")
    .description("pack, publish and manage code packages (the hybrid deployment's code side)");

  code
    .command("keygen")
    .description("make an Ed25519 key pair for signing manifests (TDF_SIGNING_KEY / TDF_VERIFY_KEY)")
    .addOption(new Option("--out <dir>", "folder for the two PEM files").default("."))
    .action(async (options: { out: string }) => {
      const { generateSigningKeyPair } = await codepkg();
      const dir = path.resolve(io.cwd, options.out);
      const privatePath = path.join(dir, "tdf-signing.key.pem");
      const publicPath = path.join(dir, "tdf-signing.pub.pem");
      const { privateKeyPem, publicKeyPem } = generateSigningKeyPair();
      await fsp.mkdir(dir, { recursive: true });
      try {
        // wx: never overwrite a key someone may already rely on.
        await fsp.writeFile(privatePath, privateKeyPem, { flag: "wx", mode: 0o600 });
      } catch (cause) {
        throw new TdfError("KEY_EXISTS", `${privatePath} already exists; move it away or choose another --out.`, {
          cause,
        });
      }
      await fsp.writeFile(publicPath, publicKeyPem, { flag: "wx" });
      io.stdout.write(
        `private key: ${privatePath} (set TDF_SIGNING_KEY in CI; keep it secret)\npublic key:  ${publicPath} (set TDF_VERIFY_KEY where code runs)\n`,
      );
    });

  code
    .command("deps-hash")
    .description("print the dependency hash of this checkout (lockfile + docker/), which tags its base image")
    .action(async () => {
      const { dependencyHash } = await codepkg();
      io.stdout.write(`${await dependencyHash(io.cwd)}\n`);
    });

  code
    .command("pack")
    .description("pack the built code into code-<sha>.tar.gz and its manifest")
    .addOption(new Option("--out <dir>", "output folder (default: <TDF_HOME>/packages)"))
    .addOption(shaOption())
    .action(async (options: { out?: string; sha?: string }) => {
      const { pack } = await codepkg();
      const config = context.config();
      const result = await pack({
        ...packOptions(options.sha),
        outDir: path.resolve(io.cwd, options.out ?? path.join(config.home, "packages")),
      });
      const { archive, git } = result.manifest;
      io.stdout.write(
        `${result.archivePath}\n${result.manifestPath}\n${result.signaturePath ? `${result.signaturePath}\n` : ""}` +
          `${short(git.sha)}${git.dirty ? " (dirty)" : ""}: ${archive.fileCount} files, ${kib(archive.size)}, sha256 ${archive.sha256}\n`,
      );
    });

  code
    .command("publish")
    .description("pack, upload, validate, and move latest (uses the CI key, GARAGE_CICD_*)")
    .addOption(new Option("--allow-dirty", "publish a checkout with uncommitted changes"))
    .addOption(shaOption())
    .action(async (options: { allowDirty?: boolean; sha?: string }) => {
      const { publish } = await codepkg();
      const { store, bucket } = await open("cicd");
      const result = await publish({
        ...packOptions(options.sha),
        store,
        bucket,
        allowDirty: options.allowDirty,
        onProgress: say,
      });
      io.stdout.write(`${result.sha}\n`);
    });

  code
    .command("versions")
    .description("list published releases, newest first")
    .addOption(new Option("--limit <n>", "how many").default("20"))
    .addOption(new Option("--json", "one JSON object per line"))
    .action(async (options: { limit: string; json?: boolean }) => {
      const { listVersions } = await codepkg();
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new UsageError(`--limit must be a positive whole number, got "${options.limit}".`);
      const { store, bucket } = await open("runtime");
      const rows = await listVersions(store, bucket, limit);
      if (rows.length === 0) say(`no code has been published to bucket "${bucket}" yet`);
      for (const row of rows) {
        const line = options.json
          ? JSON.stringify(row)
          : [
              row.latest ? "*" : " ",
              short(row.sha),
              row.publishedAt,
              kib(row.size).padStart(9),
              `deps ${row.dependencyHash?.slice(0, 12) ?? "?"}`,
              row.by ?? "?",
              row.available ? "" : "(archive deleted)",
            ]
              .join("  ")
              .trimEnd();
        io.stdout.write(`${line}\n`);
      }
    });

  code
    .command("promote")
    .description("point latest at a published release (rollback or roll-forward)")
    .argument("<version>", "a git SHA or a unique prefix of at least 7 characters")
    .action(async (version: string) => {
      const { promote } = await codepkg();
      const { store, bucket } = await open("cicd");
      const result = await promote(store, bucket, version, {
        by: provenanceFrom(env)?.actor ?? os.userInfo().username,
      });
      say(
        result.moved
          ? `latest now points at ${short(result.sha)}${result.previousSha ? ` (was ${short(result.previousSha)})` : ""}`
          : `latest already points at ${short(result.sha)}`,
      );
      io.stdout.write(`${result.sha}\n`);
    });

  code
    .command("resolve")
    .description("print the full SHA and manifest of latest, a SHA, or a unique prefix")
    .argument("<version>", "latest, a git SHA, or a unique prefix of at least 7 characters")
    .action(async (version: string) => {
      const { resolveVersion } = await codepkg();
      const { store, bucket } = await open("runtime");
      const resolved = await resolveVersion(store, bucket, version);
      io.stdout.write(`${resolved.sha}\n${Buffer.from(resolved.manifestBytes).toString("utf8")}`);
    });

  /**
   * Each code SHA a registered model version was trained with, and why gc keeps it. gc fails closed: a
   * tracker it cannot read stops it before anything is deleted; --ignore-models is the knowing way past.
   */
  const codeOfRegisteredModels = async (): Promise<Map<string, string>> => {
    const tracking = await import("../tracking/index.js");
    const { trainingTags } = await import("../pipelines/training-tasks.js");
    const tracker = await tracking.openTracker(context.config());
    let bySha: Map<string, ModelVersion[]>;
    try {
      bySha = await tracking.modelVersionsByCodeSha(tracker, trainingTags.codeSha);
    } catch (cause) {
      if (!(cause instanceof TdfError)) throw cause;
      const why = trackerFailures[cause.code] ?? cause.message.replace(/\.$/, "");
      const fix =
        tracker.driver === "mlflow"
          ? "check MLFLOW_TRACKING_URI, its credentials and that the server is running"
          : "check that database file";
      throw new TdfError(
        "GC_MODELS_UNKNOWN",
        `Deleted nothing: gc keeps the code registered models were trained with, but could not list them from the tracker at ${tracker.location} (${why}); ${fix}, or pass --ignore-models to delete without this check.`,
        { cause },
      );
    }
    const versions = [...bySha.values()].reduce((sum, list) => sum + list.length, 0);
    say(
      `${versions} registered model version(s) in the tracker at ${tracker.location} were trained from ${bySha.size} code package(s)`,
    );
    const reasons = new Map<string, string>();
    for (const [sha, list] of bySha) {
      const named = list.map((v) => `${v.name} v${v.version}`);
      const shown = named.length > 3 ? [...named.slice(0, 3), `${named.length - 3} more`] : named;
      reasons.set(sha, `trained model${named.length > 1 ? "s" : ""} ${shown.join(", ")}`);
    }
    return reasons;
  };

  code
    .command("gc")
    .description(
      "delete old packages, never latest, the newest N, pinned SHAs, or code a registered model was trained with",
    )
    .requiredOption("--keep <n>", "how many of the most recently published packages to keep")
    .addOption(new Option("--dry-run", "print what would be deleted, delete nothing"))
    .addOption(
      new Option(
        "--ignore-models",
        "do not ask the tracker which code registered models were trained with: that code may be deleted too",
      ),
    )
    .action(async (options: { keep: string; dryRun?: boolean; ignoreModels?: boolean }) => {
      const { collectGarbage } = await codepkg();
      const keep = Number(options.keep);
      if (!Number.isInteger(keep) || keep < 1)
        throw new UsageError(`--keep must be a whole number of at least 1, got "${options.keep}".`);
      const { store, bucket } = await open("cicd");
      let trained = new Map<string, string>();
      if (options.ignoreModels) say("not checking which code registered models were trained with (--ignore-models)");
      else trained = await codeOfRegisteredModels();
      const result = await collectGarbage(store, bucket, {
        keep,
        pinned: context.config().codepkg.pinned,
        isProtected: async (sha) => trained.get(sha) ?? false,
        dryRun: options.dryRun,
      });
      const verb = result.dryRun ? "would delete" : "deleted";
      for (const pkg of result.deleted)
        io.stdout.write(`${verb} ${short(pkg.sha)}  ${kib(pkg.bytes)}  ${pkg.keys.join(" ")}\n`);
      for (const pkg of result.kept) io.stdout.write(`kept ${short(pkg.sha)}  ${pkg.reason}\n`);
      io.stdout.write(
        `${verb} ${result.deleted.length} package(s), ${kib(result.bytesFreed)} ${result.dryRun ? "would be " : ""}freed\n`,
      );
    });
}
