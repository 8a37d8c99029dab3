/**
 * A small project in a temporary git repository, shaped like this one (a built dist/, package.json,
 * the lockfile, docker/), for packing and publishing tests. Commits are real git commits.
 */
import { execFileSync } from "node:child_process";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";

export interface TestProject {
  root: string;
  /** Writes files (relative path → content) and commits them; returns the new commit's SHA. */
  commit(files: Record<string, string>, message?: string): Promise<string>;
  write(files: Record<string, string>): Promise<void>;
  git(...args: string[]): string;
  remove(): Promise<void>;
}

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: "tdf test",
  GIT_AUTHOR_EMAIL: "test@example.invalid",
  GIT_COMMITTER_NAME: "tdf test",
  GIT_COMMITTER_EMAIL: "test@example.invalid",
  GIT_CONFIG_NOSYSTEM: "1",
  HOME: os.tmpdir(),
};

export async function createTestProject(): Promise<TestProject> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-project-"));
  const git = (...args: string[]) => execFileSync("git", args, { cwd: root, env: gitEnv, encoding: "utf8" }).trim();
  const write = async (files: Record<string, string>) => {
    for (const [file, content] of Object.entries(files)) {
      await fsp.mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await fsp.writeFile(path.join(root, file), content);
    }
  };
  git("init", "-q", "-b", "main");
  await write({
    ".gitignore": "node_modules/\ndist/\n.tdf/\n",
    "package.json": JSON.stringify({ name: "fixture", version: "1.2.3", engines: { node: ">=20" } }, null, 2),
    "package-lock.json": JSON.stringify({ name: "fixture", lockfileVersion: 3, packages: {} }, null, 2),
    "docker/Dockerfile": "FROM node:20-slim\n",
    "src/index.ts": "export const answer = 42;\n",
    "dist/cli/bin.js": "console.log('fixture');\n",
    "dist/index.js": "export const answer = 42;\n",
  });
  const project: TestProject = {
    root,
    git,
    write,
    async commit(files, message = "change") {
      await write(files);
      git("add", "-A");
      git("commit", "-q", "--allow-empty", "-m", message);
      return git("rev-parse", "HEAD");
    },
    remove: () => fsp.rm(root, { recursive: true, force: true }),
  };
  await project.commit({}, "initial");
  return project;
}
