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
  if (sha === undefined || !/^[0-9a-f]{40}$/.test(sha)) return undefined;
  return { sha, branch: branch === "(detached)" ? undefined : branch, dirty };
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
