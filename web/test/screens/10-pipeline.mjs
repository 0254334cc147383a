// Sign in, the Pipeline's columns by role and name, an opportunity made
// through the API shows as a card, a drag moves it on the server, a refused
// move goes back, the cookie's cross-site rules, Sign out; axe-core on both
// screens.
const LI_PASSWORD = "saleslee-pass-1";

export default async function ({ base, admin, ID, PL, check, assert, eventually, call, axeCheck, newPage }) {
    // Li, a salesperson with the Manager level, in team Sales (walkthrough 1, 15)
    const li = (await call(`${ID}/CreateUser`, {
        login: "saleslee", name: "Li", email: "li@example.com", password: LI_PASSWORD,
        salesAccess: "SALES_ACCESS_MANAGER", hrAccess: "HR_ACCESS_EMPLOYEE",
    }, admin)).user;
    const team = await call(`${ID}/CreateTeam`, { name: "Sales", leaderId: li.id, memberIds: [li.id] }, admin);
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

    await context.close();
}
