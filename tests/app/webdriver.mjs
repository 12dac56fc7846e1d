// What a test of the real app needs, for test files beside app.test.mjs:
// a `nubo serve` on 127.0.0.1, and the app started through tauri-driver
// (W3C WebDriver over WebKitWebDriver) with its own environment, driven by
// data-testid. Every wait is bounded.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const W3C_ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` until it gives a truthy value, for at most `ms`. */
export async function until(what, f, ms = 30_000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

/** `nubo serve --demo` keeping its data in `data`, with `extra` arguments: its URL. */
export function startService(nubo, data, children, extra = []) {
  const child = spawn(nubo, ["serve", "--data", data, "--listen", "127.0.0.1:0", "--demo", ...extra], { stdio: ["ignore", "pipe", "ignore"] });
  children.push(child);
  return new Promise((ok, fail) => {
    const lines = createInterface({ input: child.stdout });
    lines.once("line", (l) => ok(l.trim().split(" ").pop()));
    child.once("exit", (c) => fail(new Error(`nubo serve exited with ${c}`)));
  });
}

/** `nubo` on a home of its own: another PC. Runs `args`, `input` on standard input. */
export const cliAt = (nubo, home, device) => (args, input) =>
  spawnSync(nubo, ["--home", home, ...args], { input, env: { ...process.env, NUBO_TOKEN_STORE: "file", NUBO_DEVICE_NAME: device }, encoding: "utf8" });

/**
 * The app at `app` started by tauri-driver (at `driver`, listening on
 * `port` and `port + 1`) with `env`; screenshots go to `shots`. The
 * driver's process joins `children`.
 */
export async function openApp({ driver, app, env, port, shots, children }) {
  const child = spawn(driver, ["--port", String(port), "--native-port", String(port + 1)], { env, stdio: "ignore" });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  await until("tauri-driver", async () => (await fetch(`${base}/status`, { signal: AbortSignal.timeout(5_000) })).ok, 20_000);
  async function wd(method, path, body) {
    // Bounded: a driver that stopped answering fails the test rather than hanging it.
    const r = await fetch(`${base}${path}`, { method, headers: { "content-type": "application/json" }, body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(60_000) });
    const json = await r.json();
    if (!r.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value)}`);
    return json.value;
  }
  const created = await wd("POST", "/session", { capabilities: { alwaysMatch: { "tauri:options": { application: app } } } });
  const s = (path) => `/session/${created.sessionId}${path}`;
  const find = (testid) => until(`[data-testid=${testid}]`, async () => (await wd("POST", s("/element"), { using: "css selector", value: `[data-testid="${testid}"]` }))[W3C_ELEMENT]);
  const run = (script, ...args) => wd("POST", s("/execute/sync"), { script, args });
  return {
    find,
    run,
    click: async (testid) => wd("POST", s(`/element/${await find(testid)}/click`), {}),
    type: async (testid, text) => {
      const el = await find(testid);
      await wd("POST", s(`/element/${el}/clear`), {});
      await wd("POST", s(`/element/${el}/value`), { text });
    },
    textOf: async (testid) => wd("GET", s(`/element/${await find(testid)}/text`)),
    clickButton: (label) => run(`const b=[...document.querySelectorAll("button")].find(b=>b.textContent.trim()===arguments[0]); if(!b) throw new Error("no button "+arguments[0]); b.click();`, label),
    shot: async (name) => writeFileSync(join(shots, `${name}.png`), Buffer.from(await wd("GET", s("/screenshot")), "base64")),
    close: () => wd("DELETE", s("")).catch(() => {}),
  };
}

/** The pids of every running copy of the app at `app`. */
function appPids(app) {
  const real = realpathSync(app);
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/exe`).startsWith(real);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/**
 * Waits until no copy of the app runs, stopping those left after 15 s: the
 * app allows one copy per desktop session, and a copy still closing from
 * the test file before would take the next file's launch over.
 */
export async function noAppRunning(app) {
  try {
    await until("the app to exit", () => appPids(app).length === 0, 15_000);
  } catch {
    console.error(`# the app still ran after 15 s (pids ${appPids(app).join(", ")}): stopped`);
    for (const pid of appPids(app)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    await until("the app to be stopped", () => appPids(app).length === 0, 10_000);
  }
}

/** The wizard's first two steps: the service preset, then `login` and `password`. */
export async function signIn(app, login, password) {
  await app.find("welcome");
  await app.clickButton("Next");
  await app.type("login", login);
  await app.type("password", password);
  await app.clickButton("Sign in");
}

/** The wizard's folder step and its end, until the status says "Up to date". */
export async function chooseFolderAndSync(app, folder) {
  await app.find("folder");
  await app.type("local", folder);
  await app.click("start");
  await app.find("done");
  await app.clickButton("Next");
  await until("up to date", async () => (await app.textOf("state-line")) === "Up to date");
}

/**
 * A test file's set-up: a work folder named after `name`, a `nubo serve`
 * (with the arguments `prepare(root, work)` gives, run first), and the
 * app at its wizard, driven through tauri-driver on `port` and `port + 1`
 * (each file its own). Filled in before the file's tests run: `work`,
 * `url`, `app`, `nubo` (the CLI's binary), `children` (stopped after).
 */
export function appTestFile({ name, port, device, prepare = () => [] }) {
  const root = resolve(import.meta.dirname, "../..");
  const [APP, NUBO, DRIVER] = [process.env.NUBO_APP, process.env.NUBO_BIN, process.env.TAURI_DRIVER];
  const shots = join(root, "artifacts/app");
  mkdirSync(shots, { recursive: true });
  const ctx = { root, work: mkdtempSync(join(tmpdir(), `nubo-app-${name}-`)), nubo: NUBO, children: [] };
  before(async () => {
    for (const [env, path] of [["NUBO_APP", APP], ["NUBO_BIN", NUBO], ["TAURI_DRIVER", DRIVER]]) {
      assert.ok(path && existsSync(path), `${env} must name a built binary (got ${path})`);
    }
    ctx.url = await startService(NUBO, join(ctx.work, "service"), ctx.children, prepare(ctx.root, ctx.work));
    const home = join(ctx.work, "user");
    mkdirSync(home);
    const env = { ...process.env, HOME: home, NUBO_HOME: join(ctx.work, "app-home"), NUBO_SERVER: ctx.url, NUBO_DEVICE_NAME: device, LANG: "en_US.UTF-8" };
    await noAppRunning(APP);
    ctx.app = await openApp({ driver: DRIVER, app: APP, env, port, shots, children: ctx.children });
  });
  after(async () => {
    if (ctx.app) await ctx.app.close();
    for (const c of ctx.children) c.kill();
    await noAppRunning(APP);
  });
  return ctx;
}

/** A test of the app whose failure leaves a screenshot, `<name>-failure.png`. */
export function appTest(ctx, name, title, f) {
  test(title, async () => {
    try {
      await f();
    } catch (e) {
      await ctx.app?.shot(`${name}-failure`).catch(() => {});
      throw e;
    }
  });
}

/** The wizard's agreements step for the sample documents: each read to its end, an adult, no push. */
export async function acceptRequired(app) {
  await app.find("agreements");
  await until("the first document", async () => (await app.textOf("doc-title")) === "Nubo Terms of Service");
  const scrollDown = () => app.run(`const d=document.querySelector('[data-testid="document"]'); d.scrollTo(0, d.scrollHeight); d.dispatchEvent(new Event("scroll"));`);
  await scrollDown();
  await app.click("next-doc");
  await until("the second document", async () => (await app.textOf("doc-title")) === "Nubo Privacy Policy");
  await scrollDown();
  await app.click("age-adult");
  await app.click("accept");
}

/** The sample documents copied to `work`/published, where a test publishes into them: `nubo serve`'s arguments. */
export function publishSamples(root, work) {
  const samples = join(root, "crates/server/agreements");
  mkdirSync(join(work, "published"));
  for (const f of readdirSync(samples)) copyFileSync(join(samples, f), join(work, "published", f));
  return ["--agreements", join(work, "published")];
}

/**
 * Publishes `revision` ({ version, effective }, maybe { file }) of the
 * document `id` in each of its languages, as an operator replacing the
 * files would; with `keepOld`, the version in force stays listed beside it
 * (a revision announced ahead).
 */
export function publishRevision(work, id, revision, keepOld) {
  const path = join(work, "published", "manifest.json");
  const manifest = JSON.parse(readFileSync(path, "utf8"));
  const revised = manifest.documents.filter((d) => d.id === id).map((d) => ({ ...d, ...revision }));
  if (!keepOld) manifest.documents = manifest.documents.filter((d) => d.id !== id);
  manifest.documents.push(...revised);
  writeFileSync(path, JSON.stringify(manifest, null, 2));
}
