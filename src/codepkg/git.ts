/** The few facts about the git checkout a package records, read with the git command line. */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { isFullSha } from "./layout.js";

const run = promisify(execFile);

export interface GitInfo {
  sha: string;
  branch: string | undefined;
  dirty: boolean;
}

async function git(root: string, args: string[]): Promise<string> {
  const { stdout } = await run("git", args, { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/**
 * The checkout's commit, branch and dirty flag; undefined outside a git repository (or before the
 * first commit). One `git status` answers all three: starting a process costs ~20 ms here.
 */
export async function gitInfo(root: string): Promise<GitInfo | undefined> {
  let out: string;
  try {
    // Untracked files do not make a checkout dirty: the package holds the build and tracked files,
    // and a stray file (a downloaded CSV) must not block a publish.
    out = await git(root, ["status", "--porcelain=v2", "--branch", "--untracked-files=no"]);
  } catch {
    return undefined;
  }
  let sha: string | undefined;
  let branch: string | undefined;
  let dirty = false;
  for (const line of out.split("\n")) {
    if (line.startsWith("# branch.oid ")) sha = line.slice("# branch.oid ".length);
    else if (line.startsWith("# branch.head ")) branch = line.slice("# branch.head ".length);
    else if (line !== "" && !line.startsWith("#")) dirty = true;
  }
  if (sha === undefined || !isFullSha(sha)) return undefined;
  return { sha, branch: branch === "(detached)" ? undefined : branch, dirty };
}

/**
 * The commit HEAD names, read from `.git`'s files without starting git (a process start, ~20 ms), so
 * that publishing can ask the store about it at once, and need not start git at all for code that is
 * already published. Only the plain layout is read (HEAD naming a branch whose ref is loose or packed,
 * or a detached SHA); anything else (a worktree, a submodule, another ref storage, a folder below the
 * repository's root) gives undefined, and the caller asks git.
 */
export function readHeadSha(root: string): string | undefined {
  const gitDir = path.join(root, ".git");
  const read = (file: string) => {
    try {
      return fs.readFileSync(path.join(gitDir, file), "utf8");
    } catch {
      return undefined;
    }
  };
  const head = read("HEAD")?.trim();
  if (head === undefined) return undefined;
  if (isFullSha(head)) return head;
  const ref = /^ref: (refs\/heads\/[^\s]+)$/.exec(head)?.[1];
  if (ref === undefined || ref.split("/").includes("..")) return undefined;
  const loose = read(ref)?.trim();
  if (loose !== undefined) return isFullSha(loose) ? loose : undefined;
  for (const line of (read("packed-refs") ?? "").split("\n")) {
    const [sha, name] = line.split(" ");
    if (name === ref && sha !== undefined && isFullSha(sha)) return sha;
  }
  return undefined;
}

/** Files under `paths` that git does not ignore (tracked, or untracked and not ignored). */
export async function unignoredFiles(root: string, paths: string[]): Promise<string[]> {
  const out = await git(root, ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ...paths]);
  return out.split("\0").filter(Boolean);
}

export async function isGitRepository(root: string): Promise<boolean> {
  return git(root, ["rev-parse", "--is-inside-work-tree"]).then(
    (out) => out.trim() === "true",
    () => false,
  );
}
