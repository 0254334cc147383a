// Calls and the calendar (walkthrough 9): Log a call and Schedule a call on
// an opportunity found by search, the Scheduled calls list, Mark held and
// Cancel, the week calendar at the right day and time in the user's time
// zone (Shanghai, UTC+8, where the planned 14:30 is 06:30 UTC), the week
// navigation, an entry's details, Schedule a meeting seen on the other
// attendee's calendar, the calendar on a phone; axe-core on each screen.
export default async function (t) {
    const { base, browser, PL, ACT, check, assert, eventually, until, call, axeCheck, newPage, signIn } = t;
    const wang = await t.makeUser({ login: "calls-wang", name: "王芳", salesAccess: "SALES_ACCESS_MANAGER" });
    const zhao = await t.makeUser({ login: "calls-zhao", name: "赵磊", salesAccess: "SALES_ACCESS_OWN_LEADS" });
    const customer = await call(`${PL}/CreateCustomer`, { name: "张三 Trading", salespersonId: wang.user.id }, wang.token);
    const opp = await call(`${PL}/CreateLead`, {
        type: "LEAD_TYPE_OPPORTUNITY", name: "Consulting for 张三", customerId: customer.id, salespersonId: wang.user.id,
    }, wang.token);
    // a long name in the lists, for the phone's width
    await call(`${PL}/CreateLead`, {
        type: "LEAD_TYPE_OPPORTUNITY", name: "Consulting for 张三: a year of support, training and visits to the Shanghai office",
        customerId: customer.id, salespersonId: wang.user.id,
    }, wang.token);
    const doc = { model: "lead", id: opp.id };
    const callsOf = async (status) =>
        (await call(`${ACT}/ListCalls`, { doc, status }, wang.token)).calls ?? [];

    // Wang works from Shanghai, in English
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, timezoneId: "Asia/Shanghai", locale: "en-GB" });
    const page = await context.newPage();
    const csp = [];
    page.on("console", (m) => /Content Security Policy/i.test(m.text()) && csp.push(m.text()));

    // A local time this many days from today, as the page sees it: the
    // input's value, the instant, and the calendar day's name.
    const localDay = (p, days, hour, minute) => p.evaluate(([days, hour, minute]) => {
        const now = new Date();
        const d = new Date(now.getFullYear(), now.getMonth(), now.getDate() + days, hour, minute);
        const two = (n) => String(n).padStart(2, "0");
        return {
            value: `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(hour)}:${two(minute)}`,
            micros: String(d.getTime() * 1000),
            day: new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" }).format(d),
        };
    }, [days, hour, minute]);

    async function chooseOpportunity(form) {
        await form.getByLabel("Search leads and opportunities").fill("张三");
        const select = form.getByLabel("Lead or opportunity");
        await eventually(async () => {
            assert(await select.getByRole("option", { name: "Consulting for 张三 (opportunity)" }).count() === 1, "not found");
        });
        await select.selectOption({ label: "Consulting for 张三 (opportunity)" });
        await form.getByText("Customer: 张三 Trading").waitFor();
    }

    await check("Calls: the Scheduled calls screen from the top bar", async () => {
        await signIn(page, "calls-wang", wang.password);
        await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Calls", exact: true }).click();
        await page.getByRole("heading", { name: "Scheduled calls", level: 1 }).waitFor();
        await page.getByText("No calls match these filters.").waitFor();
    });
    await check("axe-core: Scheduled calls has no serious or critical violations", () => axeCheck(page, "Scheduled calls"));

    await check("Log a call on the opportunity records a held call", async () => {
        await page.getByRole("button", { name: "Log a call" }).click();
        const form = page.getByRole("form", { name: "Log a call" });
        await chooseOpportunity(form);
        await form.getByLabel("Summary").fill("Called about the proposal");
        await form.getByLabel("Duration (minutes)").fill("10");
        await axeCheck(page, "Log a call");
        await form.getByRole("button", { name: "Log", exact: true }).click();
        await page.getByRole("status").getByText("Call logged: Called about the proposal").waitFor();
        const held = await until(async () => (await callsOf("CALL_STATUS_HELD")).find((c) => c.summary === "Called about the proposal"));
        assert(held.durationMinutes === 10 && held.responsibleId === wang.user.id, JSON.stringify(held));
        const late = Date.now() * 1000 - Number(held.at);
        assert(late >= 0 && late < 120e6, `logged at ${held.at}, not now`);
    });

    await check("a call logged in the future shows the server's words under Date", async () => {
        const tomorrow = await localDay(page, 1, 9, 0);
        let want = "";
        try {
            await call(`${ACT}/LogCall`, { doc, summary: "x", at: tomorrow.micros }, wang.token);
        } catch (e) {
            want = e.twirp.msg;
        }
        assert(want, "the server logged a call in the future");
        await page.getByRole("button", { name: "Log a call" }).click();
        const form = page.getByRole("form", { name: "Log a call" });
        await chooseOpportunity(form);
        await form.getByLabel("Summary").fill("Not yet held");
        await form.getByLabel("Date").fill(tomorrow.value);
        await form.getByRole("button", { name: "Log", exact: true }).click();
        const date = form.getByLabel("Date");
        await eventually(async () => {
            const id = await date.getAttribute("aria-describedby");
            const text = (await form.locator(`[id="${id}"]`).textContent()).trim();
            assert(text === want, `under Date: "${text}", server said "${want}"`);
        });
        await form.getByRole("button", { name: "Discard" }).click();
        assert(!(await callsOf(0)).some((c) => c.summary === "Not yet held"), "logged anyway");
    });

    const planned = await localDay(page, 7, 14, 30);
    await check("Schedule a call: planned in the user's time zone, listed in Scheduled calls", async () => {
        await page.getByRole("button", { name: "Schedule a call" }).click();
        const form = page.getByRole("form", { name: "Schedule a call" });
        await chooseOpportunity(form);
        await form.getByLabel("Summary").fill("Present the offer");
        await form.getByLabel("Planned date").fill(planned.value);
        await form.getByLabel("Duration (minutes)").fill("30");
        const responsible = form.getByLabel("Responsible");
        assert((await responsible.locator("option:checked").textContent()) === "王芳", "the responsible is not the user");
        await eventually(async () => {
            const names = await responsible.getByRole("option").allTextContents();
            assert(names.includes("赵磊"), `responsibles: ${names.join(", ")}`);
            const sorted = await page.evaluate((n) => [...n].sort(new Intl.Collator(undefined, { sensitivity: "base" }).compare), names);
            assert(names.join("|") === sorted.join("|"), `not in the language's order: ${names.join(", ")}`);
        });
        await axeCheck(page, "Schedule a call");
        await t.screenshot(page, "30-schedule-call");
        await form.getByRole("button", { name: "Schedule", exact: true }).click();
        await page.getByRole("status").getByText("Call scheduled: Present the offer").waitFor();
        const c = await until(async () => (await callsOf("CALL_STATUS_SCHEDULED")).find((c) => c.summary === "Present the offer"));
        assert(c.plannedAt === planned.micros, `planned ${c.plannedAt}, wanted ${planned.micros}`);
        const utc = new Date(Number(c.plannedAt) / 1000);
        assert(utc.getUTCHours() === 6 && utc.getUTCMinutes() === 30, `14:30 in Shanghai is stored as ${utc.toISOString()}`);
        const item = page.getByRole("list", { name: "Calls" }).getByRole("listitem", { name: "Present the offer" });
        await item.waitFor();
        const text = await item.textContent();
        for (const want of ["14:30", "30 min", "Consulting for 张三", "王芳", "Scheduled"])
            assert(text.includes(want), `"${text}" lacks "${want}"`);
    });

    await check("a call's opportunity links to its form", async () => {
        const item = page.getByRole("list", { name: "Calls" }).getByRole("listitem", { name: "Present the offer" });
        await item.getByRole("link", { name: "Consulting for 张三", exact: true }).click();
        await page.waitForURL(`${base}/leads/${opp.id}`);
        await page.getByRole("button", { name: "Mark won" }).waitFor();
        await page.goBack();
        await page.getByRole("list", { name: "Calls" }).waitFor();
    });

    const other = await call(`${ACT}/ScheduleCall`, {
        doc, summary: "Follow-up by phone", plannedAt: String(Number(planned.micros) + 2 * 3600e6), durationMinutes: 15,
    }, wang.token);

    await check("Cancel takes a scheduled call off the list and off the calendar", async () => {
        await page.reload();
        const item = page.getByRole("list", { name: "Calls" }).getByRole("listitem", { name: "Follow-up by phone" });
        await item.getByRole("button", { name: "Cancel" }).click();
        await page.getByRole("status").getByText("Call cancelled: Follow-up by phone").waitFor();
        await item.waitFor({ state: "detached" });
        const got = (await callsOf(0)).find((c) => c.id === other.id);
        assert(got.status === "CALL_STATUS_CANCELLED", `status ${got.status}`);
    });

    await check("/calls?lead=ID&form=schedule opens Schedule a call on that opportunity", async () => {
        await page.goto(`${base}/calls?lead=${opp.id}&form=schedule`);
        const form = page.getByRole("form", { name: "Schedule a call" });
        await form.getByText("Customer: 张三 Trading").waitFor();
        const chosen = await form.getByLabel("Lead or opportunity").locator("option:checked").textContent();
        assert(chosen === "Consulting for 张三 (opportunity)", `chosen: ${chosen}`);
        await form.getByRole("button", { name: "Discard" }).click();
        await form.waitFor({ state: "detached" });
    });

    await check("a From date after the To date shows the server's words", async () => {
        let want = "";
        try {
            await call(`${ACT}/ListCalls`, { from: "1800000000000000", to: "1700000000000000" }, wang.token);
        } catch (e) {
            want = e.twirp.msg;
        }
        await page.getByLabel("From").fill(planned.value.slice(0, 10));
        await page.getByLabel("To").fill("2026-01-01");
        const alert = page.getByRole("alert");
        await alert.waitFor();
        const text = (await alert.textContent()).trim();
        assert(text === want, `alert "${text}", server said "${want}"`);
        await page.getByLabel("From").fill("");
        await page.getByLabel("To").fill("");
        await alert.waitFor({ state: "detached" });
    });

    const day = (p, label) => p.getByRole("region", { name: label, exact: true });
    await check("the calendar shows the call on its day at its time, and its details", async () => {
        await page.getByRole("link", { name: "Calendar", exact: true }).click();
        await page.getByRole("heading", { name: "Calendar", level: 1 }).waitFor();
        await page.getByRole("button", { name: "Next week" }).click();
        const entry = day(page, planned.day).getByRole("button", { name: "14:30 Call: Present the offer" });
        await entry.waitFor();
        assert(await page.getByRole("button", { name: /Follow-up by phone/ }).count() === 0, "the cancelled call is on the calendar");
        await entry.click();
        const dialog = page.getByRole("dialog", { name: "Present the offer" });
        await dialog.waitFor();
        const text = await dialog.textContent();
        for (const want of ["Call", "Scheduled", "14:30", "15:00", "Consulting for 张三"])
            assert(text.includes(want), `details "${text}" lack "${want}"`);
        await axeCheck(page, "Calendar entry details");
        await page.keyboard.press("Escape");
        await dialog.waitFor({ state: "detached" });
        await eventually(async () => assert(await entry.evaluate((e) => e === document.activeElement), "focus not back on the entry"));
        // by keyboard alone: from the week's buttons, Tab reaches the entry, Enter opens it
        await page.getByRole("button", { name: "Next week" }).focus();
        for (let i = 0; i < 10 && !(await entry.evaluate((e) => e === document.activeElement)); i++)
            await page.keyboard.press("Tab");
        assert(await entry.evaluate((e) => e === document.activeElement), "Tab does not reach the entry");
        await page.keyboard.press("Enter");
        await dialog.waitFor();
        await page.keyboard.press("Escape");
        await dialog.waitFor({ state: "detached" });
    });
    await check("axe-core: the Calendar has no serious or critical violations", () => axeCheck(page, "Calendar"));

    await check("Previous week, Next week and Today move the calendar by weeks", async () => {
        const range = page.getByRole("heading", { level: 2 }).first();
        const next = await range.textContent();
        await page.getByRole("button", { name: "Previous week" }).click();
        await eventually(async () => assert((await range.textContent()) !== next, "the week did not change"));
        const today = await localDay(page, 0, 12, 0);
        const todayHeading = day(page, today.day).getByRole("heading");
        await todayHeading.waitFor();
        assert((await todayHeading.getAttribute("aria-current")) === "date", "today is not marked");
        await page.getByRole("button", { name: "Previous week" }).click();
        await eventually(async () => assert(await day(page, today.day).count() === 0, "still this week"));
        await page.getByRole("button", { name: "Today" }).click();
        await todayHeading.waitFor();
        await page.getByRole("button", { name: "Next week" }).click();
        await eventually(async () => assert((await range.textContent()) === next, "not back to the week of the call"));
        await day(page, planned.day).getByRole("button", { name: "14:30 Call: Present the offer" }).waitFor();
    });

    await check("Mark held: the call is held on the server and listed under Held", async () => {
        await page.getByRole("link", { name: "Calls", exact: true }).click();
        const item = page.getByRole("list", { name: "Calls" }).getByRole("listitem", { name: "Present the offer" });
        await item.getByRole("button", { name: "Mark held" }).click();
        await page.getByRole("status").getByText("Call marked held: Present the offer").waitFor();
        await item.waitFor({ state: "detached" });
        const got = (await callsOf("CALL_STATUS_HELD")).find((c) => c.summary === "Present the offer");
        assert(got, "not held on the server");
        await page.getByLabel("Status").selectOption({ label: "Held" });
        await item.waitFor();
        assert(await item.getByRole("button", { name: "Mark held" }).count() === 0, "a held call offers Mark held");
        await t.screenshot(page, "30-calls-held");
    });

    const meeting = await localDay(page, 7, 10, 0);  // the day of the call, before it
    await check("Schedule a meeting with another attendee puts it on the organiser's calendar, in time order", async () => {
        await page.getByRole("link", { name: "Calendar", exact: true }).click();
        await page.getByRole("button", { name: "Schedule a meeting" }).click();
        const form = page.getByRole("form", { name: "Schedule a meeting" });
        await form.getByLabel("Title").fill("Kick-off with 张三");
        await form.getByLabel("Start").fill(meeting.value);
        assert((await form.getByLabel("End").inputValue()) === meeting.value.replace("T10:00", "T11:00"), "the end does not follow the start");
        await form.getByRole("checkbox", { name: "赵磊" }).check();
        await chooseOpportunity(form);
        await axeCheck(page, "Schedule a meeting");
        await form.getByRole("button", { name: "Schedule", exact: true }).click();
        await page.getByRole("status").getByText("Meeting scheduled: Kick-off with 张三").waitFor();
        await day(page, meeting.day).getByRole("button", { name: "10:00 Meeting: Kick-off with 张三" }).waitFor();
        const entries = await day(page, meeting.day).getByRole("listitem").allTextContents();
        assert(entries.join("|") === "10:00 Meeting: Kick-off with 张三|14:30 Call (held): Present the offer",
            `the day's entries: ${entries.join("|")}`);
        await t.screenshot(page, "30-calendar");
    });

    await check("the meeting is on the attendee's calendar, in their own time zone", async () => {
        const cal = await until(async () => {
            const r = await call(`${ACT}/ListCalendar`, {
                from: String(Number(meeting.micros) - 3600e6), to: String(Number(meeting.micros) + 3600e6),
            }, zhao.token);
            return (r.events ?? []).find((e) => e.title === "Kick-off with 张三");
        });
        assert(cal.startAt === meeting.micros && cal.kind === "CALENDAR_EVENT_KIND_MEETING", JSON.stringify(cal));
        // Zhao's browser keeps UTC: 10:00 in Shanghai is 02:00 for him
        const { context: zc, page: zp } = await newPage();
        await signIn(zp, "calls-zhao", zhao.password, "/calendar");
        const when = new Date(Number(meeting.micros) / 1000);
        const label = await zp.evaluate((ms) => new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" })
            .format(new Date(ms)), when.getTime());
        const time = await zp.evaluate((ms) => new Intl.DateTimeFormat(undefined, { timeStyle: "short" }).format(new Date(ms)), when.getTime());
        for (let i = 0; i < 3 && await day(zp, label).count() === 0; i++) {
            await zp.getByRole("button", { name: "Next week" }).click();
            await zp.getByRole("heading", { level: 3 }).first().waitFor();
        }
        await day(zp, label).getByRole("button", { name: `${time} Meeting: Kick-off with 张三` }).waitFor();
        await axeCheck(zp, "Calendar of an attendee");
        await zc.close();
    });

    await check("a manager sees another user's calendar through Calendar of", async () => {
        await page.getByLabel("Calendar of").selectOption({ label: "赵磊" });
        await day(page, meeting.day).getByRole("button", { name: "10:00 Meeting: Kick-off with 张三" }).waitFor();
        // the call is Wang's: not on Zhao's calendar
        assert(await page.getByRole("button", { name: /Present the offer/ }).count() === 0, "Wang's call on Zhao's calendar");
        assert(await page.getByRole("button", { name: "Schedule a meeting" }).count() === 0, "meetings offered for someone else");
        await page.getByLabel("Calendar of").selectOption({ label: "Me" });
        await day(page, meeting.day).getByRole("button", { name: /Present the offer/ }).waitFor();
    });

    await check("on a phone the calendar's days stack, with no page overflow", async () => {
        const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, timezoneId: "Asia/Shanghai", locale: "en-GB" });
        const pp = await phone.newPage();
        pp.on("console", (m) => /Content Security Policy/i.test(m.text()) && csp.push(m.text()));
        await signIn(pp, "calls-wang", wang.password, "/calendar");
        await pp.getByRole("button", { name: "Next week" }).click();
        const entry = day(pp, meeting.day).getByRole("button", { name: "10:00 Meeting: Kick-off with 张三" });
        await entry.waitFor();
        const box = await entry.boundingBox();
        assert(box.x >= 0 && box.x + box.width <= 390, `entry at ${box.x}+${box.width}`);
        const wide = await pp.evaluate(() => document.documentElement.scrollWidth);
        assert(wide <= 390, `the page is ${wide} px wide`);
        await axeCheck(pp, "Calendar on a phone");
        await t.screenshot(pp, "30-calendar-phone");
        await pp.getByRole("button", { name: "Schedule a meeting" }).click();
        await pp.getByRole("form", { name: "Schedule a meeting" }).getByLabel("Lead or opportunity")
            .getByRole("option", { name: /a year of support/ }).waitFor({ state: "attached" });
        const wideMeeting = await pp.evaluate(() => document.documentElement.scrollWidth);
        assert(wideMeeting <= 390, `Schedule a meeting is ${wideMeeting} px wide`);
        await pp.goto(`${base}/calls`);
        await pp.getByRole("heading", { name: "Scheduled calls" }).waitFor();
        await pp.getByRole("button", { name: "Schedule a call" }).click();
        await pp.getByRole("form", { name: "Schedule a call" }).waitFor();
        const wideCalls = await pp.evaluate(() => document.documentElement.scrollWidth);
        assert(wideCalls <= 390, `Scheduled calls is ${wideCalls} px wide`);
        await phone.close();
    });

    await check("no Content-Security-Policy violation on the calls screens", async () => {
        assert(csp.length === 0, csp.join("\n"));
    });
    await context.close();
}
