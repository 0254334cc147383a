// The web app in a real headless Chromium (Debian's, driven by
// playwright-core) against the real services: sign in, the Pipeline's
// columns by role and name, an opportunity made through the API shows as
// a card, a drag moves it on the server, the cookie's cross-site rules,
// and axe-core on both screens.
//   node web/test/browser.mjs BIN_DIR WEB_DIR
// Prints one line per check and "N passed, N failed"; exits 77 (skipped)
// when there is no Chromium to drive.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const bin = resolve(process.argv[2] ?? "build/asan");
const webDir = resolve(process.argv[3] ?? "build/web");
const ADMIN_PASSWORD = "admin-pass-1";
const LI_PASSWORD = "saleslee-pass-1";

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
function freePort() {
    return new Promise((ok, fail) => {
        const s = createServer();
        s.once("error", fail);
        s.listen(0, "127.0.0.1", () => {
            const { port } = s.address();
            s.close(() => ok(port));
        });
    });
}

const dir = mkdtempSync(join(tmpdir(), "crm-web-test."));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const ep = (name) => `ipc://${dir}/${name}`;
const env = {
    ...process.env,
    CRM_ADMIN_PASSWORD: ADMIN_PASSWORD,
    CRM_IDENTITY_RPC: ep("identity.rpc"), CRM_IDENTITY_EVENTS: ep("identity.events"),
    CRM_IDENTITY_REPLAY: ep("identity.replay"),
    CRM_PIPELINE_RPC: ep("pipeline.rpc"), CRM_PIPELINE_EVENTS: ep("pipeline.events"),
    CRM_PIPELINE_REPLAY: ep("pipeline.replay"),
    CRM_ACTIVITIES_RPC: ep("activities.rpc"), CRM_ACTIVITIES_EVENTS: ep("activities.events"),
    CRM_ACTIVITIES_REPLAY: ep("activities.replay"),
    CRM_NOTIFICATIONS_RPC: ep("notifications.rpc"), CRM_NOTIFICATIONS_STREAM: ep("notifications.stream"),
};
const procs = [];
function start(name, args) {
    mkdirSync(join(dir, "logs"), { recursive: true });
    const p = spawn(join(bin, `crm-${name}`), args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    p.stderr.on("data", (d) => (log = (log + d).slice(-8000)));
    const exited = new Promise((ok) => p.on("exit", (code, signal) => ok({ code, signal })));
    procs.push({ name, p, exited, log: () => log });
}
for (const s of ["identity", "pipeline", "activities", "notifications"])
    start(s, ["--data-dir", join(dir, s)]);
start("gateway", ["--zmq", ep("gateway.zmq"), "--http-port", String(port), "--web-dir", webDir]);

async function stopAll() {
    for (const { p } of [...procs].reverse()) p.kill("SIGTERM");
    const timeout = new Promise((ok) => setTimeout(() => ok("timeout"), 20000));
    const bad = [];
    for (const { name, p, exited, log } of procs) {
        const r = await Promise.race([exited, timeout]);
        if (r === "timeout") {
            p.kill("SIGKILL");
            bad.push(`${name} did not stop`);
        } else if (r.code !== 0) {
            bad.push(`${name} exited ${r.code ?? r.signal}:\n${log()}`);
        }
    }
    return bad;
}

// Twirp JSON through the HTTP door, as any client would.
async function call(method, body, token) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const r = await fetch(`${base}/twirp/${method}`, { method: "POST", headers, body: JSON.stringify(body) });
    const json = await r.json();
    if (r.status !== 200) {
        const e = new Error(`${method}: ${json.code}: ${json.msg}`);
        e.twirp = json;
        throw e;
    }
    return json;
}
const ID = "crm.identity.v1.Identity", PL = "crm.pipeline.v1.Pipeline";

async function waitReady() {
    const until = Date.now() + 60000;
    for (;;) {
        try {
            const admin = (await call(`${ID}/Login`, { login: "admin", password: ADMIN_PASSWORD })).token;
            await call(`${PL}/ListStages`, {}, admin);
            return admin;
        } catch (e) {
            for (const { name, p, log } of procs)
                if (p.exitCode !== null) throw new Error(`${name} stopped at start:\n${log()}`);
            if (Date.now() > until) throw new Error(`the services did not answer in 60 s: ${e.message}`);
            await new Promise((ok) => setTimeout(ok, 200));
        }
    }
}

