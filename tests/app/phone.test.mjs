// The real app signs in with a phone number (issue 19): an account made by
// the operator with a phone number, the wizard given that number and the
// password, the agreements accepted, a folder chosen, "Up to date"; a file
// dropped into the folder reaches that account, as another PC signed in
// with its account ID sees. Screenshots go to artifacts/app/phone-*.png.
//
// Run by `make test` beside app.test.mjs (one file at a time: the app is a
// single instance per desktop session), with NUBO_APP, NUBO_BIN and
// TAURI_DRIVER pointing at the binaries.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { openApp, startService, until } from "./webdriver.mjs";

const root = resolve(import.meta.dirname, "../..");
const [APP, NUBO, DRIVER] = [process.env.NUBO_APP, process.env.NUBO_BIN, process.env.TAURI_DRIVER];
const shots = join(root, "artifacts/app");
mkdirSync(shots, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "nubo-app-phone-"));
const children = [];
const PHONE = "+8613700137000";
const PASSWORD = "a phone user's passphrase";

let app, url;

/** `nubo` on another home: another PC of the same account. */
const cli = (args, input) =>
  spawnSync(NUBO, ["--home", join(work, "cli-home"), ...args], { input, env: { ...process.env, NUBO_TOKEN_STORE: "file", NUBO_DEVICE_NAME: "pc-cli" }, encoding: "utf8" });

before(async () => {
  for (const [name, path] of [["NUBO_APP", APP], ["NUBO_BIN", NUBO], ["TAURI_DRIVER", DRIVER]]) {
    assert.ok(path && existsSync(path), `${name} must name a built binary (got ${path})`);
  }
  const data = join(work, "service");
  url = await startService(NUBO, data, children);
  const made = spawnSync(NUBO, ["admin", "add-account", "--data", data, "erin", "--phone", PHONE, "--password-stdin"], { input: `${PASSWORD}\n`, encoding: "utf8" });
  assert.equal(made.status, 0, made.stderr);
  const home = join(work, "user");
  mkdirSync(home);
  const env = { ...process.env, HOME: home, NUBO_HOME: join(work, "app-home"), NUBO_SERVER: url, NUBO_DEVICE_NAME: "desktop", LANG: "en_US.UTF-8" };
  // Ports of its own: app.test.mjs's driver uses 4444 and 4445.
  app = await openApp({ driver: DRIVER, app: APP, env, port: 4446, shots, children });
});

after(async () => {
  if (app) await app.close();
  for (const c of children) c.kill();
});

test("the wizard signs in with a phone number and the folder syncs to that account", async () => {
  try {
    await signInWithPhoneAndSync();
  } catch (e) {
    await app.shot("phone-failure").catch(() => {});
    throw e;
  }
});

async function signInWithPhoneAndSync() {
  await app.find("welcome");
  await app.clickButton("Next");
  await app.type("login", PHONE);
  await app.type("password", PASSWORD);
  await app.shot("phone-1-sign-in");
  await app.clickButton("Sign in");

  await app.find("agreements");
  await until("the first document", async () => (await app.textOf("doc-title")) === "Nubo Terms of Service");
  const scrollDown = () => app.run(`const d=document.querySelector('[data-testid="document"]'); d.scrollTo(0, d.scrollHeight); d.dispatchEvent(new Event("scroll"));`);
  await scrollDown();
  await app.click("next-doc");
  await until("the second document", async () => (await app.textOf("doc-title")) === "Nubo Privacy Policy");
  await scrollDown();
  await app.click("age-adult");
  await app.click("accept");

  const folder = join(work, "Nubo");
  await app.find("folder");
  await app.type("local", folder);
  await app.click("start");
  await app.find("done");
  await app.clickButton("Next");
  await until("up to date", async () => (await app.textOf("state-line")) === "Up to date");
  await app.shot("phone-2-status");

  // The account the number named: another PC signed in with its ID gets the file.
  writeFileSync(join(folder, "from-the-phone-sign-in.txt"), "signed in by phone number");
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
}
