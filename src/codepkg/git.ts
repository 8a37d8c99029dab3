/** The few facts about the git checkout a package records, read with the git command line. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

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

/** The checkout's commit, branch and dirty flag; undefined outside a git repository. */
export async function gitInfo(root: string): Promise<GitInfo | undefined> {
  let sha: string;
  try {
    sha = (await git(root, ["rev-parse", "HEAD"])).trim();
  } catch {
    return undefined;
  }
  const branch = (await git(root, ["rev-parse", "--abbrev-ref", "HEAD"]).catch(() => "")).trim();
  const status = await git(root, ["status", "--porcelain"]);
  return { sha, branch: branch && branch !== "HEAD" ? branch : undefined, dirty: status.trim() !== "" };
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
