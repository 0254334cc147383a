// The Pipeline board with 10,000 opportunities in one team, measured in
// Chromium against the real services (a benchmark: figures, no verdict).
//   node tests/bench/web_board.mjs BIN_DIR WEB_DIR [LEADS] [MOVES]
// e.g. node tests/bench/web_board.mjs build/release build/web
// Loads LEADS (10,000) opportunities through the Twirp API (5 salespeople,
// spread over the team's open stages), then prints:
//   - first render: from navigation to /pipeline until every column shows
//     its first cards (5 page loads: median and worst);
//   - a drag persisted and settled: from the mouse's release until
//     UpdateLead has answered and the board has been read again and
//     painted (MOVES drags, 50: p50, p99, worst);
//   - the poll that finds nothing changed (GetPipeline with knownVersion,
//     200 calls from the page: p50, p99).
import { existsSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startServices } from "../../web/test/services.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = resolve(process.argv[2] ?? "build/release");
const webDir = resolve(process.argv[3] ?? "build/web");
const LEADS = Number(process.argv[4] ?? 10000);
const MOVES = Number(process.argv[5] ?? 50);
const ADMIN_PASSWORD = "admin-pass-1";
const ID = "crm.identity.v1.Identity", PL = "crm.pipeline.v1.Pipeline";

const chromium = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].find((p) => existsSync(p));
if (!chromium) {
    console.log("skipped: no Chromium");
    process.exit(77);
}
// playwright-core lives in web/node_modules; it is CommonJS, its exports under default
const pw = await import(createRequire(join(root, "web/package.json")).resolve("playwright-core"));
const playwright = pw.chromium ?? pw.default.chromium;

const { dir, base, procs, stopAll, call } = await startServices({
    bin, webDir, adminPassword: ADMIN_PASSWORD, prefix: "crm-web-bench.", backends: ["identity", "pipeline"],
    // the load is one user's thousands of writes: not the limit under test
    extraEnv: { CRM_RATE_PER_SESSION: "1000000" },
});


const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const ms = (x) => `${x.toFixed(1)} ms`;

