// The seed's walkthrough (../shared/WALKTHROUGH.md) as the people in it click
// it, in order, in the browser only: the API is used to check what the
// server holds, never to do a step. Each check names its walkthrough step.
export default async function (t) {
    const { base, admin, ID, PL, ACT, NOTIF, ADMIN_PASSWORD, check, assert, eventually, until, call, newPage, signIn, drag } = t;
    const LI_PASSWORD = "walk-li-pass-1";
    const CUSTOMER = "Zhang San 张三";
    const SUBJECT = "Consulting for Zhang San 张三";
    const TEAM = "Walk Sales";

    const adm = await newPage();
    const ap = adm.page;
    const li = await newPage();
    const lp = li.page;
    const nav = (p) => p.getByRole("navigation", { name: "Main" });
    let liUser, team, opp;

    await check("walkthrough 1-2: the administrator creates Li with the Manager and Employee levels; Li sets her password from the invitation", async () => {
        await signIn(ap, "admin", ADMIN_PASSWORD);
        await nav(ap).getByRole("link", { name: "Settings" }).click();
        await ap.getByRole("link", { name: "Users", exact: true }).click();
        const form = ap.getByRole("form", { name: "New user" });
        await form.getByLabel("Login").fill("walk-li");
        await form.getByLabel("Name").fill("Li 李");
        await form.getByLabel("Email").fill("walk-li@example.com");
        await form.getByLabel("Sales access").selectOption({ label: "Manager" });
        await form.getByLabel("HR access").selectOption({ label: "Employee" });
        await form.getByRole("button", { name: "Create user" }).click();
        const link = await eventually(async () => {
            const v = await form.getByLabel("Invitation link").inputValue();
            assert(v.startsWith(`${base}/invite/`), `link "${v}"`);
            return v;
        });
        await lp.goto(link);
        await lp.getByLabel("Login").fill("walk-li");
        await lp.getByLabel("New password").fill(LI_PASSWORD);
        await lp.getByLabel("Repeat the password").fill(LI_PASSWORD);
        await lp.getByRole("button", { name: "Set password and sign in" }).click();
        await lp.getByRole("heading", { name: "Pipeline", exact: true }).waitFor();
        liUser = (await call(`${ID}/Login`, { login: "walk-li", password: LI_PASSWORD })).user;
        assert(liUser.salesAccess === "SALES_ACCESS_MANAGER" && liUser.hrAccess === "HR_ACCESS_EMPLOYEE", JSON.stringify(liUser));
    });

    await check("walkthrough 15: the administrator makes the sales team Walk Sales, led by Li", async () => {
        await nav(ap).getByRole("link", { name: "Settings" }).click();
        await ap.getByRole("link", { name: "Sales teams", exact: true }).click();
        const form = ap.getByRole("form", { name: "New sales team" });
        await form.getByLabel("Name").fill(TEAM);
        await eventually(() => form.getByLabel("Team leader").selectOption({ label: "Li 李" }, { timeout: 500 }));
        await form.getByRole("group", { name: "Members" }).getByLabel("Li 李").check();
        await form.getByRole("button", { name: "Create team" }).click();
        await ap.getByRole("rowheader", { name: TEAM }).waitFor();
        team = (await call(`${ID}/ListTeams`, {}, admin)).teams.find((x) => x.name === TEAM);
        assert(team, "no such team on the server");
    });

    let customerId;
    await check("walkthrough 3: Li creates the customer Zhang San with herself as salesperson and Walk Sales as team", async () => {
        await lp.reload(); // her new team
        await nav(lp).getByRole("link", { name: "Customers" }).click();
        await lp.getByRole("link", { name: "New", exact: true }).click();
        await lp.getByLabel("Name").fill(CUSTOMER);
        await eventually(() => lp.getByLabel("Salesperson").selectOption({ label: "Li 李" }, { timeout: 500 }));
        await eventually(() => lp.getByLabel("Sales team").selectOption({ label: TEAM }, { timeout: 500 }));
        await lp.getByRole("button", { name: "Create" }).click();
        await lp.getByRole("heading", { name: CUSTOMER }).waitFor();
        customerId = lp.url().split("/").pop();
        const c = await call(`${PL}/GetCustomer`, { id: customerId }, admin);
        assert(c.salespersonId === liUser.id && c.teamId === team.id, JSON.stringify(c));
    });

    await check("walkthrough 5: a new opportunity from the customer: only the subject is required, the customer filled in", async () => {
        await lp.getByRole("link", { name: "New opportunity" }).click();
        await lp.getByRole("heading", { name: "New opportunity" }).waitFor();
        await lp.getByLabel("Subject").fill(SUBJECT);
        await lp.getByRole("button", { name: "Create" }).click();
        await lp.getByRole("heading", { name: SUBJECT }).waitFor();
        opp = await call(`${PL}/GetLead`, { id: lp.url().split("/").pop() }, admin);
        assert(opp.type === "LEAD_TYPE_OPPORTUNITY" && opp.customerId === customerId, JSON.stringify(opp));
    });

    const column = (name) => lp.getByRole("region", { name, exact: true });
    const card = (name) => column(name).getByRole("listitem", { name: SUBJECT });
    let stages;
    await check("walkthrough 6: the opportunity is a card on the kanban; dragged to the next column it moves there, totals too", async () => {
        // with a revenue, so that the totals show the move
        await lp.getByLabel("Expected revenue").fill("1000");
        await lp.getByLabel("Currency").fill("EUR");
        await lp.getByRole("button", { name: "Save" }).click();
        await lp.getByRole("status").filter({ hasText: "Saved." }).waitFor();
        opp = await call(`${PL}/GetLead`, { id: opp.id }, admin);
        stages = (await call(`${PL}/ListStages`, { teamId: opp.teamId, type: "LEAD_TYPE_OPPORTUNITY" }, admin)).stages;
        const from = stages.find((s) => s.id === opp.stageId);
        const to = stages[stages.indexOf(from) + 1];
        await nav(lp).getByRole("link", { name: "Pipeline" }).click();
        await eventually(() => lp.getByLabel("Team").selectOption({ label: TEAM }, { timeout: 500 }));
        await card(from.name).waitFor();
        const count = (name) => column(name).getByLabel("Count").textContent();
        const before = Number(await count(to.name));
        await drag(lp, card(from.name), column(to.name).getByRole("list", { name: `${to.name} cards` }));
        await card(to.name).waitFor();
        await until(async () => (await call(`${PL}/GetLead`, { id: opp.id }, admin)).stageId === to.id, 5000, "the stage");
        await eventually(async () => {
            assert(Number(await count(to.name)) === before + 1, `count of ${to.name}: ${await count(to.name)}`);
            const total = await column(to.name).getByLabel("Expected Revenue EUR").textContent();
            assert(total.includes("1,000.00") || total.includes("1.000,00"), `total of ${to.name}: ${total}`);
        });
    });

    const chatter = lp.getByRole("complementary", { name: "Chatter" });
    const messages = chatter.getByRole("list", { name: "Messages" });
    await check("walkthrough 7: stage Proposition is recorded in the chatter; Log a note with a file notifies no one", async () => {
        await lp.goto(`${base}/leads/${opp.id}`);
        const unreadBefore = (await call(`${NOTIF}/UnreadCount`, {}, admin)).count ?? "0";
        await lp.getByRole("list", { name: "Stage" }).getByRole("button", { name: "Proposition" }).click();
        await messages.getByRole("listitem").filter({ hasText: "Proposition" }).first().waitFor({ timeout: 10000 });
        await chatter.getByRole("tab", { name: "Log a note" }).click();
        await chatter.getByRole("textbox", { name: "Log a note" }).fill("Met at the fair; his card is attached");
        await chatter.getByLabel("Attach files").setInputFiles({ name: "card.txt", mimeType: "text/plain", buffer: Buffer.from("Zhang San, buyer") });
        await chatter.getByRole("button", { name: "Log", exact: true }).click();
        const note = messages.getByRole("listitem").filter({ hasText: "Met at the fair; his card is attached" });
        await note.getByRole("button", { name: "Download card.txt" }).waitFor();
        const unread = (await call(`${NOTIF}/UnreadCount`, {}, admin)).count ?? "0";
        assert(unread === unreadBefore, `the administrator was notified of a note: ${unreadBefore} unread before, ${unread} after`);
    });

    await check("walkthrough 8: Li adds the administrator as a follower; her message reaches his inbox live, with a toast", async () => {
        const me = await call(`${ID}/WhoAmI`, {}, admin);
        const unread = Number((await call(`${NOTIF}/UnreadCount`, {}, admin)).count ?? "0");
        await ap.goto(`${base}/inbox`);
        await ap.getByRole("heading", { name: "Inbox", exact: true }).waitFor();
        await chatter.getByText("Add a follower").click();
        await eventually(() => chatter.getByLabel("User to add").selectOption({ label: me.name || me.login }, { timeout: 500 }));
        await chatter.getByRole("button", { name: "Add follower" }).click();
        await chatter.getByRole("list", { name: "Followers" }).getByRole("listitem").filter({ hasText: me.name || me.login }).waitFor();
        await chatter.getByRole("tab", { name: "Send a message" }).click();
        await chatter.getByRole("textbox", { name: "Send a message" }).fill("The proposal goes out on Monday");
        await chatter.getByRole("button", { name: "Send", exact: true }).click();
        await ap.getByRole("log", { name: "New notifications" }).getByText(/proposal goes out on Monday|Consulting for Zhang San/).first().waitFor({ timeout: 10000 });
        await nav(ap).getByRole("link", { name: `Inbox, ${unread + 1} unread` }).waitFor();
        await ap.getByRole("list", { name: "Notifications" }).getByRole("listitem").filter({ hasText: SUBJECT }).first().waitFor();
    });

    await check("walkthrough 9: Schedule a call from the opportunity; it is on the calendar and in Scheduled calls, then held", async () => {
        await lp.goto(`${base}/leads/${opp.id}`);
        await lp.getByRole("link", { name: "Schedule a call" }).click();
        const form = lp.getByRole("form", { name: "Schedule a call" });
        await form.getByText(`Customer: ${CUSTOMER}`).waitFor();
        const when = await lp.evaluate(() => {
            const d = new Date();
            d.setDate(d.getDate() + 1);
            const two = (n) => String(n).padStart(2, "0");
            return {
                value: `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T10:00`,
                day: new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" }).format(d),
            };
        });
        await form.getByLabel("Summary").fill("Discuss the offer");
        await form.getByLabel("Planned date").fill(when.value);
        await form.getByLabel("Duration (minutes)").fill("30");
        await form.getByRole("button", { name: "Schedule", exact: true }).click();
        const item = lp.getByRole("list", { name: "Calls" }).getByRole("listitem", { name: "Discuss the offer" });
        await item.waitFor();
        const calls = (await call(`${ACT}/ListCalls`, { status: "CALL_STATUS_SCHEDULED", responsibleId: liUser.id }, admin)).calls ?? [];
        assert(calls.some((c) => c.summary === "Discuss the offer" && c.doc?.id === opp.id), JSON.stringify(calls));
        await nav(lp).getByRole("link", { name: "Calendar" }).click();
        await lp.getByRole("heading", { name: "Calendar", level: 1 }).waitFor();
        // tomorrow may be in next week's calendar (the locale says where weeks begin)
        const entry = lp.getByRole("region", { name: when.day, exact: true }).getByRole("button", { name: /Call: Discuss the offer/ });
        try {
            await entry.waitFor({ timeout: 3000 });
        } catch {
            await lp.getByRole("button", { name: "Next week" }).click();
            await entry.waitFor();
        }
        await nav(lp).getByRole("link", { name: "Calls" }).click();
        await item.getByRole("button", { name: "Mark held" }).click();
        await until(async () => (await call(`${ACT}/ListCalls`, { status: "CALL_STATUS_HELD", responsibleId: liUser.id }, admin))
            .calls?.some((c) => c.summary === "Discuss the offer"), 5000, "the held call");
    });

    await check("walkthrough 10, 12: expected revenue 3,750.00 at 80 %, stage Negotiation; the status follows the stage", async () => {
        await lp.goto(`${base}/leads/${opp.id}`);
        await lp.getByLabel("Expected revenue").fill("3750");
        await lp.getByLabel("Probability (%)").fill("80");
        await lp.getByRole("button", { name: "Save" }).click();
        await lp.getByRole("status").filter({ hasText: "Saved." }).waitFor();
        await lp.getByRole("list", { name: "Stage" }).getByRole("button", { name: "Negotiation" }).click();
        await lp.getByText("Status: In progress").waitFor();
        const got = await until(async () => {
            const l = await call(`${PL}/GetLead`, { id: opp.id }, admin);
            return stages.find((s) => s.id === l.stageId)?.name === "Negotiation" && l;
        }, 5000, "stage Negotiation");
        assert(got.expectedRevenue === "375000" && got.currency === "EUR", JSON.stringify(got));
    });

    await check("walkthrough 11: Li adds a stage to her team and chooses it on the opportunity at once", async () => {
        await nav(lp).getByRole("link", { name: "Settings" }).click();
        await lp.getByRole("link", { name: "Stages", exact: true }).click();
        await eventually(() => lp.getByLabel("Sales team").selectOption({ label: TEAM }, { timeout: 500 }));
        const form = lp.getByRole("form", { name: "New stage" });
        await form.getByLabel("Name").fill("Demo given");
        await form.getByLabel("Probability (%)").fill("60");
        await form.getByLabel("Status").selectOption({ label: "In progress" });
        await form.getByRole("button", { name: "Create stage" }).click();
        await lp.getByRole("rowheader", { name: "Demo given" }).waitFor();
        await lp.goto(`${base}/leads/${opp.id}`);
        await lp.getByRole("list", { name: "Stage" }).getByRole("button", { name: "Demo given" }).click();
        await until(async () => {
            const l = await call(`${PL}/GetLead`, { id: opp.id }, admin);
            const all = (await call(`${PL}/ListStages`, { teamId: team.id, type: "LEAD_TYPE_OPPORTUNITY" }, admin)).stages;
            return all.find((s) => s.id === l.stageId)?.name === "Demo given";
        }, 5000, "stage Demo given");
    });

    await check("walkthrough 13: Mark won, Make quotation; the quotation is shown and on the server", async () => {
        await lp.getByRole("button", { name: "Mark won" }).click();
        await lp.getByText("Status: Won").waitFor();
        await lp.getByRole("button", { name: "Make quotation" }).click();
        await lp.waitForURL(/\/quotations\/\d+$/);
        const qid = lp.url().split("/").pop();
        const q = await call(`${PL}/GetQuotation`, { id: qid }, admin);
        assert(q.opportunityId === opp.id && q.amount === "375000", JSON.stringify(q));
        await lp.getByRole("link", { name: SUBJECT }).waitFor();
    });

    await check("the pipeline report shows the won opportunity in a table and a drawn chart", async () => {
        await nav(lp).getByRole("link", { name: "Report" }).click();
        await lp.getByRole("heading", { name: "Pipeline report" }).waitFor();
        // her team's only: other screens' tests have won opportunities of their own
        await eventually(() => lp.getByLabel("Sales team").selectOption({ label: TEAM }, { timeout: 500 }));
        // in euros, with the currency's sign
        const won = await lp.evaluate(() => new Intl.NumberFormat(undefined, { style: "currency", currency: "EUR" }).format(3750));
        await eventually(async () => {
            const text = await lp.getByRole("table").first().textContent();
            assert(text.includes(won), `table: ${text.slice(0, 300)}, want ${won}`);
        });
        await eventually(async () => {
            const painted = await lp.locator("canvas").first().evaluate((c) => {
                const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
                for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
                return false;
            });
            assert(painted, "the chart is blank");
        });
    });

    await adm.context.close();
    await li.context.close();
}
