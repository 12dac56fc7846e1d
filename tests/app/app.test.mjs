// The real desktop app, end to end: `nubo-app` under Xvfb, driven through
// tauri-driver and WebKitWebDriver (W3C WebDriver), against a real
// `nubo serve` on 127.0.0.1. Sign in, accept, choose a folder; a file dropped
// in it reaches the service; the status says "Up to date"; deleted on another
// PC, it comes back from the restore dialog. A screenshot of each step goes
// to artifacts/app/.
//
// Run by `make test` as: scripts/with-keyring.sh xvfb-run -a node --test tests/app/
// with NUBO_APP, NUBO_BIN and TAURI_DRIVER pointing at the binaries.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { sleep, until } from "./webdriver.mjs";

const root = resolve(import.meta.dirname, "../..");
const APP = process.env.NUBO_APP;
const NUBO = process.env.NUBO_BIN;
const DRIVER = process.env.TAURI_DRIVER;
const shots = join(root, "artifacts/app");
mkdirSync(shots, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "nubo-app-test-"));
const children = [];
const W3C_ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
function startService() {
  const child = spawn(NUBO, ["serve", "--data", join(work, "service"), "--listen", "127.0.0.1:0", "--demo"], { stdio: ["ignore", "pipe", "ignore"] });
  children.push(child);
  return new Promise((ok, fail) => {
    const lines = createInterface({ input: child.stdout });
    lines.once("line", (l) => ok(l.trim().split(" ").pop()));
    child.once("exit", (c) => fail(new Error(`nubo serve exited with ${c}`)));
  });
}

