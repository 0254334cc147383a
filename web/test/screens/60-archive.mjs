// Archive, restore, delete and reopen from the forms, the Archived filter
// of the lists, rename and delete of tags and lost reasons and archive of
// sales teams in Settings, and a user's default team from Preferences.
// Every change is checked on the server; refusals show the server's words
// where they belong. axe-core on each screen.
export default async function (t) {
    const { base, admin, ID, PL, check, assert, call, axeCheck, newPage, signIn, makeUser, until } = t;
    const mgr = await makeUser({ login: "manager60", name: "Manager 60", salesAccess: "SALES_ACCESS_MANAGER" });
    const sal = await makeUser({ login: "sales60", name: "Sales 60", salesAccess: "SALES_ACCESS_ALL_LEADS" });
    const east = await call(`${ID}/CreateTeam`, { name: "East 60", memberIds: [sal.user.id, mgr.user.id] }, admin);
    const west = await call(`${ID}/CreateTeam`, { name: "West 60", memberIds: [sal.user.id] }, admin);
    const getLead = async (id) => call(`${PL}/GetLead`, { id }, mgr.token);

    const { page } = await newPage();
    await signIn(page, "sales60", sal.password);

    await check("Preferences: a salesperson chooses a default team, and their new lead goes there", async () => {
        await page.getByRole("button", { name: "Preferences" }).click();
        const dialog = page.getByRole("dialog", { name: "Preferences" });
        await dialog.getByLabel("Default team").selectOption({ label: "West 60" });
        await axeCheck(page, "Preferences");
        await dialog.getByRole("button", { name: "Save preferences" }).click();
        await dialog.waitFor({ state: "detached" });
        const me = await call(`${ID}/WhoAmI`, {}, sal.token);
        assert(me.defaultTeamId === west.id, `default team ${me.defaultTeamId}, want ${west.id}`);
        const lead = await call(`${PL}/CreateLead`, { name: "Defaulted 60" }, sal.token);
        assert(lead.teamId === west.id && lead.salespersonId === sal.user.id && lead.assignedBy === "default",
            `lead ${JSON.stringify({ teamId: lead.teamId, salespersonId: lead.salespersonId, assignedBy: lead.assignedBy })}`);
    });

    const opp = await call(`${PL}/CreateLead`, {
        type: "LEAD_TYPE_OPPORTUNITY", name: "Shelf 60", teamId: east.id, salespersonId: sal.user.id, expectedRevenue: "1000",
    }, mgr.token);
    await check("Archive on the opportunity's form: out of the list, back with the Archived filter, then restored", async () => {
        await page.goto(`${base}/leads/${opp.id}`);
        const actions = page.getByRole("group", { name: "Archive or delete this opportunity" });
        await actions.getByRole("button", { name: "Archive" }).click();
        await page.getByRole("status").filter({ hasText: "This opportunity is archived" }).waitFor();
        await until(async () => (await getLead(opp.id)).archived, 5000, "the archive");
        // a salesperson is not offered Delete (managers only)
        assert(await actions.getByRole("button", { name: "Delete" }).count() === 0, "Delete offered to a salesperson");
        await call(`${PL}/CreateLead`, { type: "LEAD_TYPE_OPPORTUNITY", name: "Active 60" }, sal.token);
        await page.goto(`${base}/leads?type=opportunity`);
        await page.getByRole("link", { name: "Active 60", exact: true }).waitFor();
        assert(await page.getByRole("link", { name: "Shelf 60", exact: true }).count() === 0, "an archived opportunity is listed");
        await page.getByLabel("Archived").selectOption({ label: "Archived only" });
        await page.getByRole("link", { name: "Shelf 60", exact: true }).waitFor();
        await axeCheck(page, "Leads, archived");
        await page.getByRole("link", { name: "Shelf 60", exact: true }).click();
        await page.getByRole("group", { name: "Archive or delete this opportunity" }).getByRole("button", { name: "Restore" }).click();
        await page.getByRole("button", { name: "Archive" }).waitFor();
        await until(async () => !(await getLead(opp.id)).archived, 5000, "the restore");
        await axeCheck(page, "Opportunity form");
    });

    await check("Reopen on a lost opportunity: back in progress, its lost reason cleared", async () => {
        const reason = await call(`${PL}/CreateLostReason`, { name: "Price 60" }, mgr.token);
        await call(`${PL}/MarkLost`, { id: opp.id, lostReasonId: reason.id }, mgr.token);
        await page.goto(`${base}/leads/${opp.id}`);
        await page.getByRole("button", { name: "Reopen" }).click();
        await page.getByRole("button", { name: "Mark lost" }).waitFor();
        const l = await getLead(opp.id);
        assert(l.status !== "LEAD_STATUS_LOST" && (l.lostReasonId ?? "0") === "0", `lead ${l.status} ${l.lostReasonId}`);
    });

    await check("Archive on a customer's form and the customers' Archived filter", async () => {
        const c = await call(`${PL}/CreateCustomer`, { name: "Dormant 60", isCompany: true }, sal.token);
        assert(c.salespersonId === sal.user.id && c.teamId === west.id, `customer ${c.salespersonId} ${c.teamId}`);
        await page.goto(`${base}/customers/${c.id}`);
        await page.getByRole("group", { name: "Archive or delete this customer" }).getByRole("button", { name: "Archive" }).click();
        await page.getByRole("status").filter({ hasText: "This customer is archived" }).waitFor();
        await until(async () => (await call(`${PL}/GetCustomer`, { id: c.id }, sal.token)).archived, 5000, "the archive");
        await call(`${PL}/CreateCustomer`, { name: "Awake 60" }, sal.token);
        await page.goto(`${base}/customers`);
        await page.getByRole("link", { name: "Awake 60", exact: true }).waitFor();
        assert(await page.getByRole("link", { name: "Dormant 60", exact: true }).count() === 0, "an archived customer is listed");
        await page.getByLabel("Archived").selectOption({ label: "Active and archived" });
        await page.getByRole("link", { name: "Dormant 60", exact: true }).waitFor();
        await axeCheck(page, "Customers, all");
    });

    const mp = await newPage();
    const mpage = mp.page;
    await signIn(mpage, "manager60", mgr.password);

    await check("Delete, for a manager, after confirming: refused with the server's words while a quotation holds it", async () => {
        const cust = await call(`${PL}/CreateCustomer`, { name: "Quoted 60", isCompany: true }, mgr.token);
        const held = await call(`${PL}/CreateLead`, { type: "LEAD_TYPE_OPPORTUNITY", name: "Held 60", customerId: cust.id }, mgr.token);
        await call(`${PL}/MakeQuotation`, { opportunityId: held.id }, mgr.token);
        await mpage.goto(`${base}/leads/${held.id}`);
        await mpage.getByRole("button", { name: "Delete" }).click();
        const dialog = mpage.getByRole("dialog", { name: "Delete opportunity “Held 60”?" });
        await axeCheck(mpage, "Delete confirmation");
        await dialog.getByRole("button", { name: "Delete for good" }).click();
        await mpage.getByRole("alert").filter({ hasText: "1 quotation" }).waitFor();
        await getLead(held.id); // still there

        const doomed = await call(`${PL}/CreateLead`, { name: "Doomed 60" }, mgr.token);
        await mpage.goto(`${base}/leads/${doomed.id}`);
        await mpage.getByRole("button", { name: "Delete" }).click();
        await mpage.getByRole("dialog", { name: "Delete lead “Doomed 60”?" }).getByRole("button", { name: "Delete for good" }).click();
        await mpage.getByRole("heading", { name: "Leads", exact: true }).waitFor();
        let gone = "";
        try {
            await getLead(doomed.id);
        } catch (e) {
            gone = e.twirp?.code ?? String(e);
        }
        assert(gone === "not_found", `GetLead after delete: ${gone || "found"}`);
    });

    await check("Settings > Tags: renamed on the server; a taken name under the field; a tag in use kept with the server's words", async () => {
        const hot = await call(`${PL}/CreateTag`, { name: "Hot 60" }, mgr.token);
        await call(`${PL}/CreateTag`, { name: "Cold 60" }, mgr.token);
        await call(`${PL}/CreateLead`, { name: "Tagged 60", tagIds: [hot.id] }, mgr.token);
        await mpage.goto(`${base}/settings/tags`);
        await mpage.getByRole("button", { name: "Rename Hot 60" }).click();
        let form = mpage.getByRole("form", { name: "Rename tag Hot 60" });
        await form.getByLabel("New name").fill("cold 60");
        await form.getByRole("button", { name: "Save" }).click();
        await form.getByRole("alert").filter({ hasText: "already taken" }).waitFor();
        await form.getByLabel("New name").fill("Hottest 60");
        await form.getByRole("button", { name: "Save" }).click();
        await mpage.getByRole("status").filter({ hasText: "Renamed tag “Hot 60” to “Hottest 60”." }).waitFor();
        const tags = (await call(`${PL}/ListTags`, {}, mgr.token)).tags;
        assert(tags.some((x) => x.id === hot.id && x.name === "Hottest 60"), `tags ${JSON.stringify(tags)}`);
        await mpage.getByRole("button", { name: "Delete Hottest 60" }).click();
        await mpage.getByRole("dialog", { name: "Delete tag “Hottest 60”?" }).getByRole("button", { name: "Delete tag" }).click();
        await mpage.getByRole("alert").filter({ hasText: "is on 1 lead" }).waitFor();
        await mpage.getByRole("button", { name: "Delete Cold 60" }).click();
        await mpage.getByRole("dialog", { name: "Delete tag “Cold 60”?" }).getByRole("button", { name: "Delete tag" }).click();
        await mpage.getByRole("status").filter({ hasText: "Deleted tag “Cold 60”." }).waitFor();
        assert(!(await call(`${PL}/ListTags`, {}, mgr.token)).tags.some((x) => x.name === "Cold 60"), "Cold 60 still on the server");
        await axeCheck(mpage, "Tags");
    });

    await check("Settings > Lost reasons: renamed and deleted", async () => {
        await call(`${PL}/CreateLostReason`, { name: "Timing 60" }, mgr.token);
        await mpage.goto(`${base}/settings/lost-reasons`);
        await mpage.getByRole("button", { name: "Rename Timing 60" }).click();
        const form = mpage.getByRole("form", { name: "Rename lost reason Timing 60" });
        await form.getByLabel("New name").fill("Bad timing 60");
        await form.getByRole("button", { name: "Save" }).click();
        await mpage.getByRole("button", { name: "Delete Bad timing 60" }).click();
        await mpage.getByRole("dialog", { name: "Delete lost reason “Bad timing 60”?" }).getByRole("button", { name: "Delete lost reason" }).click();
        await mpage.getByRole("status").filter({ hasText: "Deleted lost reason “Bad timing 60”." }).waitFor();
        const reasons = (await call(`${PL}/ListLostReasons`, {}, mgr.token)).lostReasons;
        assert(!reasons.some((x) => x.name.includes("timing 60") || x.name === "Timing 60"), `reasons ${JSON.stringify(reasons)}`);
    });

    await check("Settings > Sales teams: archived, hidden unless shown, restored", async () => {
        await mpage.goto(`${base}/settings/teams`);
        await mpage.getByRole("button", { name: "Archive East 60" }).click();
        await mpage.getByRole("status").filter({ hasText: "Sales team “East 60” archived." }).waitFor();
        assert(await mpage.getByRole("rowheader", { name: "East 60" }).count() === 0, "an archived team is listed");
        const listed = (await call(`${ID}/ListTeams`, {}, mgr.token)).teams;
        assert(!listed.some((x) => x.id === east.id), "ListTeams still gives the archived team");
        let refused = "";
        try {
            await call(`${PL}/CreateLead`, { name: "Late 60", teamId: east.id }, mgr.token);
        } catch (e) {
            refused = e.twirp?.code ?? String(e);
        }
        assert(refused === "failed_precondition", `CreateLead in an archived team: ${refused || "accepted"}`);
        await mpage.getByLabel("Show archived teams").check();
        await mpage.getByRole("button", { name: "Restore East 60" }).click();
        await mpage.getByRole("status").filter({ hasText: "Sales team “East 60” restored." }).waitFor();
        await axeCheck(mpage, "Sales teams");
    });
}