let browser;
try {
    let admin;
    for (const until = Date.now() + 60000; ;) {
        try {
            admin = (await call(`${ID}/Login`, { login: "admin", password: ADMIN_PASSWORD })).token;
            await call(`${PL}/ListStages`, {}, admin);
            break;
        } catch (e) {
            if (Date.now() > until) throw e;
            await new Promise((ok) => setTimeout(ok, 200));
        }
    }
    const people = [];
    for (let i = 0; i < 5; i++)
        people.push((await call(`${ID}/CreateUser`, {
            login: `bench${i}`, name: `Bench ${i}`, email: `bench${i}@example.com`, password: "bench-pass-1",
            salesAccess: i === 0 ? "SALES_ACCESS_MANAGER" : "SALES_ACCESS_ALL_LEADS", hrAccess: "HR_ACCESS_EMPLOYEE",
        }, admin)).user);
    const team = await call(`${ID}/CreateTeam`, { name: "Bench", memberIds: people.map((u) => u.id) }, admin);
    const token = (await call(`${ID}/Login`, { login: "bench0", password: "bench-pass-1" })).token;
    const stages = (await call(`${PL}/ListStages`, { teamId: team.id, type: "LEAD_TYPE_OPPORTUNITY" }, token)).stages
        .filter((s) => s.status !== "LEAD_STATUS_WON" && s.status !== "LEAD_STATUS_LOST");

    const loadStart = performance.now();
    let next = 0;
    const priorities = ["PRIORITY_LOW", "PRIORITY_NORMAL", "PRIORITY_HIGH", "PRIORITY_VERY_HIGH"];
    async function worker() {
        for (let i = next++; i < LEADS; i = next++)
            await call(`${PL}/CreateLead`, {
                type: "LEAD_TYPE_OPPORTUNITY", name: `Bench opportunity ${i}`, teamId: team.id,
                salespersonId: people[i % people.length].id, stageId: stages[i % stages.length].id,
                expectedRevenue: String(1000 + (i % 97) * 100), currency: i % 10 === 0 ? "USD" : "EUR",
                priority: priorities[i % 4], probability: 10 + (i % 9) * 10,
            }, token);
    }
    await Promise.all(Array.from({ length: 16 }, worker));
    const loadSecs = (performance.now() - loadStart) / 1000;
    console.log(`loaded ${LEADS} opportunities in ${stages.length} stages through the API: ${loadSecs.toFixed(1)} s ` +
        `(${(LEADS / loadSecs).toFixed(0)} CreateLead/s, 16 in flight)`);

    browser = await playwright.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox"] });
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await context.newPage();
    await page.goto(`${base}/pipeline`);
    await page.getByLabel("Login").fill("bench0");
    await page.getByLabel("Password").fill("bench-pass-1");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();

    // first render: navigation start → every column has its first card
    const renders = [];
    for (let i = 0; i < 5; i++) {
        await page.goto(`${base}/pipeline`);
        const t = await page.evaluate(async (n) => {
            const done = () => {
                const lists = document.querySelectorAll("[data-stage-id] ul[aria-label$=' cards']");
                return lists.length >= n && [...lists].slice(0, n).every((l) => l.querySelector("li[data-lead-id]"));
            };
            while (!done()) await new Promise((ok) => requestAnimationFrame(ok));
            const at = (suffix) => performance.getEntriesByType("resource").find((e) => e.name.endsWith(suffix));
            return {
                painted: performance.now(), // since navigation start
                script: at(".js")?.responseEnd ?? 0,
                whoami: at("/WhoAmI")?.responseEnd ?? 0,
                board: at("/GetPipeline")?.responseEnd ?? 0,
                boardAsked: at("/GetPipeline")?.startTime ?? 0,
            };
        }, stages.length);
        renders.push(t);
    }
    const med = (k) => ms(pct(renders.map((r) => r[k]), 50));
    console.log(`first render (navigation → every column's first cards), 5 loads: median ${med("painted")}, ` +
        `worst ${ms(Math.max(...renders.map((r) => r.painted)))}; medians of the way: script loaded ${med("script")}, ` +
        `WhoAmI answered ${med("whoami")}, GetPipeline asked ${med("boardAsked")} and answered ${med("board")}`);

    // drags, back and forth between the first two columns
    const region = (s) => page.getByRole("region", { name: s.name, exact: true });
    const settle = [], persisted = [], inPage = [];
    for (let i = 0; i < MOVES; i++) {
        const from = stages[i % 2], to = stages[(i + 1) % 2];
        const card = region(from).getByRole("list", { name: `${from.name} cards` }).getByRole("listitem").first();
        const name = await card.getByRole("link").textContent();
        const a = await card.boundingBox();
        const b = await region(to).getByRole("list", { name: `${to.name} cards` }).boundingBox();
        await page.mouse.move(a.x + a.width / 2, a.y + 10);
        await page.mouse.down();
        await page.mouse.move(a.x + a.width / 2 + 10, a.y + 15, { steps: 3 });
        await page.mouse.move(b.x + b.width / 2, b.y + 20, { steps: 8 });
        const updated = page.waitForResponse((r) => r.url().endsWith("/UpdateLead"));
        const t0 = performance.now();
        // the same, timed inside the page: the automation's own round trips
        // (the mouse's release, the response event) are not the app's
        await page.evaluate(() => {
            globalThis.__up = 0;
            addEventListener("pointerup", () => (globalThis.__up ||= performance.now()), { capture: true, once: true });
            performance.clearResourceTimings();
            globalThis.__settled = new Promise((ok) => {
                const seen = new PerformanceObserver((list) => {
                    const read = list.getEntries().find((e) => e.name.endsWith("/UpdateLead"));
                    if (!read) return;
                    seen.disconnect();
                    // the board's new state painted: the frame after the reply's render
                    setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(() =>
                        ok([performance.now(), read.startTime, read.responseEnd]))));
                });
                seen.observe({ type: "resource" });
            });
        });
        await page.mouse.up();
        const reply = await updated;
        inPage.push(await page.evaluate(() => {
            const r = performance.getEntriesByType("resource").find((e) => e.name.endsWith("/UpdateLead"));
            return r ? [r.startTime - globalThis.__up, r.responseEnd - r.startTime] : [NaN, NaN];
        }));
        if (reply.status() !== 200) throw new Error(`UpdateLead ${reply.status()}: ${await reply.text()}`);
        persisted.push(performance.now() - t0);
        await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => ok())));
        settle.push(performance.now() - t0);
        inPage[inPage.length - 1].push(...await page.evaluate(async () =>
            (await globalThis.__settled).map((t) => t - globalThis.__up)));
        // the app's own mark: the server's card in the board's state (Preact
        // renders it in the same task; the paint is the next frame)
        inPage[inPage.length - 1].push(await page.evaluate(() => {
            const m = performance.getEntriesByName("pipeline:move-settled").pop();
            performance.clearMarks("pipeline:move-settled");
            return m ? m.startTime - globalThis.__up : NaN;
        }));
        // the board's order (priority, then newest) may put it past the
        // cards shown: settled means gone from its old column
        if (await region(from).getByRole("listitem", { name, exact: true }).count() !== 0)
            throw new Error(`${name} is still in ${from.name}`);
    }
    console.log(`drag persisted and settled (release → UpdateLead answered and its card painted), ${MOVES} drags: ` +
        `p50 ${ms(pct(settle, 50))}, p99 ${ms(pct(settle, 99))}, worst ${ms(Math.max(...settle))}; ` +
        `of which UpdateLead answered: p50 ${ms(pct(persisted, 50))}, p99 ${ms(pct(persisted, 99))}`);
    console.log(`  in the page: pointer up → UpdateLead sent p50 ${ms(pct(inPage.map((x) => x[0]), 50))}, ` +
        `p99 ${ms(pct(inPage.map((x) => x[0]), 99))}; sent → answered p50 ${ms(pct(inPage.map((x) => x[1]), 50))}, ` +
        `p99 ${ms(pct(inPage.map((x) => x[1]), 99))}; pointer up → the server's card painted p50 ` +
        `${ms(pct(inPage.map((x) => x[2]), 50))}, p99 ${ms(pct(inPage.map((x) => x[2]), 99))} ` +
        `(UpdateLead sent at p50 ${ms(pct(inPage.map((x) => x[3]), 50))}, answered at p50 ${ms(pct(inPage.map((x) => x[4]), 50))}); ` +
        `pointer up → the server's card in the board (the app's mark) p50 ${ms(pct(inPage.map((x) => x[5]), 50))}, ` +
        `p99 ${ms(pct(inPage.map((x) => x[5]), 99))}`);

    // the poll's cost when nothing changed, from the page as the app calls it
    const polls = await page.evaluate(async ([teamId]) => {
        const post = (body) => fetch("/twirp/crm.pipeline.v1.Pipeline/GetPipeline", {
            method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
            body: JSON.stringify(body),
        }).then((r) => r.json());
        const { version } = await post({ teamId, cardsPerColumn: 20 });
        const out = [];
        for (let i = 0; i < 200; i++) {
            const t = performance.now();
            const r = await post({ teamId, cardsPerColumn: 20, knownVersion: version });
            if (!r.unchanged) throw new Error("the board changed during the poll benchmark");
            out.push(performance.now() - t);
        }
        return out;
    }, [team.id]);
    const full = await page.evaluate(async ([teamId]) => {
        const out = [];
        for (let i = 0; i < 20; i++) {
            const t = performance.now();
            await fetch("/twirp/crm.pipeline.v1.Pipeline/GetPipeline", {
                method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
                body: JSON.stringify({ teamId, cardsPerColumn: 20 }),
            }).then((r) => r.json());
            out.push(performance.now() - t);
        }
        return out;
    }, [team.id]);
    // a move's own cost, from the page without the board around it: what
    // the drag's "UpdateLead answered" holds beyond the browser's part
    const moves = await page.evaluate(async ([leadId, a, b]) => {
        const out = [];
        for (let i = 0; i < 50; i++) {
            const t = performance.now();
            const r = await fetch("/twirp/crm.pipeline.v1.Pipeline/UpdateLead", {
                method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
                body: JSON.stringify({ id: leadId, stageId: i % 2 ? a : b, updateMask: "stageId" }),
            });
            if (r.status !== 200) throw new Error(`UpdateLead ${r.status}: ${await r.text()}`);
            out.push(performance.now() - t);
        }
        return out;
    }, [await region(stages[0]).getByRole("list", { name: `${stages[0].name} cards` }).getByRole("listitem").first()
        .getAttribute("data-lead-id"), stages[0].id, stages[1].id]);
    console.log(`UpdateLead of a stage alone, from the page, 50 in series: p50 ${ms(pct(moves, 50))}, p99 ${ms(pct(moves, 99))}`);
    console.log(`GetPipeline unchanged (knownVersion), 200 calls: p50 ${ms(pct(polls, 50))}, p99 ${ms(pct(polls, 99))}; ` +
        `full board (20 cards a column), 20 calls: p50 ${ms(pct(full, 50))}, p99 ${ms(pct(full, 99))}`);
} catch (e) {
    console.log(`bench failed: ${e?.stack ?? e}`);
    for (const { name, log } of procs) console.log(`--- ${name}\n${log()}`);
    process.exitCode = 1;
} finally {
    if (browser) await browser.close().catch(() => {});
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
}
