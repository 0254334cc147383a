// Sign in, the Pipeline's columns by role and name, an opportunity made
// through the API shows as a card, a drag moves it on the server, a refused
// move goes back; the same move by keyboard, quick-create, per-currency
// totals, a change made by someone else appearing without reload, the
// filters, a manager's team picker, load more on scroll, an own-leads
// user's board, the phone layout; the cookie's cross-site rules, Sign out;
// axe-core on each screen.
const LI_PASSWORD = "saleslee-pass-1";

export default async function (t) {
    const { base, admin, ID, PL, check, assert, eventually, call, axeCheck, newPage } = t;
    // Li, a salesperson with the Manager level, in team Sales (walkthrough 1, 15)
    const li = (await call(`${ID}/CreateUser`, {
        login: "saleslee", name: "Li", email: "li@example.com", password: LI_PASSWORD,
        salesAccess: "SALES_ACCESS_MANAGER", hrAccess: "HR_ACCESS_EMPLOYEE",
    }, admin)).user;
    // Ann sees every lead, Olu only his own: both in team Sales with Li
    const ann = await t.makeUser({ login: "ann.board", name: "Ann 安", salesAccess: "SALES_ACCESS_ALL_LEADS" });
    const olu = await t.makeUser({ login: "olu.board", name: "Olu", salesAccess: "SALES_ACCESS_OWN_LEADS" });
    const team = await call(`${ID}/CreateTeam`, {
        name: "Sales", leaderId: li.id, memberIds: [li.id, ann.user.id, olu.user.id],
    }, admin);
    const liToken = (await call(`${ID}/Login`, { login: "saleslee", password: LI_PASSWORD })).token;
    const stages = (await call(`${PL}/ListStages`, { teamId: team.id, type: "LEAD_TYPE_OPPORTUNITY" }, liToken)).stages;
    assert(stages.length >= 2, "fewer than two opportunity stages");

    const { context, page } = await newPage();

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
        const target = await page.getByRole("region", { name: toStage.name, exact: true })
            .getByRole("list", { name: `${toStage.name} cards` }).boundingBox();
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
        // a stage of the team deleted by someone else while the card is being
        // dragged to it (the board does not repaint under a drag)
        const gone = await call(`${PL}/CreateStage`, {
            name: "Demo", teamId: team.id, status: "LEAD_STATUS_IN_PROGRESS", probability: 30,
            type: "STAGE_TYPE_OPPORTUNITY", sequence: 1000,
        }, liToken);
        await page.reload();
        await card(toStage).waitFor();
        const target = await page.getByRole("region", { name: "Demo", exact: true })
            .getByRole("list", { name: "Demo cards" }).boundingBox();
        const from = await card(toStage).boundingBox();
        await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
        await page.mouse.down();
        await page.mouse.move(from.x + from.width / 2 + 10, from.y + from.height / 2 + 5, { steps: 5 });
        await page.mouse.move(target.x + target.width / 2, target.y + 20, { steps: 20 });
        await call(`${PL}/DeleteStage`, { id: gone.id }, liToken);
        let want = "";
        try {
            await call(`${PL}/UpdateLead`, { id: lead.id, stageId: gone.id }, liToken);
        } catch (e) {
            want = e.twirp.msg;
        }
        assert(want, "the server took a deleted stage");
        await new Promise((ok) => setTimeout(ok, 1500)); // a poll or two come and go meanwhile
        await page.mouse.up();
        const alert = page.getByRole("alert");
        await alert.waitFor({ timeout: 5000 });
        const text = (await alert.textContent()).trim();
        assert(text === want, `alert "${text}", server said "${want}"`);
        await card(toStage).waitFor({ timeout: 5000 });
        assert((await call(`${PL}/GetLead`, { id: lead.id }, liToken)).stageId === toStage.id, "moved on the server");
    });

    const region = (name) => page.getByRole("region", { name, exact: true });
    const cardIn = (name, subject) => region(name).getByRole("listitem", { name: subject, exact: true });
    const thirdStage = stages[stages.indexOf(toStage) + 1];
    // money as the browser's locale writes it
    const money = (minor, currency) => page.evaluate(([m, c]) =>
        new Intl.NumberFormat(undefined, { style: "currency", currency: c }).format(m / 100), [minor, currency]);

    await check("Alt+ArrowRight moves the focused card to the next stage, on the server, announced, focus kept", async () => {
        assert(thirdStage, "no stage after the second");
        await page.reload();
        await cardIn(toStage.name, lead.name).getByRole("link", { name: lead.name }).focus();
        await page.keyboard.press("Alt+ArrowRight");
        await cardIn(thirdStage.name, lead.name).waitFor({ timeout: 5000 });
        await t.until(async () => (await call(`${PL}/GetLead`, { id: lead.id }, liToken)).stageId === thirdStage.id,
            5000, "the keyboard move");
        const said = await page.getByRole("status").textContent();
        assert(said.includes(`Moved “${lead.name}” to ${thirdStage.name}.`), `status says "${said}"`);
        assert(await page.evaluate(() => document.activeElement?.textContent) === lead.name, "focus left the card");
    });

    await check("Move to stage on a card moves it anywhere, on the server", async () => {
        await cardIn(thirdStage.name, lead.name).getByLabel("Move to stage").selectOption({ label: fromStage.name });
        await cardIn(fromStage.name, lead.name).waitFor({ timeout: 5000 });
        await t.until(async () => (await call(`${PL}/GetLead`, { id: lead.id }, liToken)).stageId === fromStage.id,
            5000, "the menu move");
    });

    await check("quick-create adds an opportunity in that column, the creator's, in the team", async () => {
        const col = region(toStage.name);
        await col.getByLabel("Subject").fill("Quick 快速 deal");
        await col.getByRole("button", { name: "Add" }).click();
        await cardIn(toStage.name, "Quick 快速 deal").waitFor({ timeout: 5000 });
        const { leads } = await call(`${PL}/ListLeads`, { query: "Quick 快速 deal" }, liToken);
        assert(leads.length === 1, `${leads.length} leads`);
        const got = leads[0];
        assert(got.stageId === toStage.id && got.salespersonId === li.id && got.teamId === team.id &&
               got.type === "LEAD_TYPE_OPPORTUNITY", JSON.stringify(got));
        assert(await col.getByLabel("Subject").inputValue() === "", "the subject stays in the field");
    });

    await check("quick-create shows the server's refusal under the Subject field", async () => {
        let want = "";
        try {
            await call(`${PL}/CreateLead`, { name: "x".repeat(300) }, liToken);
        } catch (e) {
            want = e.twirp.msg;
        }
        assert(want, "the server took a 300-character subject");
        const col = region(toStage.name);
        await col.getByLabel("Subject").fill("x".repeat(300));
        await col.getByRole("button", { name: "Add" }).click();
        const alert = col.getByRole("alert");
        await alert.waitFor({ timeout: 5000 });
        assert((await alert.textContent()).trim() === want, `alert "${await alert.textContent()}", server said "${want}"`);
        await col.getByLabel("Subject").fill("");
    });

    // a stage made after the board was shown, and two currencies in it
    let mixed;
    await check("a change made through the API by someone else shows within 2 s, without reload", async () => {
        mixed = await call(`${PL}/CreateStage`, {
            name: "Mixed money", teamId: team.id, status: "LEAD_STATUS_IN_PROGRESS", probability: 10,
            type: "STAGE_TYPE_OPPORTUNITY", sequence: 900,
        }, liToken);
        await region("Mixed money").waitFor({ timeout: 2500 });
        const annsDeal = await call(`${PL}/CreateLead`, {
            type: "LEAD_TYPE_OPPORTUNITY", name: "Ann's deal", teamId: team.id, salespersonId: ann.user.id,
            stageId: fromStage.id,
        }, ann.token);
        await cardIn(fromStage.name, "Ann's deal").waitFor({ timeout: 2500 });
        const started = Date.now();
        await call(`${PL}/UpdateLead`, { id: annsDeal.id, stageId: toStage.id, updateMask: "stageId" }, ann.token);
        await cardIn(toStage.name, "Ann's deal").waitFor({ timeout: 2000 });
        const took = Date.now() - started;
        assert(await cardIn(fromStage.name, "Ann's deal").count() === 0, "still in its old column too");
        assert(took < 2000, `${took} ms`);
    });

    await check("a column gives count, expected and weighted revenue per currency, never one sum of both", async () => {
        for (const [name, revenue, currency, probability] of [["Euro deal", "100000", "EUR", 50], ["Dollar deal", "200000", "USD", 25]])
            await call(`${PL}/CreateLead`, {
                type: "LEAD_TYPE_OPPORTUNITY", name, teamId: team.id, salespersonId: li.id, stageId: mixed.id,
                expectedRevenue: revenue, currency, probability,
            }, liToken);
        const col = region("Mixed money");
        await cardIn("Mixed money", "Dollar deal").waitFor({ timeout: 2500 });
        await eventually(async () => {
            assert((await col.getByLabel("Count").textContent()).trim() === "2", "count");
            for (const [currency, expected, weighted] of [["EUR", 100000, 50000], ["USD", 200000, 50000]]) {
                const e = (await col.getByLabel(`Expected Revenue ${currency}`).textContent()).trim();
                const w = (await col.getByLabel(`Weighted Revenue ${currency}`).textContent()).trim();
                assert(e === await money(expected, currency), `${currency} expected "${e}"`);
                assert(w.includes(await money(weighted, currency)), `${currency} weighted "${w}"`);
            }
            const text = await col.textContent();
            for (const sum of [await money(300000, "EUR"), await money(300000, "USD")])
                assert(!text.includes(sum), `the column adds currencies: ${sum}`);
        });
    });

    await check("a card shows priority stars, tags, salesperson, customer and an overdue next action in words", async () => {
        const tag = await call(`${PL}/CreateTag`, { name: "VIP 贵宾" }, liToken);
        await call(`${PL}/CreateLead`, {
            type: "LEAD_TYPE_OPPORTUNITY", name: "Starred deal", teamId: team.id, salespersonId: li.id,
            stageId: mixed.id, priority: "PRIORITY_VERY_HIGH", tagIds: [tag.id], customerId: customer.id,
            nextActionDate: "2020-01-15", nextAction: "Call back",
        }, liToken);
        await page.reload(); // tags are read once, with the board
        const c = cardIn("Mixed money", "Starred deal");
        await c.waitFor({ timeout: 5000 });
        await c.getByRole("img", { name: "Priority: Very high" }).waitFor();
        assert((await c.getByRole("list", { name: "Tags" }).textContent()).includes("VIP 贵宾"), "no tag");
        const text = await c.textContent();
        for (const want of ["Zhang San", "Li", "Overdue:"])
            assert(text.includes(want), `card "${text}" lacks "${want}"`);
        assert(await c.getByRole("link", { name: "Starred deal" }).getAttribute("href") !== null, "no link");
    });

    await check("the filters: Search, Tag, My pipeline, Salesperson", async () => {
        const shows = async (subject, stage) => (await cardIn(stage, subject).count()) > 0;
        const filters = page.getByRole("search", { name: "Filters" });
        await filters.getByLabel("Search").fill("consulting");
        await eventually(async () => {
            assert(await shows(lead.name, fromStage.name), "Search hides the match");
            assert(!(await shows("Ann's deal", toStage.name)), "Search keeps Ann's deal");
        });
        await filters.getByLabel("Search").fill("");
        await filters.getByLabel("Tag").selectOption({ label: "VIP 贵宾" });
        await eventually(async () => {
            assert(await shows("Starred deal", "Mixed money"), "Tag hides the tagged card");
            assert(!(await shows("Euro deal", "Mixed money")), "Tag keeps an untagged card");
            assert((await region("Mixed money").getByLabel("Count").textContent()).trim() === "1", "count follows the tag");
        });
        await filters.getByLabel("Tag").selectOption({ label: "Any tag" });
        await filters.getByLabel("My pipeline").check();
        await eventually(async () => {
            assert(await shows(lead.name, fromStage.name), "My pipeline hides Li's card");
            assert(!(await shows("Ann's deal", toStage.name)), "My pipeline keeps Ann's card");
        });
        await filters.getByLabel("My pipeline").uncheck();
        await filters.getByLabel("Salesperson").selectOption({ label: "Ann 安" });
        await eventually(async () => {
            assert(await shows("Ann's deal", toStage.name), "Salesperson hides Ann's card");
            assert(!(await shows(lead.name, fromStage.name)), "Salesperson keeps Li's card");
        });
        await filters.getByLabel("Salesperson").selectOption({ label: "Everyone" });
        await cardIn(fromStage.name, lead.name).waitFor({ timeout: 5000 });
    });

    await check("axe-core: the Pipeline with cards, totals and filters has no serious or critical violations",
        () => axeCheck(page, "Pipeline with cards"));
    await t.screenshot(page, "kanban");

    await check("a manager picks another team, and a column loads its next cards on scroll", async () => {
        const bulk = await call(`${ID}/CreateTeam`, { name: "Bulk 批量" }, admin);
        let first;
        for (let i = 0; i < 25; i++) {
            const l = await call(`${PL}/CreateLead`, {
                type: "LEAD_TYPE_OPPORTUNITY", name: `Bulk card ${String(i).padStart(2, "0")}`, teamId: bulk.id,
            }, liToken);
            first ??= stages.find((s) => s.id === l.stageId) ?? (await call(`${PL}/ListStages`, { teamId: bulk.id }, liToken))
                .stages.find((s) => s.id === l.stageId);
        }
        await page.reload();
        await page.getByRole("search", { name: "Filters" }).getByLabel("Team").selectOption({ label: "Bulk 批量" });
        const col = region(first.name);
        const cards = col.getByRole("list", { name: `${first.name} cards` }).getByRole("listitem");
        await eventually(async () => {
            assert((await col.getByLabel("Count").textContent()).trim() === "25", "count");
            assert(await cards.filter({ hasText: "Bulk card" }).count() === 20, `${await cards.count()} cards first`);
        });
        await col.getByRole("button", { name: "Load more" }).scrollIntoViewIfNeeded();
        await eventually(async () => {
            const names = await col.getByRole("list", { name: `${first.name} cards` })
                .getByRole("link").allTextContents();
            assert(names.length === 25 && new Set(names).size === 25, `${names.length} cards after scrolling`);
        });
        assert(await col.getByRole("button", { name: "Load more" }).count() === 0, "Load more stays after the last page");
        await page.getByRole("search", { name: "Filters" }).getByLabel("Team").selectOption({ label: "Sales" });
    });

    await check("an own-leads user's board never shows another salesperson's card, on a phone too", async () => {
        await call(`${PL}/CreateLead`, {
            type: "LEAD_TYPE_OPPORTUNITY", name: "Olu's deal", teamId: team.id, salespersonId: olu.user.id,
        }, olu.token);
        const phone = await newPage({ width: 390, height: 844 });
        await t.signIn(phone.page, "olu.board", olu.password);
        const board = phone.page.getByRole("region", { name: fromStage.name, exact: true });
        await board.getByRole("listitem", { name: "Olu's deal" }).waitFor({ timeout: 5000 });
        const text = await phone.page.getByRole("group", { name: "Stages" }).textContent();
        for (const other of [lead.name, "Ann's deal", "Euro deal", "Starred deal"])
            assert(!text.includes(other), `Olu sees "${other}"`);
        assert(await phone.page.getByLabel("Salesperson").count() === 0, "a salesperson picker for own leads");
        const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
        assert(width <= 390, `the page is ${width} px wide at 390`);
        await axeCheck(phone.page, "Pipeline on a phone");
        await phone.context.close();
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

    await context.close();
}
