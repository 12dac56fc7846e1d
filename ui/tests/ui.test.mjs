// The UI in a real browser: Debian's chromium driven by playwright-core,
// against the test build (`npm run build:test`) whose IPC is a scripted
// backend (test/mock-backend.ts). Screenshots go to ../artifacts/ui/.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { extname, join, normalize, resolve } from "node:path";
import { chromium } from "playwright-core";

const here = resolve(import.meta.dirname, "..");
const dist = join(here, "dist-test");
const sharedAgreements = resolve(here, "../../shared/agreements");
const shots = resolve(here, "../artifacts/ui");
mkdirSync(shots, { recursive: true });

const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".md": "text/markdown; charset=utf-8", ".png": "image/png" };

let server, browser, base;

before(async () => {
  assert.ok(existsSync(join(dist, "index.html")), "run `npm run build:test` first");
  server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const [root, rel] = url.pathname.startsWith("/shared-agreements/")
      ? [sharedAgreements, url.pathname.slice("/shared-agreements/".length)]
      : [dist, url.pathname === "/" ? "index.html" : url.pathname.slice(1)];
    const file = normalize(join(root, decodeURIComponent(rel)));
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function open(query = "") {
  const page = await browser.newPage({ viewport: { width: 880, height: 700 } });
  // Bounded for a hung page, and generous for a loaded machine.
  page.setDefaultTimeout(30_000);
  await page.goto(`${base}/?${query}`);
  return page;
}

const shot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`) });
const calls = (page, cmd) => page.evaluate((c) => window.__nuboCalls.filter((x) => x.cmd === c).map((x) => x.args), cmd);

/** Scrolls the agreement text to its end, as a reader would. */
async function readToEnd(page) {
  await page.getByTestId("document").evaluate((el) => el.scrollTo(0, el.scrollHeight));
}

async function signIn(page, { server = "http://127.0.0.1:8787", password = "correct" } = {}) {
  await page.getByTestId("server").fill(server);
  await page.getByRole("button", { name: /Next|下一步/ }).click();
  await page.getByTestId("login").fill("demo");
  await page.getByTestId("password").fill(password);
  await page.getByRole("button", { name: /^(Sign in|登录)$/ }).click();
}

describe("first-run wizard", () => {
  test("goes from nothing to a synced folder, with Accept gated by reading and the age choice", async () => {
    const page = await open();
    await page.getByTestId("welcome").waitFor();
    await shot(page, "1-welcome");
    await signIn(page);
    await page.getByTestId("agreements").waitFor();

    // Document 1 of 2: the next one only after reading to the end.
    assert.equal(await page.getByTestId("doc-title").textContent(), "Nubo Terms of Service");
    assert.ok(await page.getByTestId("next-doc").isDisabled());
    await page.getByTestId("scroll-hint").waitFor();
    await shot(page, "3-agreement");
    await readToEnd(page);
    await page.getByTestId("next-doc").click();

    // The last one: Accept needs the end of the text and an age choice.
    assert.equal(await page.getByTestId("doc-title").textContent(), "Nubo Privacy Policy");
    assert.ok(await page.getByTestId("accept").isDisabled(), "nothing read yet");
    await readToEnd(page);
    assert.ok(await page.getByTestId("accept").isDisabled(), "no age choice yet");
    assert.equal(await page.getByTestId("push").isChecked(), false, "push consent is off unless chosen");
    await page.getByTestId("age-guardian").check();
    assert.ok(await page.getByTestId("accept").isEnabled());
    await page.getByTestId("accept").click();

    // Exactly what was shown: each document's version and language.
    const [acceptance] = await calls(page, "accept");
    assert.deepEqual(acceptance, {
      acceptance: {
        age: "guardian",
        documents: [
          { id: "terms", version: "2026-11-01", locale: "en" },
          { id: "privacy", version: "1", locale: "en" },
        ],
      },
    });

    await page.getByTestId("folder").waitFor();
    assert.equal(await page.getByTestId("local").inputValue(), "/home/user/Nubo");
    await shot(page, "4-folder");
    await page.getByTestId("start").click();
    await page.getByTestId("done").waitFor();
    await shot(page, "5-done");
    await page.getByRole("button", { name: "Next" }).click();
    assert.equal(await page.getByTestId("state-line").textContent(), "Up to date");
    assert.equal(await page.getByTestId("storage").textContent(), "Storage: 2.5 GB of 10.0 GB used");
    await page.getByTestId("show-both").click();
    assert.deepEqual(await calls(page, "show_conflict"), [{ path: "report.txt" }]);
    await shot(page, "6-status");
    await page.getByRole("button", { name: "Settings" }).click();
    await page.getByTestId("settings").waitFor();
    assert.equal(await page.getByTestId("start-at-login").isChecked(), true, "start at login is on after the wizard");
    await page.getByTestId("start-at-login").uncheck();
    assert.deepEqual(await calls(page, "set_start_at_login"), [{ on: false }]);

    // Selective sync: unticking asks first; cancelling changes nothing.
    await page.getByTestId("sel-/photos/2020").click();
    await page.getByTestId("exclude-confirm").waitFor();
    await page.getByRole("button", { name: "Cancel", exact: true }).click();
    assert.deepEqual(await calls(page, "set_excluded"), []);
    assert.equal(await page.getByTestId("sel-/photos/2020").isChecked(), true);
    await page.getByTestId("sel-/photos/2020").click();
    await page.getByTestId("exclude-yes").click();
    assert.deepEqual(await calls(page, "set_excluded"), [{ path: "/photos/2020", excluded: true }]);
    assert.equal(await page.getByTestId("sel-/photos/2020").isChecked(), false);
    // A folder with unsynced changes is refused, with the reason shown.
    await page.getByTestId("sel-/photos/2021").click();
    await page.getByTestId("exclude-yes").click();
    await page.getByText("has changes here that are not synced yet").waitFor();
    assert.equal(await page.getByTestId("sel-/photos/2021").isChecked(), true);

    // Ignore patterns: the folder's .nuboignore, edited here.
    assert.equal(await page.getByTestId("ignore-patterns").inputValue(), "*.log\n");
    await page.getByTestId("ignore-patterns").fill("*.log\nbuild/\n");
    await page.getByTestId("save-ignore").click();
    await page.getByTestId("ignore-saved").waitFor();
    assert.deepEqual(await calls(page, "set_ignore_patterns"), [{ text: "*.log\nbuild/\n" }]);
    await page.getByTestId("folder-paused").check();
    await page.getByTestId("folder-mode").selectOption("upload-only");
    assert.deepEqual(await calls(page, "set_folder"), [
      { local: "/home/user/Nubo", mode: null, paused: true },
      { local: "/home/user/Nubo", mode: "upload-only", paused: null },
    ]);
    // Folders: add a second one, then stop syncing it (after a confirmation).
    await page.getByTestId("add-folder").click();
    await page.getByTestId("add-local").fill("/home/user/Work");
    await page.getByTestId("add-remote").fill("/Work");
    await page.getByTestId("add-yes").click();
    assert.equal(await page.getByTestId("folder-row").count(), 2);
    await page.getByTestId("remove-folder").nth(1).click();
    await page.getByTestId("remove-yes").click();
    assert.equal(await page.getByTestId("folder-row").count(), 1);
    assert.deepEqual(await calls(page, "remove_folder"), [{ local: "/home/user/Work" }]);
    await page.getByTestId("upload-limit").fill("500");
    await page.getByTestId("upload-limit").blur();
    assert.deepEqual(await calls(page, "set_limits"), [{ limits: { upload_kbps: 500, download_kbps: 0 } }]);
    // Devices: another one can be signed out from here.
    assert.equal(await page.getByTestId("devices").locator("li").count(), 2);
    await page.getByTestId("revoke-2").click();
    await page.getByTestId("devices").locator("li").nth(1).waitFor({ state: "detached" });
    assert.deepEqual(await calls(page, "revoke_device"), [{ id: 2 }]);
    await page.getByTestId("open-logs").click();
    assert.equal((await calls(page, "open_logs")).length, 1);
    await shot(page, "7-settings");
    await page.getByRole("button", { name: "Privacy and legal" }).click();
    await page.getByTestId("legal-terms").getByText("You accepted version 2026-11-01 on 2026-11-23, in English").waitFor();
    await page.close();
  });

  test("says what went wrong with each kind of sign-in failure", async () => {
    const cases = [
      [{ password: "wrong" }, "The account ID, phone number or password is wrong."],
      [{ password: "guessing" }, "Too many sign-in attempts for this account or from this network. Try again at 2:05"],
      [{ server: "http://unreachable.example:9" }, "Cannot reach the service."],
      [{ server: "https://badcert.example" }, "certificate is not valid"],
      [{ server: "http://sync.example.com" }, "This address is not secure."],
    ];
    for (const [input, expected] of cases) {
      const page = await open();
      await signIn(page, input);
      const error = await page.getByTestId("sign-in-error").textContent();
      assert.ok(error.includes(expected), `${JSON.stringify(input)}: ${error}`);
      assert.equal(await page.getByTestId("password").inputValue(), "", "the password field is cleared");
      if (input.password) await shot(page, "2-sign-in-error");
      await page.close();
    }
  });

  test("speaks Simplified Chinese, and documents follow the language switch", async () => {
    const page = await open("lang=zh-CN");
    assert.equal(await page.locator("h1").textContent(), "欢迎使用 Nubo");
    await shot(page, "1-welcome-zh-CN");
    await signIn(page);
    await page.getByTestId("agreements").waitFor();
    await page.getByTestId("document").getByText("服务条款").first().waitFor();
    assert.equal(await page.getByTestId("doc-title").textContent(), "Nubo 服务条款", "the title follows the language");
    await shot(page, "3-agreement-zh-CN");
    await page.getByTestId("lang-en").click();
    await page.getByTestId("document").getByText("Nubo Terms of Service").first().waitFor();
    assert.equal(await page.getByTestId("doc-title").textContent(), "Nubo Terms of Service");
    assert.equal(await page.getByTestId("decline").textContent(), "Decline and sign out");
    await page.close();
  });

  test("the status window shows files and bytes left while syncing", async () => {
    const page = await toRunning("progress=1");
    assert.equal(await page.getByTestId("state-line").textContent(), "Syncing 3 files…");
    const details = await page.getByTestId("progress-details").textContent();
    assert.ok(details.includes("3 of 10 files left") && details.includes("4.0 MB of 10.0 MB left"), details);
    assert.equal(await page.getByTestId("progress").evaluate((el) => el.value), 0.6);
    await shot(page, "6-status-syncing");
    await page.close();
  });

  test("the status window shows how far the first reading of the files is", async () => {
    const page = await toRunning("progress=reading");
    assert.equal(await page.getByTestId("state-line").textContent(), "Reading 2500 files…");
    const details = await page.getByTestId("progress-details").textContent();
    assert.ok(details.includes("2500 of 3500 files left") && details.includes("5.0 MB of 7.0 MB left"), details);
    assert.ok(Math.abs((await page.getByTestId("progress").evaluate((el) => el.value)) - 2 / 7) < 1e-9);
    await page.close();
  });

  test("signs in with a code approved from another device, shown with a QR code", async () => {
    let page = await open("hold=code");
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByTestId("with-code").click();
    assert.equal(await page.getByTestId("user-code").textContent(), "BCDF-GHJK");
    await page.getByTestId("qr").locator("svg").waitFor();
    const body = await page.getByTestId("code-sign-in").textContent();
    assert.ok(body.includes("nubo approve BCDF-GHJK") && body.includes("http://127.0.0.1:8787/device"), body);
    await shot(page, "2-sign-in-code");
    // Approved elsewhere: the wizard goes on by itself.
    await page.evaluate(() => window.__nuboRelease("code"));
    await page.getByTestId("agreements").waitFor();
    await page.close();

    page = await open("code=expire");
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByTestId("with-code").click();
    const error = await page.getByTestId("sign-in-error").textContent();
    assert.ok(error.includes("expired"), error);
    await page.getByRole("button", { name: "Get a new code" }).waitFor();
    await page.close();
  });

  test("declining signs out and accepts nothing", async () => {
    const page = await open();
    await signIn(page);
    await page.getByTestId("decline").click();
    await page.getByTestId("welcome").waitFor();
    assert.deepEqual(await calls(page, "accept"), []);
    // Recorded on the service: the document shown, as shown.
    assert.deepEqual(await calls(page, "decline"), [{ documents: [{ id: "terms", version: "2026-11-01", locale: "en" }] }]);
    await page.close();
  });
});

describe("the service's real agreements", () => {
  test("render with headings, numbered clauses and bold clauses highlighted", async () => {
    assert.ok(existsSync(join(sharedAgreements, "manifest.json")), `${sharedAgreements} is missing: the shared real-world agreements must sit beside the repository`);
    const page = await open("agreements=shared");
    await signIn(page);
    await page.getByTestId("agreements").waitFor();
    const manifest = JSON.parse(readFileSync(join(sharedAgreements, "manifest.json"), "utf8"));
    const seen = [];
    let highlighted = 0;
    for (;;) {
      const title = await page.getByTestId("doc-title").textContent();
      seen.push(title);
      const doc = page.getByTestId("document");
      await doc.locator("p").first().waitFor();
      // What the source asks for decides what must show: not every document
      // has headings or bold clauses (the privacy policy has neither).
      const file = manifest.documents.find((d) => d.title === title).file;
      const source = readFileSync(join(sharedAgreements, file), "utf8");
      if (/^(=+|-+)\s*$|^#{1,3} /m.test(source)) {
        assert.ok((await doc.locator("h1, h2, h3").count()) > 0, `${title}: headings render as headings`);
      }
      if (source.includes("**")) {
        const bold = doc.locator("strong").first();
        const bg = await bold.evaluate((el) => getComputedStyle(el).backgroundColor);
        assert.equal(bg, "rgb(255, 241, 168)", `${title}: bold clauses are highlighted`);
        highlighted += 1;
      }
      const text = await doc.textContent();
      assert.ok(!text.includes("**"), `${title}: no raw Markdown bold markers`);
      assert.ok(!/\d\\\./.test(text), `${title}: escaped numbering renders as plain numbers`);
      await shot(page, `agreement-shared-${seen.length}`);
      if (title === "云服务用户协议") {
        assert.equal(await page.getByTestId("only-in").textContent(), "This document is only available in 简体中文.");
        // A bare URL followed by full-width text links only the URL.
        const links = await doc.locator("a").allTextContents();
        assert.ok(links.includes("https://i.mi.com"), `links: ${JSON.stringify(links)}`);
        assert.ok(links.every((l) => !/[\u3000-\u9fff]/.test(l)), `a link swallowed Chinese text: ${JSON.stringify(links)}`);
      }
      await readToEnd(page);
      if (await page.getByTestId("next-doc").count()) {
        await page.getByTestId("next-doc").click();
        continue;
      }
      break;
    }
    assert.deepEqual(seen, ["Account User Agreement", "Privacy Policy", "云服务用户协议"]);
    assert.ok(highlighted >= 1, "the documents with bold clauses showed them highlighted");
    // The optional push terms can be read before consenting, off by default.
    assert.equal(await page.getByTestId("push").isChecked(), false);
    await page.getByTestId("read-push").click();
    await page.getByTestId("push-terms").getByText("Push").first().waitFor();
    await page.getByTestId("push").waitFor();
    await page.close();
  });

  test("every document, in each language, shows every bold span highlighted and no literal **", async () => {
    assert.ok(existsSync(join(sharedAgreements, "manifest.json")), `${sharedAgreements} is missing: the shared real-world agreements must sit beside the repository`);
    const manifest = JSON.parse(readFileSync(join(sharedAgreements, "manifest.json"), "utf8"));
    const rendered = new Set();
    for (const lang of ["en", "zh-CN"]) {
      // Reachable before sign-in: the welcome step's "Privacy and legal".
      const page = await open(`agreements=shared&lang=${lang}`);
      await page.getByTestId("welcome-legal").click();
      await page.getByTestId("legal").waitFor();
      const ids = [...new Set(manifest.documents.map((d) => d.id))];
      for (const id of ids) {
        const entries = manifest.documents.filter((d) => d.id === id);
        const entry = entries.find((d) => d.locale === lang) ?? entries.find((d) => d.locale === "en") ?? entries[0];
        const doc = page.getByTestId("legal-document");
        const before = (await doc.count()) ? await doc.textContent() : "";
        await page.getByTestId(`legal-${id}`).getByTestId("read").click();
        // This document's text, not the one shown before.
        await page.waitForFunction((b) => {
          const el = document.querySelector('[data-testid="legal-document"]');
          return el && el.querySelector("p") && el.textContent !== b;
        }, before);
        const source = readFileSync(join(sharedAgreements, entry.file), "utf8");
        const text = await doc.textContent();
        assert.ok(!text.includes("**"), `${entry.file}: a literal ** is left`);
        const pairs = (source.match(/\*\*/g) ?? []).length / 2;
        const strong = doc.locator("strong");
        assert.equal(await strong.count(), pairs, `${entry.file}: every **…** span is bold`);
        const colors = await strong.evaluateAll((els) => els.map((el) => getComputedStyle(el).backgroundColor));
        assert.ok(colors.every((c) => c === "rgb(255, 241, 168)"), `${entry.file}: every bold span highlighted: ${colors}`);
        if (entry.file === "account-user-agreement.zh-CN.md") await shot(page, "agreement-zh-bold");
        rendered.add(entry.file);
      }
      await page.close();
    }
    assert.deepEqual([...rendered].sort(), manifest.documents.map((d) => d.file).sort(), "every shared document was rendered");
  });
});

describe("privacy and legal", () => {
  test("a second computer shows the first one's records, titles, languages and a withdrawal", async () => {
    const page = await open("records=second-pc");
    await signIn(page);
    await page.getByTestId("agreements").waitFor();
    await page.evaluate(() => window.__nuboEmit("nubo://show", "legal"));
    await page.getByTestId("legal").waitFor();
    await page.getByTestId("legal-terms").getByText("Nubo Terms of Service").waitFor();
    await page.getByTestId("legal-terms").getByText("You accepted version 2026-11-01 on 2026-11-20, in 简体中文").waitFor();
    await page.getByTestId("legal-privacy").getByText("You accepted version 1 on 2026-11-20, in English").waitFor();
    await page.getByTestId("legal-push").getByText("You withdrew your consent to version 1 on 2026-11-23").waitFor();
    await page.getByTestId("legal-push").getByText("(Optional)").waitFor();
    await page.getByTestId("legal-privacy").getByTestId("read").click();
    await page.getByTestId("legal-document").locator("p").first().waitFor();
    await shot(page, "legal-second-pc");
    await page.close();
  });

  test("the age question names 18, tells a minor what to do, and documents can be read again", async () => {
    const page = await open();
    await signIn(page);
    await page.getByTestId("agreements").waitFor();
    await readToEnd(page);
    await page.getByTestId("next-doc").click();
    assert.equal(await page.getByTestId("doc-title").textContent(), "Nubo Privacy Policy");
    await page.getByText("Are you 18 or older?").waitFor();
    assert.match(await page.getByTestId("age-minor").textContent(), /under 18 and no parent or guardian agrees, choose “Decline and sign out”/);
    await page.getByTestId("previous-doc").click();
    assert.equal(await page.getByTestId("doc-title").textContent(), "Nubo Terms of Service");
    await page.close();
  });

  test("a version replaced while it was read is shown anew, and not accepted", async () => {
    const page = await open("outdated=1");
    await signIn(page);
    await page.getByTestId("agreements").waitFor();
    await readToEnd(page);
    await page.getByTestId("next-doc").click();
    await readToEnd(page);
    await page.getByTestId("age-adult").check();
    await page.getByTestId("accept").click();
    await page.getByText("A newer version of a document was published while you read it").waitFor();
    assert.match(await page.getByTestId("doc-version").textContent(), /2027-01-01/);
    assert.equal(await page.getByTestId("folder").count(), 0, "still on the agreements");
    await page.close();
  });
});

/** Through the wizard to the running app's status window. */
async function toRunning(query = "") {
  const page = await open(query);
  await signIn(page);
  await page.getByTestId("agreements").waitFor();
  for (let i = 0; i < 2; i++) {
    await readToEnd(page);
    if (await page.getByTestId("next-doc").count()) await page.getByTestId("next-doc").click();
  }
  await page.getByTestId("age-adult").check();
  await page.getByTestId("accept").click();
  await page.getByTestId("start").click();
  await page.getByRole("button", { name: /^(Next|下一步)$/ }).click();
  await page.getByTestId("status").waitFor();
  return page;
}

describe("restore", () => {
  test("the tray's entry opens deleted items grouped by day and folder; several come back with progress", async () => {
    const page = await toRunning("hold=restore");
    // What the tray's "Restore deleted files…" does.
    await page.evaluate(() => window.__nuboEmit("nubo://show", "restore"));
    await page.getByTestId("restore").waitFor();
    // Two per page: the rest behind "Show more".
    await page.getByTestId("deleted-item").nth(1).waitFor();
    assert.equal(await page.getByTestId("deleted-item").count(), 2);
    await page.getByRole("button", { name: "Show more" }).click();
    await page.getByTestId("deleted-item").nth(3).waitFor();
    const days = await page.getByTestId("restore").locator("h2").allTextContents();
    assert.equal(days.length, 2, `grouped by day: ${days}`);
    const folders = await page.getByTestId("restore").locator("h3").allTextContents();
    assert.deepEqual(folders, ["/photos", "/docs", "/"]);
    const first = await page.getByTestId("deleted-item").first().textContent();
    assert.ok(first.includes("2020/") && first.includes("folder, 100 files") && first.includes("by laptop"), first);
    await shot(page, "restore-1-deleted");

    // Search finds a folder by a file inside it.
    await page.getByTestId("restore-search").fill("beach");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=deleted-item]").length === 1);
    await page.getByTestId("restore-search").fill("");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=deleted-item]").length === 2);
    await page.getByRole("button", { name: "Show more" }).click();
    await page.getByTestId("deleted-item").nth(3).waitFor();

    const button = page.getByTestId("restore-selected");
    assert.equal(await button.isDisabled(), true, "nothing selected, nothing to restore");
    await page.getByTestId("deleted-item").filter({ hasText: "2020/" }).getByRole("checkbox").check();
    await page.getByTestId("deleted-item").filter({ hasText: "report.txt" }).getByRole("checkbox").check();
    assert.equal(await button.textContent(), "Restore selected (2)");
    await button.click();
    await page.getByTestId("restore-progress").getByText("Restoring 2 of 2").waitFor();
    await shot(page, "restore-2-progress");
    await page.evaluate(() => window.__nuboRelease("restore"));
    const summary = await page.getByTestId("restore-summary").textContent();
    assert.ok(summary.includes("Files restored: 101."), summary);
    const restored = (await calls(page, "restore"))[0].items;
    assert.deepEqual(restored.map((i) => [i.node, i.rev]), [[11, null], [12, null]]);
    // They left the trash.
    await page.waitForFunction(() => !document.body.textContent.includes("report.txt"));
    await page.close();
  });

  test("a file's earlier versions come back as the current one or as a copy", async () => {
    const page = await toRunning();
    await page.getByTestId("recent").getByRole("listitem").filter({ hasText: "report.txt" }).getByTestId("earlier-versions").click();
    await page.getByTestId("versions").waitFor();
    assert.equal(await page.getByTestId("restore").locator("h1").textContent(), "Earlier versions of /report.txt");
    const rows = page.getByTestId("version");
    assert.equal(await rows.count(), 4);
    assert.ok((await rows.first().textContent()).includes("current"));
    assert.ok((await rows.last().textContent()).includes("old-desktop"));
    await shot(page, "restore-3-versions");
    await rows.last().getByRole("button", { name: "Restore as a copy" }).click();
    await page.getByTestId("restore-summary").waitFor();
    await rows.nth(1).getByRole("button", { name: "Restore this version" }).click();
    await page.waitForFunction(() => window.__nuboCalls.filter((c) => c.cmd === "restore").length === 2);
    const asked = (await calls(page, "restore")).map((c) => c.items[0]);
    assert.deepEqual(asked.map((i) => [i.node, i.rev, i.as_copy]), [[21, 1, true], [21, 3, false]]);
    await page.close();
  });

  test("an empty trash and an unreachable service each say what is going on", async () => {
    let page = await toRunning("trash=empty");
    await page.getByTestId("open-restore").click();
    assert.equal(await page.getByTestId("restore-empty").textContent(), "Nothing was deleted in the last 30 days.");
    await page.close();
    page = await toRunning("trash=fail&lang=zh-CN");
    await page.getByTestId("open-restore").click();
    const error = await page.getByTestId("restore-error").textContent();
    assert.ok(error.includes("无法访问服务上的回收站") && error.includes("connection refused"), error);
    await page.getByRole("button", { name: "重试" }).waitFor();
    await page.close();
  });
});

describe("a large new folder on the service", () => {
  test("waits in the status window until the user downloads it or keeps it off", async () => {
    const page = await toRunning("waiting=1");
    const waiting = page.getByTestId("waiting");
    assert.ok((await waiting.textContent()).includes("The new folder /videos on the service holds 4.2 GB."));
    await waiting.getByRole("button", { name: "Download it" }).click();
    assert.deepEqual(await calls(page, "set_excluded"), [{ path: "/videos", excluded: false }]);
    await page.getByTestId("status").waitFor();
    await page.close();
  });
});

describe("paused for the user", () => {
  test("a paused mass delete offers restore or going ahead", async () => {
    const page = await toRunning("pause=mass_delete");
    const panel = page.getByTestId("what-to-do");
    await panel.getByRole("button", { name: "Delete them on the other side too" }).click();
    assert.equal((await calls(page, "allow_mass_delete")).length, 1);
    await panel.waitFor({ state: "detached" });
    await page.close();
  });

  test("a frozen account offers to sign in again", async () => {
    const page = await toRunning("pause=account_frozen");
    await page.getByTestId("what-to-do").getByRole("button", { name: "Sign in again to reactivate the account" }).click();
    await page.getByTestId("welcome").waitFor();
    await page.close();
  });
});

describe("account settings", () => {
  test("push consent toggles, and cancelling needs the account ID typed", async () => {
    const page = await toRunning();
    await page.getByRole("button", { name: "Settings" }).click();
    const push = page.getByTestId("push-setting");
    assert.equal(await push.isChecked(), false, "off unless chosen");
    await push.check();
    assert.deepEqual(await calls(page, "set_push"), [{ on: true }]);
    // The password: a wrong current one is refused, with the reason shown.
    await page.getByTestId("password").click();
    await page.getByTestId("password-current").fill("wrong");
    await page.getByTestId("password-new").fill("new-pw");
    await page.getByTestId("password-go").click();
    await page.getByText("the current password is wrong").waitFor();
    await page.getByTestId("password-current").fill("correct");
    await page.getByTestId("password-go").click();
    await page.getByTestId("account-note").getByText("The password is changed.").waitFor();
    assert.deepEqual((await calls(page, "change_password")).at(-1), { change: { current: "correct", new: "new-pw", sign_out_others: false } });
    // Before cancelling: what would be lost, and a way to download it first.
    await page.getByTestId("cancel-account").click();
    await page.getByTestId("cancel-lost").getByText("1200 files (3.4 GB), 4 files in the trash (250.1 MB) and 7 earlier versions (12.0 kB)").waitFor();
    await page.getByTestId("cancel-only-there").getByText("/videos (2.0 GB)").waitFor();
    await page.getByTestId("cancel-export").click();
    await page.getByTestId("export-progress").waitFor();
    await page.getByText("3 files downloaded; 0 were there already.").waitFor();
    assert.deepEqual(await calls(page, "export_to"), [{ dir: "/home/user/Chosen", trash: false }]);
    const go = page.getByTestId("cancel-go");
    assert.equal(await go.isDisabled(), true);
    await page.getByTestId("cancel-typed").fill("dem");
    assert.equal(await go.isDisabled(), true, "a wrong ID cannot cancel");
    await page.getByTestId("cancel-typed").fill("demo");
    await shot(page, "settings-cancel-account");
    await go.click();
    assert.deepEqual(await calls(page, "cancel_account"), [{ confirm: "demo" }]);
    await page.getByTestId("welcome").waitFor();
    await page.close();
  });
});

// Each catalog's messages as the text between their arguments: a line the
// app shows "comes from" a catalog when every piece of one message (or of
// one variant of a plural) stands in it, in order.
function catalogPieces(lang) {
  const text = readFileSync(resolve(here, `../i18n/${lang}.ftl`), "utf8");
  const patterns = [];
  for (const line of text.split("\n")) {
    if (/^\s*#/.test(line) || !line.trim() || /^\s*}\s*$/.test(line)) continue;
    const m = line.match(/^[a-zA-Z][\w-]* = (.*)$/) ?? line.match(/^\s+\*?\[\w+\] (.*)$/);
    if (!m || /->\s*$/.test(m[1])) continue;
    patterns.push(m[1].split(/\{[^}]*\}/).map((p) => p.trim()).filter((p) => p.length > 1));
  }
  return patterns.filter((p) => p.length);
}

function fromCatalog(line, patterns) {
  return patterns.some((pieces) => {
    let at = 0;
    for (const piece of pieces) {
      const i = line.indexOf(piece, at);
      if (i < 0) return false;
      at = i + piece.length;
    }
    return true;
  });
}

describe("what the engine reports, in the user's language", () => {
  for (const lang of ["zh-CN", "en"]) {
    test(`every pause, problem and recorded change reads from the ${lang} catalog`, async () => {
      const page = await toRunning(`report=all&lang=${lang}`);
      const lines = [];
      for (const id of ["state-line", "notice", "database-damaged"]) lines.push(await page.getByTestId(id).textContent());
      for (const list of ["pauses", "recent", "problems"]) {
        for (const item of await page.getByTestId(list).getByRole("listitem").all()) {
          // The recent list's "Earlier versions…" button is not part of the line.
          lines.push((await item.evaluate((el) => [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join(""))).trim());
        }
      }
      const waiting = await page.getByTestId("waiting").getByRole("listitem").first().evaluate((el) => el.firstChild.textContent.trim());
      lines.push(waiting);
      // The state line, the notice, the damaged database; 13 pauses (the
      // large folder waits below, with its buttons), 8 changes, 34 problems.
      assert.equal(lines.length, 3 + 13 + 8 + 34 + 1, lines.join("\n"));
      const own = catalogPieces(lang);
      const other = catalogPieces(lang === "en" ? "zh-CN" : "en");
      for (const line of lines) {
        assert.ok(fromCatalog(line, own), `not from the ${lang} catalog: ${line}`);
        assert.ok(!/`|\bnubo [a-z]/.test(line), `a command line: ${line}`);
        if (lang === "zh-CN") {
          assert.ok(/[\u4e00-\u9fff]/.test(line), `no Chinese in: ${line}`);
          const english = (line.match(/[A-Za-z]{2,}/g) ?? []).filter((w) => !["Nubo", "nuboignore", "NUL", "jpg", "txt", "bin", "GB", "MB", "kB", "conflict"].includes(w));
          assert.deepEqual(english, [], `English in: ${line}`);
        } else {
          const chinese = other.flat().filter((piece) => /[\u4e00-\u9fff]/.test(piece) && line.includes(piece));
          assert.deepEqual(chinese, [], `Chinese words in: ${line}`);
        }
      }
      await shot(page, `status-every-report-${lang}`);
      await page.close();
    });
  }
});
