// Likely duplicates and merging: the lead form and the customer form show
// "Possible duplicates" (links with the reason) as an e-mail, phone or
// company is typed, and from the reply once the record exists; an own-leads
// user is not told of another salesperson's lead; the leads list's row
// selection and Merge, whose dialog picks the lead to keep and opens the
// merged lead, its chatter telling of the merge; a refused merge's words in
// the dialog; axe-core on each screen.
export default async function (t) {
    const { PL, ACT, check, assert, eventually, call, axeCheck, newPage, signIn, makeUser } = t;
    const mgr = await makeUser({ login: "mergemgr", name: "Mia Merger", salesAccess: "SALES_ACCESS_MANAGER" });
    const own = await makeUser({ login: "mergeown", name: "Otto Own", salesAccess: "SALES_ACCESS_OWN_LEADS" });
    const first = await call(`${PL}/CreateLead`, {
        name: "Dup One", email: "buyer@dupco.test", phone: "+49 30 1234 5678", companyName: "DupCo GmbH",
        salespersonId: mgr.user.id,
    }, mgr.token);
    const second = await call(`${PL}/CreateLead`, {
        type: "LEAD_TYPE_OPPORTUNITY", name: "Dup Two", phone: "+49-30-12345678", salespersonId: mgr.user.id,
    }, mgr.token);
    await call(`${ACT}/PostMessage`, { doc: { model: "lead", id: first.id }, kind: "MESSAGE_KIND_NOTE", body: "Note on one" }, mgr.token);

    const { context, page } = await newPage();
    await signIn(page, "mergemgr", mgr.password, `/leads/${second.id}`);
    const dups = page.getByRole("region", { name: "Possible duplicates" });

    await check("Merge: a lead's form shows its possible duplicates from the reply, with the reason", async () => {
        await page.getByRole("heading", { name: "Dup Two" }).waitFor();
        await dups.getByRole("link", { name: "Dup One" }).waitFor();
        const text = await dups.textContent();
        assert(/Dup One\s*—\s*same phone/.test(text), `the region says "${text}"`);
        assert((await dups.getByRole("link", { name: "Dup One" }).getAttribute("href")) === `/leads/${first.id}`, "the link opens the lead");
    });
    await check("axe-core: the lead form with possible duplicates has no serious or critical violations", () => axeCheck(page, "Lead form, duplicates"));

    await check("Merge: typing an e-mail on a new lead shows the lead that has it, once typing pauses", async () => {
        await page.goto(`${t.base}/leads/new`);
        await page.getByRole("heading", { name: "New lead" }).waitFor();
        await page.getByLabel("Email").fill("BUYER@dupco.test");
        await dups.getByRole("link", { name: "Dup One" }).waitFor();
        assert(/same email/.test(await dups.textContent()), "the reason is the e-mail");
        await page.getByLabel("Company name").fill("dupco gmbh.");
        await eventually(async () => assert(/same email, same company/.test(await dups.textContent()), await dups.textContent()));
        await page.getByLabel("Email").fill("nobody@else.test");
        await page.getByLabel("Company name").fill("");
        await eventually(async () => assert((await dups.count()) === 0, "the region is gone when nothing matches"));
    });

    await check("Merge: a lead created with a known phone shows its duplicates at once", async () => {
        await page.getByLabel("Subject").fill("Dup Three");
        await page.getByLabel("Phone").fill("0049 30 12345678"); // other digits: none
        await page.getByLabel("Phone").fill("+49 (30) 1234-5678");
        await page.getByRole("button", { name: "Create" }).click();
        await page.getByRole("heading", { name: "Dup Three" }).waitFor();
        await dups.getByRole("link", { name: "Dup One" }).waitFor();
        await dups.getByRole("link", { name: "Dup Two" }).waitFor();
    });

    await check("Merge: the customer form shows customers of the same company name", async () => {
        const c = await call(`${PL}/CreateCustomer`, { name: "Northwind Traders", isCompany: true }, mgr.token);
        await page.goto(`${t.base}/customers/new`);
        await page.getByLabel("Name").first().fill("northwind  traders!");
        await page.getByLabel("Is a company").check();
        await dups.getByRole("link", { name: "Northwind Traders" }).waitFor();
        assert((await dups.getByRole("link", { name: "Northwind Traders" }).getAttribute("href")) === `/customers/${c.id}`, "it links the customer");
        assert(/same company/.test(await dups.textContent()), "the reason is the company");
    });
    await check("axe-core: the customer form with possible duplicates has no serious or critical violations", () => axeCheck(page, "Customer form, duplicates"));

    await check("Merge: an own-leads user is not told of another salesperson's lead", async () => {
        const { context: c2, page: p2 } = await newPage();
        await signIn(p2, "mergeown", own.password, "/leads/new");
        await p2.getByRole("heading", { name: "New lead" }).waitFor();
        await p2.getByLabel("Email").fill("buyer@dupco.test");
        await p2.getByLabel("Phone").fill("+49 30 1234 5678");
        // the lookup is answered (and the page settles) before judging its silence
        await p2.waitForResponse((r) => r.url().endsWith("/FindDuplicates") && r.status() === 200);
        await p2.waitForTimeout(300);
        assert((await p2.getByRole("region", { name: "Possible duplicates" }).count()) === 0, "nothing is shown to her");
        await c2.close();
    });

    await check("Merge: rows are selected by labelled checkboxes; Merge asks which lead to keep and opens it", async () => {
        await page.goto(`${t.base}/leads`);
        await page.getByRole("heading", { name: "Leads", exact: true }).waitFor();
        const merge = page.getByRole("button", { name: "Merge" });
        assert(await merge.isDisabled(), "Merge waits for two rows");
        await page.getByRole("search").getByLabel("Search").fill("Dup");
        await page.getByRole("search").getByRole("button").first().click();
        await page.getByRole("checkbox", { name: "Select Dup One" }).check();
        await page.getByRole("checkbox", { name: "Select Dup Three" }).check();
        await eventually(async () => assert(!(await merge.isDisabled()), "Merge is offered for two rows"));
        await merge.click();
        const dialog = page.getByRole("dialog", { name: "Merge 2 leads" });
        await dialog.waitFor();
        await axeCheck(page, "Merge dialog");
        const keep = dialog.getByRole("group", { name: "Lead to keep" });
        // neither is an opportunity: the oldest is offered first
        assert(await keep.getByRole("radio", { name: /Dup One/ }).isChecked(), "the oldest lead is chosen at first");
        await keep.getByRole("radio", { name: /Dup Three/ }).check();
        await dialog.getByRole("button", { name: "Merge" }).click();
        await page.getByRole("heading", { name: "Dup Three" }).waitFor();
        assert(new URL(page.url()).pathname === `/leads/${(await call(`${PL}/ListLeads`, { query: "Dup Three" }, mgr.token)).leads[0].id}`,
            "the merged lead is open");
        // it kept its own e-mail (typed on the new form above), took the company it had none of, and Dup One's note
        assert((await page.getByLabel("Email").inputValue()) === "nobody@else.test", "its own e-mail is kept");
        assert((await page.getByLabel("Company name").inputValue()) === "DupCo GmbH", "the company came from Dup One");
        await page.getByText("Merged with: Dup One").first().waitFor();
        await page.getByText("Note on one").first().waitFor();
        let gone = "";
        try {
            await call(`${PL}/GetLead`, { id: first.id }, mgr.token);
        } catch (e) {
            gone = e.twirp?.code ?? String(e);
        }
        assert(gone === "not_found", `Dup One is gone (${gone})`);
    });

    await check("Merge: a merge the server refuses says why in the dialog", async () => {
        await page.goto(`${t.base}/leads?type=opportunity`);
        await page.getByRole("heading", { name: "Opportunities", exact: true }).waitFor();
        await page.getByRole("checkbox", { name: "Select Dup Two" }).check();
        const other = await call(`${PL}/CreateLead`, { type: "LEAD_TYPE_OPPORTUNITY", name: "Dup Four", salespersonId: mgr.user.id }, mgr.token);
        await page.reload();
        await page.getByRole("checkbox", { name: "Select Dup Four" }).check();
        await page.getByRole("checkbox", { name: "Select Dup Two" }).check();
        // gone before the dialog is sent
        await call(`${PL}/MergeLeads`, { ids: [other.id, second.id], intoId: second.id }, mgr.token);
        await page.getByRole("button", { name: "Merge" }).click();
        const dialog = page.getByRole("dialog", { name: "Merge 2 leads" });
        await dialog.getByRole("button", { name: "Merge" }).click();
        await eventually(async () => {
            const said = await dialog.getByRole("alert").textContent();
            assert(/no lead/.test(said), `the dialog says "${said}"`);
        });
        await dialog.getByRole("button", { name: "Cancel" }).click();
    });
    await context.close();
}
