/** Reading HEAD from `.git`'s files must agree with git itself, or give up and let git answer. */
import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { readHeadSha } from "../../src/codepkg/git.js";
import { createTestProject, type TestProject } from "../helpers/project.js";

let project: TestProject;
before(async () => {
  project = await createTestProject();
});
after(() => project.remove());

test("HEAD on a branch with a loose ref, a packed ref, and detached: the same SHA as git's", async () => {
  const first = project.git("rev-parse", "HEAD");
  assert.equal(readHeadSha(project.root), first);

  const second = await project.commit({ "src/index.ts": "2\n" });
  project.git("pack-refs", "--all", "--prune");
  await assert.rejects(fsp.access(path.join(project.root, ".git/refs/heads/main")), "the ref is only packed now");
  assert.equal(readHeadSha(project.root), second);

  project.git("checkout", "-q", "--detach", first);
  assert.equal(readHeadSha(project.root), first);
  project.git("checkout", "-q", "main");
  assert.equal(readHeadSha(project.root), second);
});

test("what it does not read gives undefined, so the caller asks git", async () => {
  assert.equal(readHeadSha(path.join(project.root, "src")), undefined, "a folder below the root");
  project.git("checkout", "-q", "-b", "unborn-test");
  project.git("update-ref", "-d", "refs/heads/unborn-test");
  assert.equal(readHeadSha(project.root), undefined, "a branch without commits");
  project.git("checkout", "-q", "main");
  const worktree = `${project.root}-worktree`;
  project.git("worktree", "add", "-q", "--detach", worktree);
  try {
    assert.equal(readHeadSha(worktree), undefined, "a worktree keeps a .git file, not a folder");
  } finally {
    project.git("worktree", "remove", "--force", worktree);
  }
});
