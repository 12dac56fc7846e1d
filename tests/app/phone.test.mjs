// The real app signs in with a phone number (issue 19): an account made by
// the operator with a phone number, the wizard given that number and the
// password, the agreements accepted, a folder chosen, "Up to date"; a file
// dropped into the folder reaches that account, as another PC signed in
// with its account ID sees. Screenshots go to artifacts/app/phone-*.png.
//
// Run by `make test` beside app.test.mjs (one file at a time: the app is a
// single instance per desktop session), with NUBO_APP, NUBO_BIN and
// TAURI_DRIVER pointing at the binaries.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { acceptRequired, appTest, appTestFile, chooseFolderAndSync, cliAt, signIn, until } from "./webdriver.mjs";

const PHONE = "+8613700137000";
const PASSWORD = "a phone user's passphrase";
// Ports of its own: app.test.mjs's driver uses 4444 and 4445.
const ctx = appTestFile({ name: "phone", port: 4446, device: "desktop" });

appTest(ctx, "phone", "the wizard signs in with a phone number and the folder syncs to that account", async () => {
  const { app, work, nubo, url } = ctx;
  const made = spawnSync(nubo, ["admin", "add-account", "--data", join(work, "service"), "erin", "--phone", PHONE, "--password-stdin"], { input: `${PASSWORD}\n`, encoding: "utf8" });
  assert.equal(made.status, 0, made.stderr);

  await signIn(app, PHONE, PASSWORD);
  await acceptRequired(app);
  const folder = join(work, "Nubo");
  await chooseFolderAndSync(app, folder);
  await app.shot("phone-status");

  // The account the number named: another PC signed in with its ID gets the file.
  writeFileSync(join(folder, "from-the-phone-sign-in.txt"), "signed in by phone number");
  const cli = cliAt(nubo, join(work, "cli-home"), "pc-cli");
  for (const args of [["login", url, "erin", "--password-stdin"], ["agreements", "--accept", "--adult"], ["folder", "add", join(work, "Other")]]) {
    const out = cli(args, `${PASSWORD}\n`);
    assert.equal(out.status, 0, `nubo ${args.join(" ")}: ${out.stderr}`);
  }
  const other = join(work, "Other/from-the-phone-sign-in.txt");
  await until("the file in erin's account", async () => {
    cli(["sync", "--once"]);
    return existsSync(other) && readFileSync(other, "utf8") === "signed in by phone number";
  });
  await until("up to date after the drop", async () => (await app.textOf("state-line")) === "Up to date");
});
