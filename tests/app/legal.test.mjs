// The real app's "Privacy and legal" on a second PC (issue 19): a first PC
// (the CLI) accepts the required documents in Chinese; the service then
// announces a revision of the terms that takes effect later; the app signs
// in to the same account, is not asked again, and its "Privacy and legal"
// shows the first PC's acceptances (version, day, language by name), the
// push terms as not accepted, and the coming revision with its date. Then
// a new version of the push terms the first PC had accepted: the version
// accepted opens beside the current one, each with its own words.
//
// Run by `make test` beside app.test.mjs, one file at a time, with
// NUBO_APP, NUBO_BIN and TAURI_DRIVER pointing at the binaries.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { appTest, appTestFile, chooseFolderAndSync, cliAt, publishSamples, publishRevision, signIn, until } from "./webdriver.mjs";

const REVISION = { version: "2099-01-01", effective: "2099-01-01" };

// Ports of its own: app.test.mjs's driver uses 4444 and 4445, phone.test.mjs's 4446 and 4447.
const ctx = appTestFile({ name: "legal", port: 4448, device: "second-pc", prepare: publishSamples });
const today = () => new Date().toISOString().slice(0, 10);
/** Whether `text` says `said` on the day the test accepted (or the next, past midnight UTC). */
const onAcceptanceDay = (text, said, day) => [day, today()].some((d) => text.includes(said.replace("DAY", d)));

appTest(ctx, "legal", "a second PC's Privacy and legal shows the first PC's acceptances and a coming revision", async () => {
  const { app, work, nubo, url } = ctx;
  const day = today();
  const firstPc = cliAt(nubo, join(work, "first-pc"), "first-pc");
  for (const args of [["login", url, "demo", "--password-stdin"], ["agreements", "--accept", "--adult", "--locale", "zh-CN"]]) {
    const out = firstPc(args, "nubo-demo\n");
    assert.equal(out.status, 0, `nubo ${args.join(" ")}: ${out.stderr}`);
  }
  publishRevision(work, "terms", REVISION, true);

  await signIn(app, "demo", "nubo-demo");
  // Accepted on the account already: no agreements step on this PC.
  const next = await until("the step after sign-in", async () => {
    const [step] = await app.run(`return [...document.querySelectorAll('[data-testid="agreements"],[data-testid="folder"]')].map(e => e.dataset.testid);`);
    return step;
  });
  assert.equal(next, "folder", "asked again for what the first PC accepted");
  await chooseFolderAndSync(app, join(work, "Nubo"));

  await app.clickButton("Privacy and legal");
  const terms = await until("the terms' record", async () => {
    const text = await app.textOf("legal-terms");
    return text.includes("You accepted") && text;
  });
  assert.ok(terms.includes("Nubo Terms of Service"), terms);
  assert.ok(onAcceptanceDay(terms, "You accepted version 2026-11-01 on DAY, in 简体中文", day), terms);
  assert.ok(terms.includes(`New terms take effect on ${REVISION.effective} (version ${REVISION.version}).`), terms);
  const privacy = await app.textOf("legal-privacy");
  assert.ok(onAcceptanceDay(privacy, "You accepted version 1 on DAY, in 简体中文", day), privacy);
  const push = await app.textOf("legal-push");
  assert.ok(push.includes("Instant Change Notifications") && push.includes("Not accepted"), push);
  await app.shot("legal-second-pc");
});

appTest(ctx, "legal", "the version the account accepted opens beside the current one", async () => {
  const { app, work, nubo } = ctx;
  // The first PC consents to push (version 1); then version 2 is published with other words.
  const out = cliAt(nubo, join(work, "first-pc"), "first-pc")(["agreements", "--accept", "--adult", "--push"]);
  assert.equal(out.status, 0, out.stderr);
  writeFileSync(join(work, "published", "push.v2.md"), "Instant Change Notifications\n====\n\nWords found only in the second version.\n");
  publishRevision(work, "push", { version: "2", effective: "2026-12-01", file: "push.v2.md" }, false);

  // The screen loads when opened: away and back.
  await app.clickButton("Status");
  await app.clickButton("Privacy and legal");
  await until("push's record", async () => (await app.textOf("legal-push")).includes("You accepted version 1"));
  await app.click("read-accepted");
  await until("version 1's text", async () => (await app.textOf("legal-document")).includes("keeps a connection open to the service"));
  await app.run(`document.querySelector('[data-testid="legal-push"] [data-testid="read"]').click();`);
  await until("version 2's text", async () => (await app.textOf("legal-document")).includes("Words found only in the second version."));
});
