// Turning push on in the real app's settings accepts the push terms and
// nothing else (issue 19): a new required version of the terms is
// published while the app syncs; the user turns push on in Settings before
// the app has heard of it; the service records the push terms accepted and
// the new terms still pending, and the app then asks for the new terms.
//
// The app polls once an hour here (its config, written before it starts)
// and no file changes, so it does not hear of the new terms between their
// publication and the click. Run by `make test` beside app.test.mjs, one
// file at a time, with NUBO_APP, NUBO_BIN and TAURI_DRIVER set.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { acceptRequired, appTest, appTestFile, chooseFolderAndSync, cliAt, publishSamples, publishRevision, signIn, until } from "./webdriver.mjs";

const NEW_TERMS = { version: "2026-12-01", effective: "2026-12-01" };

/** The published samples, and the app's home polling once an hour. */
function prepare(root, work) {
  mkdirSync(join(work, "app-home"), { mode: 0o700 });
  writeFileSync(join(work, "app-home", "config.json"), JSON.stringify({ poll_interval_secs: 3600 }));
  return publishSamples(root, work);
}

// Ports of its own (app.test.mjs 4444, phone 4446, legal 4448).
const ctx = appTestFile({ name: "push", port: 4450, device: "desktop", prepare });

appTest(ctx, "push", "turning push on in settings accepts the push terms and not a pending new version", async () => {
  const { app, work, nubo, url } = ctx;
  await signIn(app, "demo", "nubo-demo");
  await acceptRequired(app);
  await chooseFolderAndSync(app, join(work, "Nubo"));

  publishRevision(work, "terms", NEW_TERMS, false);
  await app.clickButton("Settings");
  await app.find("push-setting");
  assert.equal(await app.run(`return document.querySelector('[data-testid="push-setting"]').checked;`), false, "push starts off");
  // Settings may redraw as its lists arrive: a click on a replaced element is tried again.
  await until("push turned on", () => app.click("push-setting").then(() => true));

  // The app asks for the new terms: turning push on did not accept them.
  await app.find("agreements");
  await until("the new terms", async () => (await app.textOf("doc-title")) === "Nubo Terms of Service");
  const version = await app.textOf("doc-version");
  assert.ok(version.includes(NEW_TERMS.version), version);
  await app.shot("push-new-terms-asked");

  // What the service recorded, as another PC of the account reads it.
  const cli = cliAt(nubo, join(work, "cli-home"), "pc-cli");
  const login = cli(["login", url, "demo", "--password-stdin"], "nubo-demo\n");
  assert.equal(login.status, 0, login.stderr);
  const listed = cli(["agreements", "--json"]);
  assert.equal(listed.status, 0, listed.stderr);
  const docs = Object.fromEntries(JSON.parse(listed.stdout).documents.map((d) => [d.id, d]));
  assert.equal(docs.push.accepted, true, `push terms accepted: ${listed.stdout}`);
  assert.equal(docs.terms.version, NEW_TERMS.version, listed.stdout);
  assert.equal(docs.terms.accepted, false, `the new terms still pending: ${listed.stdout}`);
});
