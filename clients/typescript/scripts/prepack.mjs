// `npm pack` and `npm publish` run this first (the "prepack" script), so that
// the tarball always holds a fresh dist/ built from src/ (a fresh clone has no
// dist/) and the repository's LICENSE, which npm only ships from the
// package's own folder (the copy is not committed: see .gitignore).
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, rmSync } from "node:fs";
import { createRequire } from "node:module";

const here = new URL("../", import.meta.url);
const license = new URL("../../LICENSE", here);
if (!existsSync(license)) {
  throw new Error(`no LICENSE at the repository's root (${license.pathname}): pack from a clone`);
}
rmSync(new URL("dist/", here), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
// --force: dist/ was just removed, and tsc -b trusts its build info otherwise.
execFileSync(process.execPath, [tsc, "--build", "--force", "tsconfig.json"], {
  cwd: here,
  stdio: "inherit",
});
copyFileSync(license, new URL("LICENSE", here));
