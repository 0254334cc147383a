// The Inbox and the live stream: a follower of a lead, in a browser of her
// own, sees the unread count in the top bar rise and a toast appear,
// without reload and without losing the focus, when the lead's salesperson
// sends a message from its chatter; the entry links to the lead and to its
// discussion; Mark read and Mark all read bring the count down; axe-core
// and a phone's width.
export default async function (t) {
    const { base, PL, ACT, NOTIF, check, assert, eventually, until, call, axeCheck, newPage, signIn, makeUser, screenshot } = t;
    const sfx = Date.now().toString(36);
    const owner = await makeUser({ login: `inbox-owner-${sfx}`, name: "Wang Lei", salesAccess: "SALES_ACCESS_MANAGER" });
    const li = await makeUser({ login: `inbox-li-${sfx}`, name: "李娜", salesAccess: "SALES_ACCESS_ALL_LEADS" });
    const lead = await call(`${PL}/CreateLead`, {
        type: "LEAD_TYPE_OPPORTUNITY", name: "Inbox test: 北京 Trading", salespersonId: owner.user.id,
    }, owner.token);
    const doc = { model: "lead", id: lead.id };
    await until(async () => {
        try {
            return await call(`${NOTIF}/Follow`, { doc, userId: li.user.id }, owner.token);
        } catch {
            return null; // notifications has not heard of the lead yet
        }
    }, 5000, "李娜 following the lead");
    const unread = async () => Number((await call(`${NOTIF}/UnreadCount`, {}, li.token)).count ?? 0);
    assert(await unread() === 0, "李娜 starts with unread entries");

    const mine = await newPage();
    const hers = await newPage();
    const inboxLink = (name) => hers.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
    const entries = hers.page.getByRole("list", { name: "Notifications" });
    const toasts = hers.page.getByRole("log", { name: "New notifications" });

    await check("inbox: the Inbox is in the top bar and shows that there is nothing yet", async () => {
        await signIn(hers.page, li.user.login, li.password, "/inbox");
        await hers.page.getByRole("heading", { name: "Inbox", exact: true }).waitFor();
        await inboxLink("Inbox").waitFor();
        await hers.page.getByText("No notifications yet.").waitFor();
    });

    let summary = "";
    await check("inbox: a message sent on the lead raises her count and shows a toast, live, keeping her focus", async () => {
        await signIn(mine.page, owner.user.login, owner.password, `/chatter/lead/${lead.id}`);
        const chatter = mine.page.getByRole("complementary", { name: "Chatter" });
        await chatter.getByRole("tab", { name: "Send a message" }).click();
        await chatter.getByRole("textbox", { name: "Send a message" }).fill("Can you call them back tomorrow?");
        const unreadOnly = hers.page.getByRole("checkbox", { name: "Unread only" });
        await unreadOnly.focus();
        await hers.page.evaluate(() => (window.__notReloaded = true));
        await chatter.getByRole("button", { name: "Send", exact: true }).click();
        await inboxLink("Inbox, 1 unread").waitFor({ timeout: 10000 });
        const n = (await call(`${NOTIF}/ListInbox`, {}, li.token)).notifications[0];
        summary = n.summary;
        assert(summary, "the entry has no summary");
        await toasts.getByText(summary, { exact: false }).waitFor();
        assert((await toasts.textContent()).includes("Wang Lei"), `toast: ${await toasts.textContent()}`);
        await entries.getByRole("listitem").filter({ hasText: summary }).waitFor();
        assert(await hers.page.evaluate(() => window.__notReloaded), "her page was reloaded");
        assert(await unreadOnly.evaluate((el) => el === document.activeElement), "the toast took her focus");
        assert(await unread() === 1, `server count ${await unread()}`);
    });

    await check("inbox: the entry is unread in words and links to the lead and to its discussion", async () => {
        const entry = entries.getByRole("listitem").filter({ hasText: summary });
        assert((await entry.textContent()).includes("Unread"), `entry: ${await entry.textContent()}`);
        const href = await entry.getByRole("link", { name: "Inbox test: 北京 Trading", exact: true }).getAttribute("href");
        assert(href === `/leads/${lead.id}`, `document link ${href}`);
        await entry.getByRole("link", { name: "Open discussion: Inbox test: 北京 Trading" }).click();
        await hers.page.getByRole("heading", { name: "Discussion: Inbox test: 北京 Trading" }).waitFor();
        await hers.page.getByRole("complementary", { name: "Chatter" }).getByRole("listitem")
            .filter({ hasText: "Can you call them back tomorrow?" }).waitFor();
        await hers.page.goBack();
        await hers.page.getByRole("heading", { name: "Inbox", exact: true }).waitFor();
    });

    await check("axe-core: the Inbox with entries has no serious or critical violations", async () => {
        await entries.getByRole("listitem").first().waitFor();
        await axeCheck(hers.page, "inbox");
        await screenshot(hers.page, "inbox");
    });

    await check("inbox: Mark read brings the count down by one", async () => {
        for (const body of ["Second question", "Third question"])
            await call(`${ACT}/PostMessage`, { doc, kind: "MESSAGE_KIND_COMMENT", body }, owner.token);
        await inboxLink("Inbox, 3 unread").waitFor({ timeout: 10000 });
        await eventually(async () => assert(await entries.getByRole("listitem").count() === 3, "not 3 entries"));
        const entry = entries.getByRole("listitem").filter({ hasText: summary });
        await entry.getByRole("button", { name: /^Mark read/ }).click();
        await inboxLink("Inbox, 2 unread").waitFor();
        await eventually(async () => assert((await entry.textContent()).includes("Read"), "still unread on screen"));
        assert(await entry.getByRole("button", { name: /^Mark read/ }).count() === 0, "Mark read still offered");
        assert(await unread() === 2, `server count ${await unread()}`);
    });

    await check("inbox: Unread only leaves out what was read", async () => {
        await hers.page.getByRole("checkbox", { name: "Unread only" }).check();
        await eventually(async () => assert(await entries.getByRole("listitem").count() === 2, "not 2 entries"));
        await hers.page.getByRole("checkbox", { name: "Unread only" }).uncheck();
        await eventually(async () => assert(await entries.getByRole("listitem").count() === 3, "not 3 entries"));
    });

    await check("inbox: Mark all read clears the count", async () => {
        await hers.page.getByRole("button", { name: "Mark all read" }).click();
        await inboxLink("Inbox").waitFor();
        await eventually(async () => assert(await entries.getByText("Unread", { exact: true }).count() === 0, "entries still unread"));
        assert(await unread() === 0, `server count ${await unread()}`);
        assert(await hers.page.getByRole("button", { name: "Mark all read" }).isDisabled(), "Mark all read still offered");
    });

    await check("inbox: the stream comes back after the network drops, with what was missed", async () => {
        await hers.context.setOffline(true);
        await call(`${ACT}/PostMessage`, { doc, kind: "MESSAGE_KIND_COMMENT", body: "While you were away" }, owner.token);
        await new Promise((ok) => setTimeout(ok, 500));
        await hers.context.setOffline(false);
        await inboxLink("Inbox, 1 unread").waitFor({ timeout: 15000 });
        await entries.getByRole("listitem").filter({ hasText: "While you were away" }).waitFor({ timeout: 5000 });
    });

    await check("inbox: older notifications come a page at a time", async () => {
        await Promise.all(Array.from({ length: 50 }, (_, i) =>
            call(`${ACT}/PostMessage`, { doc, kind: "MESSAGE_KIND_COMMENT", body: `Batch question ${i}` }, owner.token)));
        await until(async () => (await unread()) === 51, 10000, "51 unread");
        await hers.page.reload();
        await inboxLink("Inbox, 51 unread").waitFor();
        await eventually(async () => assert(await entries.getByRole("listitem").count() === 50, "not 50 on the first page"));
        await hers.page.getByRole("button", { name: "Older notifications" }).click();
        await eventually(async () => {
            const n = await entries.getByRole("listitem").count();
            assert(n === 54, `${n} entries after the second page`); // 4 before, 50 in the batch
        });
        await entries.getByRole("listitem").filter({ hasText: summary }).waitFor();
    });

    await check("inbox: at a phone's width nothing runs off the screen, toasts included", async () => {
        await hers.page.setViewportSize({ width: 390, height: 800 });
        await call(`${ACT}/PostMessage`, { doc, kind: "MESSAGE_KIND_COMMENT", body: "One more for the phone" }, owner.token);
        await toasts.getByText("One more", { exact: false }).waitFor();
        await screenshot(hers.page, "inbox-phone");
        const over = await hers.page.evaluate(() => document.documentElement.scrollWidth);
        assert(over <= 390, `page is ${over} px wide`);
    });

    await mine.context.close();
    await hers.context.close();
}
