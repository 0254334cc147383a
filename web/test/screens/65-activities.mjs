// Planned activities: My activities from the top bar in three groups with
// their counts; Mark done with feedback (written in the chatter),
// Reschedule to another group, Cancel; Schedule activity from a lead's
// chatter column, with the server's refusal under "Assigned to"; the next
// activity on the kanban card (overdue in red, today in amber, in words);
// activity types in Settings (add, rename, archive); axe-core on each.
export default async function (t) {
    const { base, ID, PL, ACT, check, assert, eventually, until, call, axeCheck, newPage, signIn, makeUser } = t;
    const sfx = Date.now().toString(36);
    const li = await makeUser({ login: `act-li-${sfx}`, name: "Li Na 李娜", salesAccess: "SALES_ACCESS_MANAGER" });
    const otto = await makeUser({ login: `act-otto-${sfx}`, name: "Otto Own", salesAccess: "SALES_ACCESS_OWN_LEADS" });
    // in a team of her own, whose board is the one she opens first
    const team = await call(`${ID}/CreateTeam`, { name: `Activities 活动 ${sfx}`, leaderId: li.user.id, memberIds: [li.user.id] }, li.token);
    const lead = await call(`${PL}/CreateLead`, {
        type: "LEAD_TYPE_OPPORTUNITY", name: `Activities for 北京 ${sfx}`, salespersonId: li.user.id, teamId: team.id,
    }, li.token);
    const doc = { model: "lead", id: lead.id };

    const { page } = await newPage();
    // the app's today is the browser's: take it from the page
    await page.goto(`${base}/`);
    const day = (n) => page.evaluate((n) => {
        const now = new Date();
        const d = new Date(now.getFullYear(), now.getMonth(), now.getDate() + n);
        const two = (x) => String(x).padStart(2, "0");
        return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
    }, n);
    const plan = async (summary, deadline, token = li.token, extra = {}) =>
        call(`${ACT}/PlanActivity`, { doc, summary, deadline, ...extra }, token);
    const listOf = async (state) =>
        (await call(`${ACT}/ListActivities`, { doc, state }, li.token)).activities ?? [];
    const overdue = await plan("Send the brochure", await day(-2));
    const today = await plan("Call back about the quote", await day(0));
    const later = await plan("Prepare the demo", await day(3));

    await signIn(page, li.user.login, li.password);
    const main = page.getByRole("main");
    const group = (name) => main.getByRole("region", { name: new RegExp(`^${name} \\(`) });

    await check("My activities: from the top bar, overdue / today / planned with their counts", async () => {
        await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Activities", exact: true }).click();
        await page.getByRole("heading", { name: "My activities", level: 1 }).waitFor();
        await group("Overdue").getByText("Send the brochure").waitFor();
        await group("Today").getByText("Call back about the quote").waitFor();
        await group("Planned").getByText("Prepare the demo").waitFor();
        for (const [name, n] of [["Overdue", 1], ["Today", 1], ["Planned", 1]]) {
            const h = (await group(name).getByRole("heading", { level: 2 }).textContent()).trim();
            assert(h === `${name} (${n})`, `heading "${h}"`);
        }
        const item = group("Overdue").getByRole("listitem").filter({ hasText: "Send the brochure" });
        await item.getByText(/^Overdue: /).waitFor();
        await item.getByRole("link", { name: lead.name }).waitFor();
        const color = await item.getByText(/^Overdue: /).evaluate((el) => getComputedStyle(el).color);
        assert(color === "rgb(164, 0, 0)", `overdue shown in ${color}`);
    });
    await check("axe-core: My activities has no serious or critical violations", () => axeCheck(page, "My activities"));

    await check("Mark done with feedback: leaves the groups, written in the chatter", async () => {
        const item = group("Today").getByRole("listitem").filter({ hasText: "Call back about the quote" });
        await item.getByRole("button", { name: "Mark done" }).click();
        const dialog = page.getByRole("dialog", { name: "Mark done: Call back about the quote" });
        await dialog.getByLabel("Feedback").fill("They accept; contract next week");
        await axeCheck(page, "Mark done");
        await dialog.getByRole("button", { name: "Done", exact: true }).click();
        await main.getByRole("status").getByText("Done: Call back about the quote").waitFor();
        await group("Today").getByText("Nothing for today.").waitFor();
        const done = (await listOf("ACTIVITY_STATE_DONE")).find((a) => a.id === today.id);
        assert(done && done.feedback === "They accept; contract next week", JSON.stringify(done));
        const messages = (await call(`${ACT}/ListMessages`, { doc }, li.token)).messages ?? [];
        assert(messages.some((m) => m.kind === "MESSAGE_KIND_ACTIVITY" &&
            m.body === "To-do done: Call back about the quote\nThey accept; contract next week"), JSON.stringify(messages[0]));
    });

    await check("Reschedule: the overdue one moves to Planned", async () => {
        const item = group("Overdue").getByRole("listitem").filter({ hasText: "Send the brochure" });
        await item.getByRole("button", { name: "Reschedule" }).click();
        const dialog = page.getByRole("dialog", { name: "Reschedule: Send the brochure" });
        const when = await day(5);
        await dialog.getByLabel("Deadline").fill(when);
        await dialog.getByRole("button", { name: "Save" }).click();
        await group("Planned").getByText("Send the brochure").waitFor();
        await group("Overdue").getByText("Nothing overdue.").waitFor();
        const moved = (await listOf("ACTIVITY_STATE_PLANNED")).find((a) => a.id === overdue.id);
        assert(moved && moved.deadline === when, JSON.stringify(moved));
    });

    await check("Cancel: gone from the list and cancelled on the server", async () => {
        const item = group("Planned").getByRole("listitem").filter({ hasText: "Prepare the demo" });
        await item.getByRole("button", { name: "Cancel activity" }).click();
        await main.getByRole("status").getByText("Cancelled: Prepare the demo").waitFor();
        await eventually(async () => assert(await group("Planned").getByText("Prepare the demo").count() === 0, "still listed"));
        assert((await listOf("ACTIVITY_STATE_CANCELLED")).some((a) => a.id === later.id), "not cancelled");
    });

    const chatter = page.getByRole("complementary", { name: "Chatter" });
    const planned = chatter.getByRole("region", { name: "Planned activities" });
    await check("the lead's chatter column lists its planned activities; Schedule activity adds one", async () => {
        await page.goto(`${base}/leads/${lead.id}`);
        await planned.getByText("Send the brochure").waitFor();
        await planned.getByRole("button", { name: "Schedule activity" }).click();
        const dialog = page.getByRole("dialog", { name: "Schedule activity" });
        await dialog.getByLabel("Activity type").selectOption({ label: "Email" });
        await dialog.getByLabel("Summary").fill("Send the contract 合同");
        await dialog.getByLabel("Deadline").fill(await day(1));
        await axeCheck(page, "Schedule activity");
        await dialog.getByRole("button", { name: "Schedule", exact: true }).click();
        await planned.getByRole("status").getByText("Scheduled: Send the contract 合同").waitFor();
        await planned.getByRole("listitem").filter({ hasText: "Send the contract 合同" }).getByText("Email").waitFor();
        const made = (await listOf("ACTIVITY_STATE_PLANNED")).find((a) => a.summary === "Send the contract 合同");
        assert(made && made.category === "ACTIVITY_CATEGORY_EMAIL" && made.responsibleId === li.user.id, JSON.stringify(made));
    });

    await check("Schedule activity: the server's refusal is shown under Assigned to", async () => {
        // Otto (own leads) may not see Li's lead: he cannot be made responsible
        let want = "";
        try {
            await plan("x", await day(1), li.token, { responsibleId: otto.user.id });
        } catch (e) {
            want = e.twirp.msg;
        }
        assert(want, "the server took a responsible who cannot see the lead");
        await planned.getByRole("button", { name: "Schedule activity" }).click();
        const dialog = page.getByRole("dialog", { name: "Schedule activity" });
        await dialog.getByLabel("Summary").fill("Otto's turn");
        await dialog.getByLabel("Assigned to").selectOption({ label: "Otto Own" });
        await dialog.getByRole("button", { name: "Schedule", exact: true }).click();
        const err = dialog.locator("#" + (await dialog.getByLabel("Assigned to").getAttribute("id")) + "-error");
        await eventually(async () => assert((await err.textContent()).trim() === want, `under the field: "${await err.textContent()}"`));
        await dialog.getByRole("button", { name: "Back" }).click();
        assert(!(await listOf("ACTIVITY_STATE_PLANNED")).some((a) => a.summary === "Otto's turn"), "planned anyway");
    });

    await check("the kanban card shows its next activity: overdue in red and in words, today in amber", async () => {
        const soon = await plan("Overdue reminder", await day(-1));
        await page.goto(`${base}/pipeline`);
        const card = page.getByRole("listitem").filter({ has: page.getByRole("link", { name: lead.name }) });
        const next = card.getByText("Overdue reminder", { exact: false });
        await next.waitFor();
        const text = (await next.textContent()).trim();
        assert(text.startsWith("Overdue: ") && text.includes("Overdue reminder") && text.includes("(+"), `card says "${text}"`);
        const color = await next.evaluate((el) => getComputedStyle(el).color);
        assert(color === "rgb(164, 0, 0)", `overdue in ${color}`);
        await call(`${ACT}/CancelActivity`, { id: soon.id }, li.token);
        await plan("Due today", await day(0));
        await page.reload();
        const todayNext = card.getByText("Due today", { exact: false });
        await todayNext.waitFor();
        const t2 = (await todayNext.textContent()).trim();
        assert(t2.startsWith("Today"), `card says "${t2}"`);
        const amber = await todayNext.evaluate((el) => getComputedStyle(el).color);
        assert(amber === "rgb(122, 74, 0)", `today in ${amber}`);
    });
    await check("axe-core: the Pipeline with next activities has no serious or critical violations", () => axeCheck(page, "Pipeline"));

    await check("Settings: activity types listed, one added, renamed and archived", async () => {
        await page.goto(`${base}/settings`);
        await main.getByRole("link", { name: "Activity types", exact: true }).click();
        await page.getByRole("heading", { name: "Activity types", level: 1 }).waitFor();
        const list = main.getByRole("list", { name: "Activity types" });
        for (const name of ["Call", "Meeting", "Email", "To-do"])
            await list.getByRole("form", { name: `Activity type ${name}` }).waitFor();
        await axeCheck(page, "Activity types");
        const form = main.getByRole("form", { name: "New activity type" });
        const name = `Visit ${sfx}`;
        await form.getByLabel("Name").fill(name);
        await form.getByLabel("Default days").fill("3");
        await form.getByRole("button", { name: "Add activity type" }).click();
        await main.getByRole("status").getByText(`Added activity type “${name}”.`).waitFor();
        const row = list.getByRole("form", { name: `Activity type ${name}` });
        await row.getByLabel("Name").fill(`${name} on site`);
        await row.getByRole("button", { name: "Save" }).click();
        const renamed = list.getByRole("form", { name: `Activity type ${name} on site` });
        await renamed.waitFor();
        await renamed.getByRole("button", { name: "Archive" }).click();
        await renamed.getByRole("button", { name: "Restore" }).waitFor();
        const types = (await call(`${ACT}/ListActivityTypes`, { includeArchived: true }, li.token)).types;
        const got = types.find((x) => x.name === `${name} on site`);
        assert(got && got.archived && got.defaultDays === 3, JSON.stringify(got));
        const offered = (await call(`${ACT}/ListActivityTypes`, {}, li.token)).types;
        assert(!offered.some((x) => x.id === got.id), "an archived type is still offered");
    });
    await check("an own-leads user gets Activities but not the activity types' settings", async () => {
        const { page: p2 } = await newPage();
        await signIn(p2, otto.user.login, otto.password);
        await p2.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Activities", exact: true }).click();
        await p2.getByRole("heading", { name: "My activities", level: 1 }).waitFor();
        assert(await p2.getByLabel("Whose").count() === 0, "offered a colleague's activities");
        await p2.goto(`${base}/settings/activity-types`);
        await p2.getByText("Your access level does not include this screen.").waitFor();
    });
}
