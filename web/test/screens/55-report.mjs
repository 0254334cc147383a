// The pipeline report as a manager: opportunities made through the API
// add up in the table (count, expected and weighted revenue, totals) by
// stage, by salesperson and by expected-closing month; the chart's canvas
// is drawn and redrawn; the chart library is fetched only by the report;
// the date filter and the server's refusal of a backwards range; axe-core,
// phone width, a screenshot.
export default async function (t) {
    const { base, admin, ID, PL, check, assert, eventually, call, axeCheck, newPage, signIn, makeUser, screenshot } = t;
    const boss = await makeUser({ login: "report55", name: "Chen Jing 陈静", salesAccess: "SALES_ACCESS_MANAGER" });
    const lina = await makeUser({ login: "lina55", name: "Li Na 李娜" });
    const anna = await makeUser({ login: "anna55", name: "Anna Berg" });
    const team = await call(`${ID}/CreateTeam`, {
        name: "Report 55", leaderId: boss.user.id, memberIds: [boss.user.id, lina.user.id, anna.user.id],
    }, admin);
    const stages = (await call(`${PL}/ListStages`, { teamId: team.id, type: "LEAD_TYPE_OPPORTUNITY" }, boss.token)).stages;
    assert(stages.length >= 2, "fewer than two opportunity stages");
    const [s0, s1] = stages;
    // the team's own first stage: made last, so the report's order by id puts it last
    const intake = await call(`${PL}/CreateStage`, {
        name: "Intake 55", teamId: team.id, probability: 10, sequence: -1, type: "STAGE_TYPE_OPPORTUNITY",
    }, boss.token);
    const leads = [
        { name: "Lathes 55", by: lina, revenue: 375000, probability: 80, stage: s0, closing: "2027-03-15" },
        { name: "Presses 55", by: lina, revenue: 120000, probability: 50, stage: s1, closing: "2027-03-02" },
        { name: "Mills 55", by: anna, revenue: 200000, probability: 20, stage: s0, closing: "2027-05-10" },
        { name: "Drills 55", by: anna, revenue: 50000, probability: 100, stage: s1, closing: "" },
        { name: "Saws 55", by: lina, revenue: 80000, probability: 10, stage: intake, closing: "2027-05-20" },
    ];
    for (const l of leads) {
        await call(`${PL}/CreateLead`, {
            type: "LEAD_TYPE_OPPORTUNITY", name: l.name, expectedRevenue: String(l.revenue), currency: "EUR",
            probability: l.probability, teamId: team.id, salespersonId: l.by.user.id, stageId: l.stage.id,
            expectedClosing: l.closing,
        }, boss.token);
    }
    // what each group must add up to, from the leads themselves
    const sums = (pick) => {
        const out = new Map();
        for (const l of leads) {
            const k = pick(l);
            const s = out.get(k) ?? { count: 0, expected: 0, weighted: 0 };
            s.count++;
            s.expected += l.revenue;
            s.weighted += l.revenue * l.probability / 100;
            out.set(k, s);
        }
        return out;
    };

    const { context, page } = await newPage();
    const scripts = [];
    page.on("request", (r) => r.resourceType() === "script" && scripts.push(new URL(r.url()).pathname));
    await signIn(page, "report55", boss.password);
    const onPipeline = new Set(scripts);

    // the table's cells for a row, as [count, expected, weighted, won, lost]
    const table = () => page.getByRole("region", { name: "Report figures" }).getByRole("table");
    const cells = async (label) => {
        const row = table().getByRole("row").filter({ has: page.getByRole("rowheader", { name: label, exact: true }) });
        return (await row.getByRole("cell").allTextContents()).map((s) => s.trim());
    };
    // money as the page writes it without a currency symbol
    const plain = (minor) => page.evaluate((n) =>
        new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(n / 100), minor);
    async function expectRows(want) {
        await eventually(async () => {
            for (const [label, s] of want) {
                const got = await cells(label);
                assert(got.length === 5, `row ${label}: ${got}`);
                assert(got[0] === String(s.count), `${label} count ${got[0]}, want ${s.count}`);
                assert(got[1].includes(await plain(s.expected)), `${label} expected ${got[1]}, want ${await plain(s.expected)}`);
                assert(got[2].includes(await plain(s.weighted)), `${label} weighted ${got[2]}, want ${await plain(s.weighted)}`);
            }
            const total = [...want.values()].reduce((a, s) => ({
                count: a.count + s.count, expected: a.expected + s.expected, weighted: a.weighted + s.weighted,
            }), { count: 0, expected: 0, weighted: 0 });
            const foot = await cells("Total");
            assert(foot[0] === String(total.count), `total count ${foot[0]}`);
            assert(foot[1].includes(await plain(total.expected)) && foot[2].includes(await plain(total.weighted)), `totals ${foot}`);
            const shown = await table().locator("tbody").getByRole("rowheader").allTextContents();
            assert(shown.length === want.size, `rows ${shown}, want ${[...want.keys()]}`);
        });
    }
    const chart = () => page.getByRole("img", { name: /^Bar chart of expected and weighted revenue/ });
    // the canvas's painted pixels and a digest of them: blank is 0
    const painted = () => chart().evaluate((c) => {
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0, h = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]) { n++; h = (h * 31 + d[i - 3] + i) >>> 0; }
        return { n, h };
    });

    await check("the report by stage adds up the team's opportunities, with totals", async () => {
        await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Report" }).click();
        await page.getByRole("heading", { name: "Pipeline report" }).waitFor();
        await page.getByLabel("Sales team").selectOption({ label: "Report 55" });
        const byStage = sums((l) => l.stage.name);
        await expectRows(byStage);
        const order = await table().locator("tbody").getByRole("rowheader").allTextContents();
        assert(order.join("|") === ["Intake 55", s0.name, s1.name].join("|"), `rows in the order ${order}, not the board's`);
        // the same figures as the API's
        const api = (await call(`${PL}/PipelineReport`, { groupBy: "GROUP_BY_STAGE", teamId: team.id }, boss.token)).rows;
        for (const r of api) assert(byStage.get(r.label)?.weighted === Number(r.weightedRevenue), `API row ${JSON.stringify(r)}`);
    });

    let first;
    await check("the chart's canvas is drawn, is named, and came in a script the Pipeline did not load", async () => {
        first = await eventually(async () => {
            const p = await painted();
            assert(p.n > 2000, `${p.n} painted pixels`);
            return p;
        });
        const extra = scripts.filter((s) => !onPipeline.has(s));
        assert(extra.length > 0, `no script fetched for the report: ${scripts}`);
    });

    await check("grouped by salesperson: one row per person (Chinese names too), sorted by name", async () => {
        await page.getByLabel("Group by").selectOption({ label: "Salesperson" });
        await expectRows(sums((l) => l.by === lina ? "Li Na 李娜" : "Anna Berg"));
        const order = await table().locator("tbody").getByRole("rowheader").allTextContents();
        assert(order.join("|") === ["Anna Berg", "Li Na 李娜"].sort(new Intl.Collator().compare).join("|"), `order ${order}`);
        await table().getByRole("columnheader", { name: "Salesperson" }).waitFor();
    });

    await check("the chart is drawn again for the new grouping", async () => {
        await eventually(async () => {
            const p = await painted();
            assert(p.n > 2000 && p.h !== first.h, `painted ${p.n}, same picture: ${p.h === first.h}`);
        });
    });

    await check("grouped by expected-closing month: months in words and in date order, then the leads without a date", async () => {
        await page.getByLabel("Group by").selectOption({ label: "Expected closing month" });
        const month = (k) => page.evaluate((key) => key
            ? new Intl.DateTimeFormat(undefined, { year: "numeric", month: "long", timeZone: "UTC" }).format(new Date(`${key}-01T00:00:00Z`))
            : "No date", k);
        const want = new Map();
        for (const [k, s] of sums((l) => l.closing.slice(0, 7))) want.set(await month(k), s);
        await expectRows(want);
        const order = await table().locator("tbody").getByRole("rowheader").allTextContents();
        assert(order.join("|") === [await month("2027-03"), await month("2027-05"), "No date"].join("|"), `order ${order}`);
    });
    await check("axe-core: the report has no serious or critical violations", () => axeCheck(page, "Report"));
    await screenshot(page, "report");

    await check("a date range after today shows no rows; a backwards range shows the server's words under the field", async () => {
        const tomorrow = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
        await page.getByLabel("Created from").fill(tomorrow);
        await page.getByRole("status").filter({ hasText: "No leads match these filters." }).waitFor();
        let want = "";
        try {
            await call(`${PL}/PipelineReport`, { teamId: team.id, from: "2030-01-02", to: "2030-01-01" }, boss.token);
        } catch (e) {
            want = e.twirp.msg;
        }
        assert(want, "the server took a backwards range");
        await page.getByLabel("Created from").fill("2030-01-02");
        await page.getByLabel("Created until").fill("2030-01-01");
        const error = page.locator("#report-to-error");
        await eventually(async () => assert((await error.textContent()).trim() === want, `"${await error.textContent()}", server said "${want}"`));
        assert(await error.getAttribute("role") === "alert", "the field's error is not announced");
        await page.getByLabel("Created from").fill("");
        await page.getByLabel("Created until").fill("");
        // an open range again: the rows are back
        await eventually(async () => assert((await cells("Total"))[0] === String(leads.length), "no totals"));
    });

    await check("at phone width the report fits the screen and the chart is drawn", async () => {
        await page.setViewportSize({ width: 390, height: 800 });
        await page.getByLabel("Group by").selectOption({ label: "Stage" });
        await expectRows(sums((l) => l.stage.name));
        const wide = await page.evaluate(() => document.documentElement.scrollWidth);
        assert(wide <= 390, `the page is ${wide} px wide`);
        await eventually(async () => assert((await painted()).n > 1000, "blank chart"));
        await screenshot(page, "report-phone");
    });

    await check("money in each row's own currencies: yen without decimals, dinars with three, a row of two currencies shows both, totals per currency", async () => {
        await page.setViewportSize({ width: 1366, height: 768 });
        const fx = await call(`${ID}/CreateTeam`, { name: "Report 55 FX", leaderId: boss.user.id, memberIds: [boss.user.id] }, admin);
        const [f0, f1] = (await call(`${PL}/ListStages`, { teamId: fx.id, type: "LEAD_TYPE_OPPORTUNITY" }, boss.token)).stages;
        const made = [
            { name: "Yen 55", revenue: "1500000", currency: "JPY", stage: f0 },
            { name: "Dinar 55", revenue: "1234567", currency: "KWD", stage: f1 },
            { name: "Yen too 55", revenue: "250000", currency: "JPY", stage: f1 },
        ];
        for (const l of made)
            await call(`${PL}/CreateLead`, {
                type: "LEAD_TYPE_OPPORTUNITY", name: l.name, expectedRevenue: l.revenue, currency: l.currency,
                probability: 100, teamId: fx.id, salespersonId: boss.user.id, stageId: l.stage.id,
            }, boss.token);
        const money = (minor, currency, digits) => page.evaluate(([m, c, d]) =>
            new Intl.NumberFormat(undefined, { style: "currency", currency: c }).format(Number(m) / 10 ** d), [minor, currency, digits]);
        // the team picker lists the teams as they were when the app loaded
        await page.reload();
        await page.getByRole("heading", { name: "Pipeline report" }).waitFor();
        await page.getByLabel("Sales team").selectOption({ label: "Report 55 FX" });
        await page.getByLabel("Group by").selectOption({ label: "Stage" });
        const yen = await money("1500000", "JPY", 0), yenToo = await money("250000", "JPY", 0);
        const dinar = await money("1234567", "KWD", 3), yenAll = await money("1750000", "JPY", 0);
        await eventually(async () => {
            const one = await cells(f0.name);
            assert(one[1] === yen, `${f0.name}: ${one[1]}, want ${yen}`);
            const two = await cells(f1.name);
            assert(two[1].includes(dinar) && two[1].includes(yenToo), `${f1.name}: ${two[1]}, want ${dinar} and ${yenToo}`);
            const foot = await cells("Total");
            assert(foot[1].includes(yenAll) && foot[1].includes(dinar), `total ${foot[1]}, want ${yenAll} and ${dinar}`);
        });
        await chart().and(page.getByRole("img", { name: /in JPY/ })).waitFor();
    });
    await context.close();
}
