// The real app changes the account's password (issue 19): from Settings,
// with the current password; another PC of the account stays signed in,
// unless the user also chooses to sign the other devices out; the new
// password signs in, the old one no longer does; the app itself goes on.
//
// Run by `make test` beside app.test.mjs, one file at a time, with
// NUBO_APP, NUBO_BIN and TAURI_DRIVER pointing at the binaries.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { acceptRequired, appTest, appTestFile, chooseFolderAndSync, cliAt, signIn, until } from "./webdriver.mjs";

// Ports of its own (app.test.mjs 4444, phone 4446, legal 4448, push 4450).
const ctx = appTestFile({ name: "password", port: 4452, device: "desktop" });

/** Changes the password in the app's Settings, until it says it is done. */
async function changePassword(app, current, fresh, signOutOthers) {
  await app.clickButton("Settings");
  // Settings may still be settling (its lists arrive from the service) and
  // redraw the section: click until the form is there.
  const open = () => app.run(`return !!document.querySelector('[data-testid="password-current"]');`);
  await until("the password form", async () => {
    if (await open()) return true;
    await app.click("password");
    return until("the form after the click", open, 2_000).catch(() => false);
  });
  await app.type("password-current", current);
  await app.type("password-new", fresh);
  if (signOutOthers) await app.click("password-sign-out");
  await app.click("password-go");
  // The form closes once the service has taken the change (an earlier
  // change's note may still be there).
  await until("the change confirmed", async () => !(await open()) && (await app.textOf("account-note")) === "The password is changed.");
}

appTest(ctx, "password", "the app changes the password, and other devices stay signed in unless the user chooses", async () => {
  const { app, work, nubo, url } = ctx;
  await signIn(app, "demo", "nubo-demo");
  await acceptRequired(app);
  await chooseFolderAndSync(app, join(work, "Nubo"));
  const other = cliAt(nubo, join(work, "other-pc"), "other-pc");
  for (const args of [["login", url, "demo", "--password-stdin"], ["agreements", "--accept", "--adult"], ["folder", "add", join(work, "Other")]]) {
    const out = other(args, "nubo-demo\n");
    assert.equal(out.status, 0, `nubo ${args.join(" ")}: ${out.stderr}`);
  }
  const signsIn = (password, home) => cliAt(nubo, join(work, home), home)(["login", url, "demo", "--password-stdin"], `${password}\n`).status === 0;

  await changePassword(app, "nubo-demo", "first new passphrase", false);
  const synced = other(["sync", "--once"]);
  assert.equal(synced.status, 0, `the other PC stays signed in: ${synced.stderr}`);
  assert.ok(signsIn("first new passphrase", "fresh-1"), "the new password signs in");
  assert.ok(!signsIn("nubo-demo", "fresh-2"), "the old password no longer does");

  await changePassword(app, "first new passphrase", "second new passphrase", true);
  const refused = other(["sync", "--once"]);
  assert.ok(refused.status !== 0 && refused.stderr.includes("nubo login"), `the other PC is signed out: ${refused.stderr}`);
  // The app itself stays signed in: a file dropped into its folder reaches the service.
  writeFileSync(join(work, "Nubo", "after-the-change.txt"), "still syncing");
  const third = cliAt(nubo, join(work, "third-pc"), "third-pc");
  for (const args of [["login", url, "demo", "--password-stdin"], ["agreements", "--accept", "--adult"], ["folder", "add", join(work, "Third")]]) {
    const out = third(args, "second new passphrase\n");
    assert.equal(out.status, 0, `nubo ${args.join(" ")}: ${out.stderr}`);
  }
  const arrived = join(work, "Third", "after-the-change.txt");
  await until("the app's file on the service", async () => {
    third(["sync", "--once"]);
    return existsSync(arrived) && readFileSync(arrived, "utf8") === "still syncing";
  });
});
