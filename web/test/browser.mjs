// The web app in a real headless Chromium (Debian's, driven by
// playwright-core) against the real services, started once for the run.
// Each screen's checks are a module in screens/ (run in name order), given
// the harness below as t: check, assert, eventually, call, axeCheck,
// newPage, signIn, drag, screenshot, makeUser, until.
//   node web/test/browser.mjs BIN_DIR WEB_DIR [NAME-FILTER]
// Prints one line per check and "N passed, N failed"; exits 77 (skipped)
// when there is no Chromium to drive.
import { existsSync, readFileSync, readdirSync, rmSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startServices } from "./services.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const bin = resolve(process.argv[2] ?? "build/asan");
const webDir = resolve(process.argv[3] ?? "build/web");
const only = process.argv[4] ?? "";
const shots = resolve(process.env.CRM_SCREENSHOTS ?? join(webDir, "../screenshots"));
const ADMIN_PASSWORD = "admin-pass-1";

// CRM_CHROMIUM names another build (one that is missing: the skip path)
const chromium = (process.env.CRM_CHROMIUM ? [process.env.CRM_CHROMIUM] : ["/usr/lib/chromium/chromium", "/usr/bin/chromium"])
    .find((p) => existsSync(p));
if (!chromium) {
    console.log("skipped: no Chromium (Debian's chromium package is not installed; make deps installs it)");
    process.exit(77);
}
if (!existsSync(join(webDir, "index.html"))) {
    console.log(`not ok - the web app is not built (${webDir}/index.html missing; make web)`);
    console.log("0 passed, 1 failed");
    process.exit(1);
}
const { chromium: playwright } = await import("playwright-core");
const axeSource = readFileSync(join(here, "../node_modules/axe-core/axe.min.js"), "utf8");

let passed = 0, failed = 0;
async function check(name, fn) {
    try {
        await fn();
        passed++;
        console.log(`ok - ${name}`);
    } catch (e) {
        failed++;
        console.log(`not ok - ${name}: ${e?.stack ?? e}`);
    }
}
function assert(cond, msg) {
    if (!cond) throw new Error(msg);
}
// Runs fn until it stops throwing, for at most ms: the page fills in
// parts (names, totals) as their calls come back.
async function eventually(fn, ms = 5000) {
    const until = Date.now() + ms;
    for (;;) {
        try {
            return await fn();
        } catch (e) {
            if (Date.now() > until) throw e;
            await new Promise((ok) => setTimeout(ok, 100));
        }
    }
}

// --- the services, as deploy/run-local.sh starts them -------------------------
const { dir, base, procs, stopAll, call, waitReady } = await startServices({ bin, webDir, adminPassword: ADMIN_PASSWORD });

const ID = "crm.identity.v1.Identity", PL = "crm.pipeline.v1.Pipeline";
const ACT = "crm.activities.v1.Activities", NOTIF = "crm.notifications.v1.Notifications";


async function axeCheck(page, screen) {
    await page.evaluate(axeSource);
    const result = await page.evaluate(async () => await globalThis.axe.run(document, { resultTypes: ["violations"] }));
    const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert(bad.length === 0, `${screen}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(", ")}`).join("; ")}`);
}

let browser;
const cspViolations = [];

// A page in a context of its own (its own cookies: one person), watched
// for Content-Security-Policy violations.
async function newPage(viewport = { width: 1366, height: 768 }) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.on("console", (m) => {
        if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    return { context, page };
}

// Signs in through the Sign in screen and waits for the screen after it.
async function signIn(page, login, password, path = "/pipeline") {
    await page.goto(`${base}${path}`);
    await page.getByLabel("Login").fill(login);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
}

// Drags with the mouse as a person does: press, a small move to start the
// drag, the way to the target, release.
async function drag(page, from, to) {
    const a = await from.boundingBox(), b = await to.boundingBox();
    await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
    await page.mouse.down();
    await page.mouse.move(a.x + a.width / 2 + 10, a.y + a.height / 2 + 5, { steps: 5 });
    await page.mouse.move(b.x + b.width / 2, b.y + Math.min(20, b.height / 2), { steps: 20 });
    await page.mouse.up();
}

async function screenshot(page, name) {
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, `${name}.png`) });
}

// A user with a password, and a token for calling the API as them.
async function makeUser({ login, name, salesAccess = "SALES_ACCESS_OWN_LEADS", isAdmin = false, password = `${login}-pass-1` }) {
    const admin = await waitReady();
    const { user } = await call(`${ID}/CreateUser`, {
        login, name, email: `${login}@example.com`, password, salesAccess, hrAccess: "HR_ACCESS_EMPLOYEE", isAdmin,
    }, admin);
    const { token } = await call(`${ID}/Login`, { login, password });
    return { user, token, password };
}

// Waits until fn() holds on the server, for at most ms.
async function until(fn, ms = 5000, what = "the server") {
    const end = Date.now() + ms;
    for (;;) {
        const got = await fn();
        if (got) return got;
        if (Date.now() > end) throw new Error(`${what}: not so after ${ms} ms`);
        await new Promise((ok) => setTimeout(ok, 100));
    }
}

try {
    const admin = await waitReady();
    browser = await playwright.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox"] });
    const t = {
        base, admin, browser, ADMIN_PASSWORD, ID, PL, ACT, NOTIF,
        check, assert, eventually, until, call, axeCheck, newPage, signIn, drag, screenshot, makeUser,
    };
    const modules = readdirSync(join(here, "screens")).filter((f) => f.endsWith(".mjs") && f.includes(only)).sort();
    for (const f of modules) {
        try {
            const run = (await import(pathToFileURL(join(here, "screens", f)).href)).default;
            await run(t);
        } catch (e) {
            failed++;
            console.log(`not ok - ${f}: setup: ${e?.stack ?? e}`);
        }
    }
    await check("no Content-Security-Policy violation on the way", async () => {
        assert(cspViolations.length === 0, cspViolations.join("\n"));
    });
} catch (e) {
    failed++;
    console.log(`not ok - setup: ${e?.stack ?? e}`);
} finally {
    if (browser) await browser.close().catch(() => {});
    const bad = await stopAll();
    if (bad.length) {
        failed++;
        console.log(`not ok - every service stops cleanly: ${bad.join("\n")}`);
    } else {
        passed++;
        console.log("ok - every service stops cleanly");
    }
    if (!failed) rmSync(dir, { recursive: true, force: true });
    else console.log(`data and sockets kept in ${dir}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