let session, base;
async function wd(method, path, body) {
  const r = await fetch(`${base}${path}`, { method, headers: { "content-type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
  const json = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value)}`);
  return json.value;
}
const s = (path) => `/session/${session}${path}`;
const find = (testid) => until(`[data-testid=${testid}]`, async () => (await wd("POST", s("/element"), { using: "css selector", value: `[data-testid="${testid}"]` }))[W3C_ELEMENT]);
const click = async (testid) => wd("POST", s(`/element/${await find(testid)}/click`), {});
const type = async (testid, text) => {
  const el = await find(testid);
  await wd("POST", s(`/element/${el}/clear`), {});
  await wd("POST", s(`/element/${el}/value`), { text });
};
const textOf = async (testid) => wd("GET", s(`/element/${await find(testid)}/text`));
const run = (script, ...args) => wd("POST", s("/execute/sync"), { script, args });
const shot = async (name) => writeFileSync(join(shots, `${name}.png`), Buffer.from(await wd("GET", s("/screenshot")), "base64"));
const clickButton = (label) => run(`const b=[...document.querySelectorAll("button")].find(b=>b.textContent.trim()===arguments[0]); if(!b) throw new Error("no button "+arguments[0]); b.click();`, label);

let url, folder, appEnv;
/** `nubo` on a second home: another PC of the same account. */
const cli = (...args) => spawnSync(NUBO, ["--home", join(work, "cli-home"), ...args], { input: "nubo-demo\n", env: { ...process.env, NUBO_TOKEN_STORE: "file", NUBO_DEVICE_NAME: "pc-cli" }, encoding: "utf8" });

before(async () => {
  for (const [name, path] of [["NUBO_APP", APP], ["NUBO_BIN", NUBO], ["TAURI_DRIVER", DRIVER]]) {
    assert.ok(path && existsSync(path), `${name} must name a built binary (got ${path})`);
  }
  url = await startService();
  folder = join(work, "Nubo");
  // A HOME of its own: start at login writes $HOME/.config/autostart/Nubo.desktop.
  const appHome = join(work, "user");
  mkdirSync(appHome);
  appEnv = { ...process.env, HOME: appHome, NUBO_HOME: join(work, "app-home"), NUBO_SERVER: url, NUBO_DEVICE_NAME: "desktop", LANG: "en_US.UTF-8" };
  const driver = spawn(DRIVER, ["--port", "4444", "--native-port", "4445"], { env: appEnv, stdio: "ignore" });
  children.push(driver);
  base = "http://127.0.0.1:4444";
  await until("tauri-driver", async () => (await fetch(`${base}/status`)).ok, 20_000);
  const created = await wd("POST", "/session", { capabilities: { alwaysMatch: { "tauri:options": { application: APP } } } });
  session = created.sessionId;
});

after(async () => {
  if (session) await wd("DELETE", s("")).catch(() => {});
  for (const c of children) c.kill();
});

const withShotOnFailure = (f) => async () => {
  try {
    await f();
  } catch (e) {
    await shot("failure").catch(() => {});
    throw e;
  }
};

test("from nothing to a synced folder in the real app", withShotOnFailure(wizardToSyncedFolder));

test("a file deleted on another PC comes back from the app's restore dialog", withShotOnFailure(async () => {
  rmSync(join(work, "Other/dropped.txt"));
  assert.equal(cli("sync", "--once").status, 0);
  await until("the delete reaching the app's folder", async () => !existsSync(join(folder, "dropped.txt")));
  // Click once the window has settled, as a user would: the recent changes
  // list grows by the delete, and a link under it moves down a line.
  await until("the delete in the recent changes", async () => (await textOf("recent")).includes("Moved to the trash: dropped.txt"));
  await until("up to date after the delete", async () => (await textOf("state-line")) === "Up to date");

  await click("open-restore");
  await until("dropped.txt in the trash", async () => (await textOf("restore")).includes("dropped.txt"));
  const line = await textOf("deleted-item");
  assert.ok(line.includes("by pc-cli"), line);
  await run(`document.querySelector('[data-testid="deleted-item"] input[type=checkbox]').click();`);
  await shot("7-restore");
  await click("restore-selected");
  await until("the summary", async () => (await textOf("restore-summary")).includes("Files restored: 1."));
  await until("dropped.txt back on disk", async () => existsSync(join(folder, "dropped.txt")) && readFileSync(join(folder, "dropped.txt"), "utf8") === "from the desktop app");
  await until("dropped.txt gone from the trash", async () => !(await textOf("restore")).includes("dropped.txt"));
  await shot("8-restored");
}));

async function wizardToSyncedFolder() {
  await find("welcome");
  assert.equal(await (await find("server")).length > 0, true);
  await shot("1-welcome");
  await clickButton("Next");
  await type("login", "demo");
  await type("password", "nubo-demo");
  await shot("2-sign-in");
  await clickButton("Sign in");

  await find("agreements");
  await until("the first document", async () => (await textOf("doc-title")) === "Nubo Terms of Service");
  await shot("3-agreements");
  const scrollDown = () => run(`const d=document.querySelector('[data-testid="document"]'); d.scrollTo(0, d.scrollHeight); d.dispatchEvent(new Event("scroll"));`);
  await scrollDown();
  await click("next-doc");
  await until("the second document", async () => (await textOf("doc-title")) === "Nubo Privacy Policy");
  await scrollDown();
  await click("age-adult");
  // Instant change notifications on: another PC's changes arrive by push.
  await click("push");
  await click("accept");

  await find("folder");
  await type("local", folder);
  await shot("4-folder");
  await click("start");
  await find("done");
  await shot("5-done");
  await until("the autostart entry", async () => existsSync(join(work, "user/.config/autostart/Nubo.desktop")));
  await clickButton("Next");
  await until("up to date", async () => (await textOf("state-line")) === "Up to date");

  // A file dropped into the folder reaches the service: another home sees it.
  writeFileSync(join(folder, "dropped.txt"), "from the desktop app");
  assert.equal(cli("login", url, "demo", "--password-stdin").status, 0);
  assert.equal(cli("agreements", "--accept", "--adult").status, 0);
  assert.equal(cli("folder", "add", join(work, "Other")).status, 0);
  await until("the file on the service", async () => {
    cli("sync", "--once");
    return existsSync(join(work, "Other/dropped.txt")) && readFileSync(join(work, "Other/dropped.txt"), "utf8") === "from the desktop app";
  });
  await until("up to date after the drop", async () => (await textOf("state-line")) === "Up to date");
  await shot("6-status");
}

test("a second launch hands over to the running app and exits", withShotOnFailure(async () => {
  const second = spawn(APP, [], { env: appEnv, stdio: "ignore" });
  children.push(second);
  const code = await Promise.race([
    new Promise((ok) => second.once("exit", (c) => ok(c))),
    sleep(30_000).then(() => "still running"),
  ]);
  assert.equal(code, 0, "the second instance should have exited at once");
  // The first one still answers.
  await find("restore");
}));
