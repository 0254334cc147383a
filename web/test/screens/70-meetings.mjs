// Meetings on the calendar: Schedule a meeting with a place and a
// description (and the server's words under End when it ends before it
// starts), its details (where, what for, attendees and their answers), the
// organiser changing its time and place, an attendee answering Maybe and
// Decline (a declined meeting leaves their calendar), the organiser
// cancelling it; what the API holds after each; axe-core on each screen.
export default async function (t) {
    const { ACT, PL, check, assert, eventually, until, call, axeCheck, signIn } = t;
    const olga = await t.makeUser({ login: "meet-olga", name: "Olga Berg", salesAccess: "SALES_ACCESS_ALL_LEADS" });
    const ari = await t.makeUser({ login: "meet-ari", name: "Ari Lund", salesAccess: "SALES_ACCESS_ALL_LEADS" });
    const opp = await call(`${PL}/CreateLead`, {
        type: "LEAD_TYPE_OPPORTUNITY", name: "Harbour cranes", salespersonId: olga.user.id,
    }, olga.token);

    // Olga in Stockholm, Ari in London, both in British English (24-hour times)
    async function person(timezoneId) {
        const context = await t.browser.newContext({ viewport: { width: 1366, height: 768 }, timezoneId, locale: "en-GB" });
        const page = await context.newPage();
        page.on("console", (m) => assert(!/Content Security Policy/i.test(m.text()), m.text()));
        return { context, page };
    }
    const { context, page } = await person("Europe/Stockholm");
    const { context: ac, page: ap } = await person("Europe/London");

    // A local time this many days ahead, as the page sees it.
    const localDay = (p, days, hour) => p.evaluate(([days, hour]) => {
        const now = new Date();
        const d = new Date(now.getFullYear(), now.getMonth(), now.getDate() + days, hour, 0);
        const two = (n) => String(n).padStart(2, "0");
        return {
            value: `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(hour)}:00`,
            micros: String(d.getTime() * 1000),
            day: new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" }).format(d),
        };
    }, [days, hour]);
    // The day and time of an instant as page p shows them.
    const shownOn = (p, micros) => p.evaluate((ms) => ({
        day: new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" }).format(new Date(ms)),
        time: new Intl.DateTimeFormat(undefined, { timeStyle: "short" }).format(new Date(ms)),
    }), Number(micros) / 1000);
    const day = (p, label) => p.getByRole("region", { name: label, exact: true });
    // the week of the day, from this week
    async function weekOf(p, label) {
        await p.getByRole("heading", { level: 3 }).first().waitFor(); // the week is loaded
        for (let i = 0; i < 3 && await day(p, label).count() === 0; i++) {
            await p.getByRole("button", { name: "Next week" }).click();
            await p.getByRole("heading", { level: 3 }).first().waitFor();
        }
        await day(p, label).waitFor();
    }
    const meetingsOf = async (token) =>
        (await call(`${ACT}/ListMeetings`, { doc: { model: "lead", id: opp.id }, includeCancelled: true }, token)).meetings ?? [];
    const answerOf = (m, user) => m.attendees.find((a) => a.userId === user.id)?.answer ?? "MEETING_ANSWER_UNSPECIFIED";

    const when = await localDay(page, 8, 10);
    await check("Schedule a meeting: an end before the start shows the server's words under End", async () => {
        await signIn(page, "meet-olga", olga.password, "/calendar");
        await page.getByRole("button", { name: "Schedule a meeting" }).click();
        const form = page.getByRole("form", { name: "Schedule a meeting" });
        let want = "";
        try {
            await call(`${ACT}/ScheduleMeeting`, { title: "x", startAt: when.micros, endAt: String(Number(when.micros) - 3600e6) }, olga.token);
        } catch (e) {
            want = e.twirp.msg;
        }
        assert(want, "the server took a meeting that ends before it starts");
        await form.getByLabel("Title").fill("Site visit");
        await form.getByLabel("Start").fill(when.value);
        await form.getByLabel("End").fill(when.value.replace("T10:00", "T09:00"));
        await form.getByRole("button", { name: "Schedule", exact: true }).click();
        const end = form.getByLabel("End");
        await eventually(async () => {
            const id = await end.getAttribute("aria-describedby");
            const text = (await form.locator(`[id="${id}"]`).textContent()).trim();
            assert(text === want, `under End: "${text}", server said "${want}"`);
        });
    });

    await check("Schedule a meeting with a place, a description and an attendee", async () => {
        const form = page.getByRole("form", { name: "Schedule a meeting" });
        await form.getByLabel("End").fill(when.value.replace("T10:00", "T11:00"));
        await form.getByLabel("Location").fill("Pier 4, gate B");
        await form.getByLabel("Description").fill("Bring the crane specs.");
        await form.getByRole("checkbox", { name: "Ari Lund" }).check();
        await form.getByLabel("Search leads and opportunities").fill("Harbour");
        const select = form.getByLabel("Lead or opportunity");
        await eventually(async () => {
            assert(await select.getByRole("option", { name: "Harbour cranes (opportunity)" }).count() === 1, "not found");
        });
        await select.selectOption({ label: "Harbour cranes (opportunity)" });
        await axeCheck(page, "Schedule a meeting, with place and description");
        await form.getByRole("button", { name: "Schedule", exact: true }).click();
        await page.getByRole("status").getByText("Meeting scheduled: Site visit").waitFor();
        const m = await until(async () => (await meetingsOf(olga.token)).find((x) => x.title === "Site visit"));
        assert(m.location === "Pier 4, gate B" && m.description === "Bring the crane specs." && m.startAt === when.micros,
            JSON.stringify(m));
        assert(answerOf(m, olga.user) === "MEETING_ANSWER_ACCEPTED" && answerOf(m, ari.user) === "MEETING_ANSWER_UNSPECIFIED",
            JSON.stringify(m.attendees));
    });

    await check("a meeting's details: where, what for, attendees and their answers", async () => {
        await weekOf(page, when.day);
        await day(page, when.day).getByRole("button", { name: "10:00 Meeting: Site visit" }).click();
        const dialog = page.getByRole("dialog", { name: "Site visit" });
        await dialog.getByText("Pier 4, gate B").waitFor();
        const text = await dialog.textContent();
        for (const want of ["Bring the crane specs.", "Harbour cranes", "Olga Berg (organiser): Accepted", "Ari Lund: Not answered yet"])
            assert(text.includes(want), `details "${text}" lack "${want}"`);
        assert(await dialog.getByRole("button", { name: "Change" }).count() === 1, "the organiser cannot change it");
        await axeCheck(page, "Meeting details");
        await t.screenshot(page, "70-meeting-details");
    });

    const moved = await localDay(page, 8, 14);
    await check("the organiser changes its time and place; answers are asked again", async () => {
        // Ari said yes to the first time
        const [m] = (await meetingsOf(olga.token)).filter((x) => x.title === "Site visit");
        await call(`${ACT}/AnswerMeeting`, { id: m.id, answer: "MEETING_ANSWER_ACCEPTED" }, ari.token);
        await page.getByRole("dialog", { name: "Site visit" }).getByRole("button", { name: "Change" }).click();
        const form = page.getByRole("form", { name: "Change the meeting" });
        assert((await form.getByLabel("Location").inputValue()) === "Pier 4, gate B", "the place is not filled in");
        assert(await form.getByRole("checkbox", { name: "Ari Lund" }).isChecked(), "the attendee is not checked");
        await form.getByLabel("Start").fill(moved.value);
        await form.getByLabel("Location").fill("Pier 6");
        await axeCheck(page, "Change the meeting");
        await form.getByRole("button", { name: "Save" }).click();
        await page.getByRole("status").getByText("Meeting changed: Site visit").waitFor();
        await day(page, moved.day).getByRole("button", { name: "14:00 Meeting: Site visit" }).waitFor();
        const after = await until(async () => (await meetingsOf(olga.token)).find((x) => x.id === m.id && x.location === "Pier 6"));
        assert(after.startAt === moved.micros && after.endAt === String(Number(moved.micros) + 3600e6), JSON.stringify(after));
        assert(answerOf(after, ari.user) === "MEETING_ANSWER_UNSPECIFIED", "Ari's answer was kept for a new time");
    });

    await check("an attendee answers Maybe, then Decline: off their calendar", async () => {
        await signIn(ap, "meet-ari", ari.password, "/calendar");
        const at = await shownOn(ap, moved.micros); // 14:00 in Stockholm is 13:00 in London
        await weekOf(ap, at.day);
        await day(ap, at.day).getByRole("button", { name: `${at.time} Meeting: Site visit` }).click();
        const dialog = ap.getByRole("dialog", { name: "Site visit" });
        const answer = dialog.getByRole("group", { name: "Your answer" });
        await answer.waitFor();
        assert(await dialog.getByRole("button", { name: "Change" }).count() === 0, "an attendee may change it");
        await axeCheck(ap, "Meeting details of an attendee");
        await answer.getByRole("button", { name: "Maybe" }).click();
        await dialog.getByText("Ari Lund: Maybe").waitFor();
        assert((await answer.getByRole("button", { name: "Maybe" }).getAttribute("aria-pressed")) === "true", "Maybe not pressed");
        await day(ap, at.day).getByRole("button", { name: `${at.time} Meeting (maybe): Site visit` }).waitFor();
        await answer.getByRole("button", { name: "Decline" }).click();
        await dialog.getByText("Ari Lund: Declined").waitFor();
        await ap.keyboard.press("Escape");
        await dialog.waitFor({ state: "detached" });
        await eventually(async () =>
            assert(await ap.getByRole("button", { name: /Site visit/ }).count() === 0, "a declined meeting on the calendar"));
        const [m] = (await meetingsOf(olga.token)).filter((x) => x.title === "Site visit");
        assert(answerOf(m, ari.user) === "MEETING_ANSWER_DECLINED", JSON.stringify(m.attendees));
    });

    await check("the organiser cancels it: off the calendar, cancelled on the server", async () => {
        await page.reload();
        await weekOf(page, moved.day);
        await day(page, moved.day).getByRole("button", { name: "14:00 Meeting: Site visit" }).click();
        const dialog = page.getByRole("dialog", { name: "Site visit" });
        await dialog.getByText("Ari Lund: Declined").waitFor();
        await dialog.getByRole("button", { name: "Cancel meeting" }).click();
        await page.getByRole("status").getByText("Meeting cancelled: Site visit").waitFor();
        await dialog.waitFor({ state: "detached" });
        await eventually(async () =>
            assert(await page.getByRole("button", { name: /Site visit/ }).count() === 0, "a cancelled meeting on the calendar"));
        const [m] = (await meetingsOf(olga.token)).filter((x) => x.title === "Site visit");
        assert(m.state === "MEETING_STATE_CANCELLED", JSON.stringify(m));
        await axeCheck(page, "Calendar after a cancel");
    });

    await check("the Inbox tells an attendee of an invitation; one on no document links to the calendar", async () => {
        await call(`${ACT}/ScheduleMeeting`, {
            title: "Coffee", startAt: moved.micros, endAt: String(Number(moved.micros) + 1800e6), attendeeIds: [ari.user.id],
        }, olga.token);
        await ap.goto(`${t.base}/inbox`);
        const list = ap.getByRole("list", { name: "Notifications" });
        const coffee = list.getByRole("listitem").filter({ hasText: "Invited to Coffee" });
        await coffee.waitFor();
        await coffee.getByRole("link", { name: "Calendar" }).waitFor();
        const visit = list.getByRole("listitem").filter({ hasText: "Invited to Site visit" });
        await visit.getByRole("link", { name: "Harbour cranes", exact: true }).waitFor();
        await axeCheck(ap, "Inbox with meeting invitations");
    });

    await context.close();
    await ac.close();
}