async function axeCheck(page, screen) {
    await page.evaluate(axeSource);
    const result = await page.evaluate(async () => await globalThis.axe.run(document, { resultTypes: ["violations"] }));
    const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert(bad.length === 0, `${screen}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(", ")}`).join("; ")}`);
}

let browser;
const cspViolations = [];
try {
    const admin = await waitReady();
    // Li, a salesperson with the Manager level, in team Sales (walkthrough 1, 15)
    const li = (await call(`${ID}/CreateUser`, {
        login: "saleslee", name: "Li", email: "li@example.com", password: LI_PASSWORD,
        salesAccess: "SALES_ACCESS_MANAGER", hrAccess: "HR_ACCESS_EMPLOYEE",
    }, admin)).user;
    const team = await call(`${ID}/CreateTeam`, { name: "Sales", leaderId: li.id, memberIds: [li.id] }, admin);
    const liToken = (await call(`${ID}/Login`, { login: "saleslee", password: LI_PASSWORD })).token;
    const stages = (await call(`${PL}/ListStages`, { teamId: team.id, type: "LEAD_TYPE_OPPORTUNITY" }, liToken)).stages;
    assert(stages.length >= 2, "fewer than two opportunity stages");

    browser = await playwright.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox"] });
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await context.newPage();
    page.on("console", (m) => {
        if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });

    await check("the app loads at an app path and shows Sign in", async () => {
        const r = await page.goto(`${base}/pipeline`);
        assert(r.status() === 200, `status ${r.status()}`);
        assert((r.headers()["content-security-policy"] ?? "").includes("frame-ancestors 'none'"), "no CSP");
        await page.getByRole("heading", { name: "Sign in" }).waitFor();
    });
    await check("axe-core: Sign in has no serious or critical violations", () => axeCheck(page, "Sign in"));

    await check("a wrong password shows the server's error text", async () => {
        let want = "";
        try {
            await call(`${ID}/Login`, { login: "nobody-at-all", password: "wrong-password" });
        } catch (e) {
            want = e.twirp.msg;
        }
        await page.getByLabel("Login").fill("saleslee");
        await page.getByLabel("Password").fill("not-her-password");
        await page.getByRole("button", { name: "Sign in" }).click();
        const alert = page.getByRole("alert");
        await alert.waitFor();
        const text = (await alert.textContent()).trim();
        assert(text.length > 0 && text === want, `alert "${text}", server said "${want}"`);
    });

    await check("signing in shows the Pipeline with one region per stage", async () => {
        await page.getByLabel("Password").fill(LI_PASSWORD);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByRole("heading", { name: "Pipeline", exact: true }).waitFor();
        for (const s of stages)
            await page.getByRole("region", { name: s.name, exact: true }).waitFor({ timeout: 5000 });
    });

    await check("the session cookie is HttpOnly and SameSite=Strict, and page script cannot read it", async () => {
        const c = (await context.cookies()).find((c) => c.name === "crm_session");
        assert(c, "no crm_session cookie");
        assert(c.httpOnly && c.sameSite === "Strict", JSON.stringify(c));
        assert(!(await page.evaluate(() => document.cookie)).includes("crm_session"), "document.cookie shows it");
    });
    await check("axe-core: the Pipeline has no serious or critical violations", () => axeCheck(page, "Pipeline"));

    const customer = await call(`${PL}/CreateCustomer`, { name: "Zhang San", salespersonId: li.id, teamId: team.id }, liToken);
    const lead = await call(`${PL}/CreateLead`, {
        type: "LEAD_TYPE_OPPORTUNITY", name: "Consulting for Zhang San", expectedRevenue: "375000", currency: "EUR",
        customerId: customer.id, teamId: team.id, salespersonId: li.id,
    }, liToken);
    const fromStage = stages.find((s) => s.id === lead.stageId);
    const toStage = stages[stages.indexOf(fromStage) + 1];
    const card = (stage) => page.getByRole("region", { name: stage.name, exact: true })
        .getByRole("listitem", { name: "Consulting for Zhang San" });

    await check("an opportunity made through the API shows as a card with customer, revenue and salesperson", async () => {
        assert(fromStage && toStage, `the new opportunity's stage ${lead.stageId} has no next stage`);
        await page.reload();
        await card(fromStage).waitFor();
        // the customer's and salesperson's names come with their own calls
        await eventually(async () => {
            const text = await card(fromStage).textContent();
            for (const want of ["Zhang San", "Li", "3,750.00"])
                assert(text.includes(want), `card "${text}" lacks "${want}"`);
        });
        const totals = await page.getByRole("region", { name: fromStage.name, exact: true }).getByLabel("Count").textContent();
        assert(totals.trim() === "1", `count ${totals}`);
    });

    await check("dragging the card to the next column moves it there on the server", async () => {
        const from = await card(fromStage).boundingBox();
        const target = await page.getByRole("region", { name: toStage.name, exact: true }).getByRole("list").boundingBox();
        await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
        await page.mouse.down();
        await page.mouse.move(from.x + from.width / 2 + 10, from.y + from.height / 2 + 5, { steps: 5 });
        await page.mouse.move(target.x + target.width / 2, target.y + 20, { steps: 20 });
        await page.mouse.up();
        await card(toStage).waitFor({ timeout: 5000 });
        const until = Date.now() + 5000;
        let got;
        do {
            got = await call(`${PL}/GetLead`, { id: lead.id }, liToken);
            if (got.stageId === toStage.id) break;
            await new Promise((ok) => setTimeout(ok, 100));
        } while (Date.now() < until);
        assert(got.stageId === toStage.id, `server has stage ${got.stageId}, wanted ${toStage.id}`);
        assert(await card(fromStage).count() === 0, "the card is still in its old column");
    });

    await check("a move the server refuses goes back, with the server's error text", async () => {
        // a stage of the team that is deleted after the board has shown it
        const gone = await call(`${PL}/CreateStage`, {
            name: "Demo", teamId: team.id, status: "LEAD_STATUS_IN_PROGRESS", probability: 30,
            type: "STAGE_TYPE_OPPORTUNITY", sequence: 1000,
        }, liToken);
        await page.reload();
        await card(toStage).waitFor();
        const target = await page.getByRole("region", { name: "Demo", exact: true }).getByRole("list").boundingBox();
        await call(`${PL}/DeleteStage`, { id: gone.id }, liToken);
        let want = "";
        try {
            await call(`${PL}/UpdateLead`, { id: lead.id, stageId: gone.id }, liToken);
        } catch (e) {
            want = e.twirp.msg;
        }
        assert(want, "the server took a deleted stage");
        const from = await card(toStage).boundingBox();
        await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
        await page.mouse.down();
        await page.mouse.move(from.x + from.width / 2 + 10, from.y + from.height / 2 + 5, { steps: 5 });
        await page.mouse.move(target.x + target.width / 2, target.y + 20, { steps: 20 });
        await page.mouse.up();
        const alert = page.getByRole("alert");
        await alert.waitFor({ timeout: 5000 });
        const text = (await alert.textContent()).trim();
        assert(text === want, `alert "${text}", server said "${want}"`);
        await card(toStage).waitFor({ timeout: 5000 });
        assert((await call(`${PL}/GetLead`, { id: lead.id }, liToken)).stageId === toStage.id, "moved on the server");
    });

    await check("a call with the cookie from another origin is permission_denied", async () => {
        const url = `${base}/twirp/${ID}/WhoAmI`;
        const same = await context.request.post(url, { headers: { "Content-Type": "application/json", Origin: base }, data: "{}" });
        assert(same.status() === 200, `same origin: ${same.status()} ${await same.text()}`);
        const cross = await context.request.post(url, {
            headers: { "Content-Type": "application/json", Origin: "http://evil.example" }, data: "{}",
        });
        const body = await cross.json();
        assert(cross.status() === 403 && body.code === "permission_denied", `cross-site: ${cross.status()} ${JSON.stringify(body)}`);
        const form = await context.request.post(url, {
            headers: { "Content-Type": "application/x-www-form-urlencoded" }, data: "a=b",
        });
        const formBody = await form.json();
        assert(formBody.code === "permission_denied", `form post: ${form.status()} ${JSON.stringify(formBody)}`);
        const stream = await context.request.get(`${base}/v1/stream`, { headers: { Origin: "http://evil.example" } });
        assert(stream.status() === 403, `stream from another origin: ${stream.status()}`);
    });

    await check("Sign out ends the session and clears the cookie", async () => {
        await page.getByRole("button", { name: "Sign out" }).click();
        await page.getByRole("heading", { name: "Sign in" }).waitFor();
        assert(!(await context.cookies()).some((c) => c.name === "crm_session" && c.value), "cookie still set");
    });

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
