// What a test of the real app needs, for test files beside app.test.mjs:
// a `nubo serve` on 127.0.0.1, and the app started through tauri-driver
// (W3C WebDriver over WebKitWebDriver) with its own environment, driven by
// data-testid. Every wait is bounded.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
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

/** `nubo serve --demo` keeping its data in `data`: its URL. */
export function startService(nubo, data, children) {
  const child = spawn(nubo, ["serve", "--data", data, "--listen", "127.0.0.1:0", "--demo"], { stdio: ["ignore", "pipe", "ignore"] });
  children.push(child);
  return new Promise((ok, fail) => {
    const lines = createInterface({ input: child.stdout });
    lines.once("line", (l) => ok(l.trim().split(" ").pop()));
    child.once("exit", (c) => fail(new Error(`nubo serve exited with ${c}`)));
  });
}

/**
 * The app at `app` started by tauri-driver (at `driver`, listening on
 * `port` and `port + 1`) with `env`; screenshots go to `shots`. The
 * driver's process joins `children`.
 */
export async function openApp({ driver, app, env, port, shots, children }) {
  const child = spawn(driver, ["--port", String(port), "--native-port", String(port + 1)], { env, stdio: "ignore" });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  await until("tauri-driver", async () => (await fetch(`${base}/status`)).ok, 20_000);
  async function wd(method, path, body) {
    const r = await fetch(`${base}${path}`, { method, headers: { "content-type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
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
