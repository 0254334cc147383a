// Leads and opportunities (walkthrough 4, 5, 7, 10-14): a lead made on the
// New form, a server validation error under the field it names, Convert
// linking an existing customer, the form's fields saved (only those
// changed), the stage bar, Mark lost with a reason, reopening, Mark won and
// Make quotation, the quotation; an own-leads user's list and form; the
// list and the form at 390 px; axe-core on each screen.
export default async function (t) {
    const { base, admin, PL, ID, check, assert, eventually, until, call, axeCheck, newPage, signIn, makeUser, screenshot } = t;
    const mgr = await makeUser({ login: "leadsmgr", name: "Lin Manager", salesAccess: "SALES_ACCESS_MANAGER" });
    const own = await makeUser({ login: "leadsown", name: "Olga Own", salesAccess: "SALES_ACCESS_OWN_LEADS" });
    const other = await makeUser({ login: "leadsother", name: "Pavel Other", salesAccess: "SALES_ACCESS_OWN_LEADS" });
    const team = await call(`${ID}/CreateTeam`, {
        name: "Leads team", leaderId: mgr.user.id, memberIds: [mgr.user.id, own.user.id, other.user.id],
    }, admin);
    const reason = await call(`${PL}/CreateLostReason`, { name: "Too expensive" }, mgr.token);
    await call(`${PL}/CreateTag`, { name: "Consulting" }, mgr.token);
    const company = await call(`${PL}/CreateCustomer`, { name: "Beijing Trading", isCompany: true, teamId: team.id }, mgr.token);
    const contact = await call(`${PL}/CreateCustomer`, {
        name: "张三", parentId: company.id, function: "Buyer", salespersonId: mgr.user.id, teamId: team.id,
    }, mgr.token);
    // the server's own words for a request, to compare with what the page shows
    const serverSays = async (method, body, token) => {
        try {
            await call(`${PL}/${method}`, body, token);
        } catch (e) {
            return e.twirp;
        }
        throw new Error(`${method} ${JSON.stringify(body)} was accepted`);
    };
    const describedBy = (locator) => locator.evaluate((el) =>
        document.getElementById(el.getAttribute("aria-describedby") ?? "")?.textContent?.trim() ?? "");

    const { context, page } = await newPage();
    await signIn(page, "leadsmgr", mgr.password, "/leads");
    let leadId = "";
    // the form's own status line (the chatter below tells the history too)
    const statusIs = (want) => eventually(async () => {
        const text = await page.getByRole("status")
            .filter({ hasText: /^Status:/ }).textContent({ timeout: 500 });
        assert(text.startsWith(`Status: ${want}`), `the status line says "${text}", wanted "Status: ${want}"`);
    });

    await check("Leads: the list has the Leads | Opportunities switch, Search and New", async () => {
        await page.getByRole("heading", { name: "Leads", exact: true }).waitFor();
        await page.getByRole("group", { name: "Show" }).getByRole("button", { name: "Opportunities" }).click();
        await page.getByRole("heading", { name: "Opportunities", exact: true }).waitFor();
        await page.getByRole("group", { name: "Show" }).getByRole("button", { name: "Leads" }).click();
        await page.getByRole("heading", { name: "Leads", exact: true }).waitFor();
        await page.getByRole("search").getByLabel("Search").waitFor();
    });
    await check("axe-core: the Leads list has no serious or critical violations", () => axeCheck(page, "Leads"));

    await check("The top bar's Leads link shows the leads after Opportunities was chosen; Back shows the opportunities again", async () => {
        const show = page.getByRole("group", { name: "Show" });
        await show.getByRole("button", { name: "Opportunities" }).click();
        await page.getByRole("heading", { name: "Opportunities", exact: true }).waitFor();
        await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Leads" }).click();
        await page.getByRole("heading", { name: "Leads", exact: true }).waitFor();
        await eventually(async () => assert(
            (await show.getByRole("button", { name: "Leads" }).getAttribute("aria-pressed")) === "true", "the switch shows Leads pressed"));
        assert(new URL(page.url()).search === "", `the address is ${page.url()}`);
        await page.goBack();
        await page.getByRole("heading", { name: "Opportunities", exact: true }).waitFor();
        await page.goForward();
        await page.getByRole("heading", { name: "Leads", exact: true }).waitFor();
    });

    await check("New makes a lead with only its subject and company (walkthrough 14)", async () => {
        await page.getByRole("link", { name: "New", exact: true }).click();
        await page.getByRole("heading", { name: "New lead" }).waitFor();
        await page.getByLabel("Subject").fill("Business card from the fair");
        await page.getByLabel("Company name").fill("Fair Booth Ltd");
        await page.getByRole("button", { name: "Create" }).click();
        await page.getByRole("heading", { name: "Business card from the fair" }).waitFor();
        leadId = new URL(page.url()).pathname.split("/").pop();
        const got = await call(`${PL}/GetLead`, { id: leadId }, mgr.token);
        assert(got.name === "Business card from the fair" && got.companyName === "Fair Booth Ltd", JSON.stringify(got));
        assert((got.type ?? "LEAD_TYPE_LEAD") === "LEAD_TYPE_LEAD" && got.customerId === undefined, `made ${JSON.stringify(got)}`);
    });
    await check("axe-core: the lead form has no serious or critical violations", () => axeCheck(page, "Lead form"));

    await check("the server's validation error shows under the field it names: Email", async () => {
        const want = await serverSays("UpdateLead", { id: leadId, email: "not-an-email", updateMask: "email" }, mgr.token);
        assert(want.meta?.field === "email", `server named ${JSON.stringify(want)}`);
        await page.getByLabel("Email").fill("not-an-email");
        await page.getByRole("button", { name: "Save" }).click();
        await eventually(async () => {
            const text = await describedBy(page.getByLabel("Email"));
            assert(text === want.msg, `under Email: "${text}", server said "${want.msg}"`);
        });
        await page.getByLabel("Email").fill("fair@example.com");
    });

    await check("the server's validation error shows under the field it names: a negative probability", async () => {
        const want = await serverSays("UpdateLead", { id: leadId, probability: -5, updateMask: "probability" }, mgr.token);
        await page.getByLabel("Probability (%)").fill("-5");
        await page.getByRole("button", { name: "Save" }).click();
        await eventually(async () => {
            const text = await describedBy(page.getByLabel("Probability (%)"));
            assert(text === want.msg, `under Probability: "${text}", server said "${want.msg}"`);
        });
        assert(await describedBy(page.getByLabel("Email")) === "", "the old error is still under Email");
        await page.getByLabel("Probability (%)").fill("10");
        await page.getByRole("button", { name: "Save" }).click();
        await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
        const got = await call(`${PL}/GetLead`, { id: leadId }, mgr.token);
        assert(got.email === "fair@example.com" && got.probability === 10, JSON.stringify(got));
    });

    await check("Convert to opportunity links an existing customer with a Chinese name", async () => {
        await page.getByRole("button", { name: "Convert to opportunity" }).click();
        const dialog = page.getByRole("dialog", { name: "Convert to opportunity" });
        await dialog.getByLabel("Link to an existing customer").check();
        await dialog.getByLabel("Search for a customer").fill("张");
        await eventually(async () => {
            await dialog.getByLabel("Existing customer", { exact: true }).selectOption({ label: "张三" }, { timeout: 500 });
        });
        await dialog.getByRole("button", { name: "Convert" }).click();
        await page.getByRole("button", { name: "Mark won" }).waitFor();
        const got = await call(`${PL}/GetLead`, { id: leadId }, mgr.token);
        assert(got.type === "LEAD_TYPE_OPPORTUNITY" && got.customerId === contact.id, JSON.stringify(got));
        const shown = await page.getByLabel("Customer", { exact: true }).evaluate((s) => s.selectedOptions[0]?.textContent);
        assert(shown === "张三", `the Customer field shows "${shown}"`);
    });

    await check("the walkthrough's fields are saved, and only those changed (a change made meanwhile stays)", async () => {
        await page.getByLabel("Subject").fill("Consulting for Zhang San");
        await page.getByLabel("Expected revenue").fill("3750");
        await page.getByLabel("Currency").fill("EUR");
        await page.getByLabel("Probability (%)").fill("80");
        await page.getByLabel("Next action", { exact: true }).fill("Send the proposal");
        await page.getByLabel("Next action date").fill("2027-01-15");
        await page.getByLabel("Expected closing").fill("2027-02-28");
        await page.getByLabel("Priority").selectOption({ label: "High" });
        await page.getByRole("group", { name: "Categories" }).getByLabel("Consulting").check();
        await page.getByLabel("Function (job title)").fill("Head of purchasing");
        await page.getByLabel("Referred by").fill("Li at the fair");
        await page.getByLabel("Internal notes").fill("Wants a demo first.\n要演示");
        // another person changes the phone while this form is open
        await call(`${PL}/UpdateLead`, { id: leadId, phone: "+86 10 1234 5678", updateMask: "phone" }, mgr.token);
        await page.getByRole("button", { name: "Save" }).click();
        await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
        const got = await call(`${PL}/GetLead`, { id: leadId }, mgr.token);
        const want = {
            name: "Consulting for Zhang San", expectedRevenue: "375000", currency: "EUR", probability: 80,
            nextAction: "Send the proposal", nextActionDate: "2027-01-15", expectedClosing: "2027-02-28",
            priority: "PRIORITY_HIGH", function: "Head of purchasing", referredBy: "Li at the fair",
            internalNotes: "Wants a demo first.\n要演示", phone: "+86 10 1234 5678",
        };
        for (const [k, v] of Object.entries(want))
            assert(got[k] === v, `${k}: server has ${JSON.stringify(got[k])}, wanted ${JSON.stringify(v)}`);
        assert(got.tagIds?.length === 1, `tags ${JSON.stringify(got.tagIds)}`);
        assert(await page.getByLabel("Phone").inputValue() === "+86 10 1234 5678", "the form does not show the saved phone");
    });

    await check("the stage bar moves the opportunity to Proposition; status and chatter follow (walkthrough 7, 12)", async () => {
        const bar = page.getByRole("list", { name: "Stage" });
        await bar.getByRole("button", { name: "Proposition" }).click();
        const proposition = (await call(`${PL}/ListStages`, { teamId: team.id, type: "LEAD_TYPE_OPPORTUNITY" }, mgr.token))
            .stages.find((s) => s.name === "Proposition");
        await until(async () => (await call(`${PL}/GetLead`, { id: leadId }, mgr.token)).stageId === proposition.id,
            5000, "stage Proposition");
        await eventually(async () => {
            const current = await bar.getByRole("button", { pressed: true }).textContent();
            assert(current === "Proposition", `current stage "${current}"`);
        });
        await statusIs("In progress");
        await eventually(async () => {
            const chatter = await page.getByRole("complementary", { name: "Chatter" }).textContent();
            assert(chatter.includes("Proposition"), `the chatter does not record the stage: ${chatter.slice(0, 300)}`);
        });
        await screenshot(page, "opportunity-form");
    });
    await check("axe-core: the opportunity form has no serious or critical violations", () => axeCheck(page, "Opportunity form"));

    await check("Mark lost's Cancel (and Escape) gives the focus back to Mark lost", async () => {
        const opener = page.getByRole("group", { name: "Actions" }).getByRole("button", { name: "Mark lost" });
        await opener.click();
        const dialog = page.getByRole("dialog", { name: "Mark lost" });
        await dialog.getByRole("button", { name: "Cancel" }).click();
        await dialog.waitFor({ state: "detached" });
        await eventually(async () => assert(await opener.evaluate((el) => el === document.activeElement), "the focus is not on Mark lost"));
        await opener.press("Enter");
        await dialog.waitFor();
        await page.keyboard.press("Escape");
        await dialog.waitFor({ state: "detached" });
        await eventually(async () => assert(await opener.evaluate((el) => el === document.activeElement), "the focus is not on Mark lost after Escape"));
    });

    await check("Mark lost asks for a lost reason and shows the status Lost", async () => {
        await page.getByRole("group", { name: "Actions" }).getByRole("button", { name: "Mark lost" }).click();
        const dialog = page.getByRole("dialog", { name: "Mark lost" });
        await eventually(() => dialog.getByLabel("Lost reason").selectOption({ label: "Too expensive" }, { timeout: 500 }));
        await axeCheck(page, "Mark lost dialog");
        await dialog.getByRole("button", { name: "Mark lost" }).click();
        await statusIs("Lost");
        await page.getByText("lost reason: Too expensive").waitFor();
        const got = await call(`${PL}/GetLead`, { id: leadId }, mgr.token);
        assert(got.status === "LEAD_STATUS_LOST" && got.lostReasonId === reason.id, JSON.stringify(got));
        assert(await page.getByRole("button", { name: "Mark won" }).count() === 0, "Mark won is offered on a lost opportunity");
        assert(await page.getByRole("button", { name: "Make quotation" }).count() === 0, "Make quotation is offered on a lost opportunity");
        // Mark lost is gone with the dialog: the focus is on the page's heading, not lost at the top of the document
        await eventually(async () => assert(await page.getByRole("heading", { level: 1 }).evaluate((el) => el === document.activeElement),
            `the focus is on ${await page.evaluate(() => document.activeElement?.tagName)}`));
    });

    await check("choosing an open stage reopens a lost opportunity", async () => {
        await page.getByRole("list", { name: "Stage" }).getByRole("button", { name: "Negotiation" }).click();
        await statusIs("In progress");
        await until(async () => (await call(`${PL}/GetLead`, { id: leadId }, mgr.token)).status === "LEAD_STATUS_IN_PROGRESS",
            5000, "status in progress");
    });

    let quotationId = "";
    await check("Mark won, then Make quotation shows the quotation with its amount and opportunity (walkthrough 13)", async () => {
        await page.getByRole("button", { name: "Mark won" }).click();
        await statusIs("Won");
        assert((await call(`${PL}/GetLead`, { id: leadId }, mgr.token)).status === "LEAD_STATUS_WON", "not won on the server");
        await page.getByRole("button", { name: "Make quotation" }).click();
        await page.getByRole("heading", { name: /^Quotation SO\d+$/ }).waitFor();
        quotationId = new URL(page.url()).pathname.split("/").pop();
        const q = await call(`${PL}/GetQuotation`, { id: quotationId }, mgr.token);
        assert(q.opportunityId === leadId && q.amount === "375000", JSON.stringify(q));
        const main = await page.getByRole("main").textContent();
        assert(main.includes("3,750.00") && main.includes(q.name), `the quotation shows ${main}`);
        await page.getByRole("link", { name: "张三" }).waitFor();
        await page.getByRole("link", { name: "Consulting for Zhang San" }).waitFor();
    });
    await check("axe-core: the quotation has no serious or critical violations", () => axeCheck(page, "Quotation"));

    await check("the quotation links back to its opportunity, which lists the quotation", async () => {
        await page.getByRole("link", { name: "Consulting for Zhang San" }).click();
        await page.getByRole("heading", { name: "Consulting for Zhang San" }).waitFor();
        await page.getByRole("link", { name: /^SO\d+$/ }).waitFor();
    });

    await check("a category added meanwhile (in Settings, by anyone) is offered on the next lead opened, without a reload", async () => {
        await call(`${PL}/CreateTag`, { name: "Follow-up 20" }, mgr.token);
        await call(`${PL}/CreateLead`, { name: "Tagless 20", teamId: team.id, salespersonId: mgr.user.id }, mgr.token);
        await page.getByRole("main").getByRole("link", { name: "Leads", exact: true }).click();
        await page.getByRole("search").getByLabel("Search").fill("Tagless 20");
        await page.getByRole("search").getByRole("button", { name: "Search" }).click();
        await page.getByRole("link", { name: "Tagless 20" }).click();
        await page.getByRole("heading", { name: "Tagless 20" }).waitFor();
        await page.getByRole("group", { name: "Categories" }).getByLabel("Follow-up 20").waitFor();
        await page.goBack();
        await page.goBack();
        await page.getByRole("heading", { name: "Consulting for Zhang San" }).waitFor();
    });

    await check("a lead of a deactivated salesperson shows them as its Salesperson, not Nobody; so does their customer", async () => {
        const gone = await makeUser({ login: "leadsgone", name: "Gao Gone 高", salesAccess: "SALES_ACCESS_OWN_LEADS" });
        const theirs = await call(`${PL}/CreateLead`, { name: "Left behind", teamId: team.id, salespersonId: gone.user.id }, mgr.token);
        const client = await call(`${PL}/CreateCustomer`, { name: "Left Client", isCompany: true, salespersonId: gone.user.id }, mgr.token);
        await call(`${ID}/UpdateUser`, { id: gone.user.id, active: false, updateMask: "active" }, admin);
        const chosen = (sel) => sel.evaluate((s) => s.selectedOptions[0]?.textContent ?? "");
        await page.goto(`${base}/leads/${theirs.id}`);
        await page.getByRole("heading", { name: "Left behind" }).waitFor();
        await eventually(async () => {
            const shown = await chosen(page.getByLabel("Salesperson"));
            assert(shown === "Gao Gone 高", `the Salesperson field shows "${shown}"`);
        });
        await page.goto(`${base}/customers/${client.id}`);
        await page.getByRole("heading", { name: "Left Client" }).waitFor();
        await eventually(async () => {
            const shown = await chosen(page.getByLabel("Salesperson"));
            assert(shown === "Gao Gone 高", `the customer's Salesperson field shows "${shown}"`);
        });
        await page.goBack();
        await page.goBack();
    });

    await check("the customer's form lists the opportunity", async () => {
        await page.getByRole("link", { name: "Open the customer" }).click();
        await page.getByRole("heading", { name: "张三" }).waitFor();
        await page.getByRole("region", { name: "Opportunities" }).getByRole("link", { name: "Consulting for Zhang San" }).waitFor();
    });
    await check("Convert with Create a new customer: the server's refusal under the choice, then a customer from the lead", async () => {
        const bare = await call(`${PL}/CreateLead`, { name: "Call from a stranger", teamId: team.id, salespersonId: mgr.user.id }, mgr.token);
        let want;
        try {
            await call(`${PL}/ConvertLead`, { id: bare.id, customerAction: "CUSTOMER_ACTION_CREATE" }, mgr.token);
        } catch (e) {
            want = e.twirp;
        }
        assert(want?.meta?.field === "customerAction", `server said ${JSON.stringify(want)}`);
        await page.goto(`${base}/leads/${bare.id}`);
        await page.getByRole("button", { name: "Convert to opportunity" }).click();
        const dialog = page.getByRole("dialog", { name: "Convert to opportunity" });
        assert(await dialog.getByLabel("Create a new customer").isChecked(), "Create is not the choice for a lead without customer");
        await dialog.getByRole("button", { name: "Convert" }).click();
        await eventually(async () => {
            const text = await describedBy(dialog.getByRole("group", { name: "Customer" }));
            assert(text === want.msg, `under the choice: "${text}", server said "${want.msg}"`);
        });
        await dialog.getByRole("button", { name: "Cancel" }).click();
        await page.getByLabel("Company name").fill("Stranger Things Ltd");
        await page.getByLabel("Contact").fill("王小明");
        await page.getByRole("button", { name: "Save" }).click();
        await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
        await page.getByRole("button", { name: "Convert to opportunity" }).click();
        await dialog.getByRole("button", { name: "Convert" }).click();
        await page.getByRole("button", { name: "Mark won" }).waitFor();
        const got = await call(`${PL}/GetLead`, { id: bare.id }, mgr.token);
        assert(got.type === "LEAD_TYPE_OPPORTUNITY" && got.customerId, JSON.stringify(got));
        const made = await call(`${PL}/GetCustomer`, { id: got.customerId }, mgr.token);
        assert(made.name === "王小明", `the customer made is ${JSON.stringify(made)}`);
        await eventually(async () => {
            const shown = await page.getByLabel("Customer", { exact: true }).evaluate((s) => s.selectedOptions[0]?.textContent);
            assert(shown === "王小明", `the Customer field shows "${shown}"`);
        });
    });
    await context.close();

    // --- an own-leads user ----------------------------------------------------
    const others = await call(`${PL}/CreateLead`, { name: "Pavel's secret deal", salespersonId: other.user.id, teamId: team.id }, mgr.token);
    const mine = await call(`${PL}/CreateLead`, { name: "Olga's fair lead", salespersonId: own.user.id, teamId: team.id }, mgr.token);
    const nobodys = await call(`${PL}/CreateLead`, { name: "Unassigned web form lead", teamId: team.id, unassigned: true }, mgr.token);
    for (let i = 1; i <= 23; i++)
        await call(`${PL}/CreateLead`, { name: `Olga batch ${String(i).padStart(2, "0")}`, salespersonId: own.user.id, teamId: team.id }, own.token);
    const o = await newPage();
    await signIn(o.page, "leadsown", own.password, "/leads");
    const rows = (p) => p.getByRole("region", { name: "List of leads" }).getByRole("row");

    await check("own leads only: the list shows their and unassigned leads, never another salesperson's", async () => {
        await o.page.getByRole("search").getByLabel("Search").fill("lead");
        await o.page.getByRole("search").getByRole("button", { name: "Search" }).click();
        await o.page.getByRole("link", { name: mine.name }).waitFor();
        await o.page.getByRole("link", { name: nobodys.name }).waitFor();
        assert(await o.page.getByRole("link", { name: others.name }).count() === 0, "another's lead is listed");
        await o.page.getByRole("search").getByLabel("Search").fill("Pavel");
        await o.page.getByRole("search").getByRole("button", { name: "Search" }).click();
        await o.page.getByText("No leads match “Pavel”.").waitFor();
    });

    await check("paging: Next page and Previous page follow the server's pages", async () => {
        await o.page.getByRole("search").getByLabel("Search").fill("Olga batch");
        await o.page.getByRole("search").getByRole("button", { name: "Search" }).click();
        await o.page.getByRole("link", { name: "Olga batch 23" }).waitFor();
        const first = await rows(o.page).count();
        assert(first === 21, `first page has ${first - 1} leads, wanted 20`);
        await o.page.getByRole("button", { name: "Next page" }).click();
        await o.page.getByRole("link", { name: "Olga batch 01" }).waitFor();
        assert(await rows(o.page).count() === 4, `second page has ${(await rows(o.page).count()) - 1} leads`);
        assert(await o.page.getByRole("button", { name: "Next page" }).isDisabled(), "Next page after the last");
        await o.page.getByRole("button", { name: "Previous page" }).click();
        await o.page.getByRole("link", { name: "Olga batch 23" }).waitFor();
    });

    await check("own leads only: another's lead by its address shows the server's error", async () => {
        const want = await (async () => {
            try {
                await call(`${PL}/GetLead`, { id: others.id }, own.token);
            } catch (e) {
                return e.twirp.msg;
            }
            throw new Error("the server showed another's lead");
        })();
        await o.page.goto(`${base}/leads/${others.id}`);
        const alert = o.page.getByRole("alert");
        await alert.waitFor();
        assert((await alert.textContent()).trim() === want, `alert "${await alert.textContent()}", server said "${want}"`);
        assert(await o.page.getByLabel("Subject").count() === 0, "a form is shown");
    });

    await check("own leads only: the Salesperson field offers only themselves and nobody", async () => {
        await o.page.goto(`${base}/leads/${nobodys.id}`);
        await o.page.getByRole("heading", { name: nobodys.name }).waitFor();
        await eventually(async () => {
            const options = await o.page.getByLabel("Salesperson").evaluate((s) => [...s.options].map((x) => x.textContent));
            assert(JSON.stringify(options) === JSON.stringify(["Nobody (unassigned)", "Olga Own"]), `options ${JSON.stringify(options)}`);
        });
        await o.page.getByLabel("Salesperson").selectOption({ label: "Olga Own" });
        await o.page.getByRole("button", { name: "Save" }).click();
        await o.page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
        assert((await call(`${PL}/GetLead`, { id: nobodys.id }, own.token)).salespersonId === own.user.id, "not saved");
    });
    await o.context.close();

    const phone = await newPage({ width: 390, height: 844 });
    await signIn(phone.page, "leadsown", own.password, "/leads");
    const noOverflow = async (what) => {
        const w = await phone.page.evaluate(() => document.documentElement.scrollWidth);
        assert(w <= 390, `${what}: the page is ${w} px wide at 390`);
    };
    await check("at 390 px the Leads list fits the width", async () => {
        await phone.page.getByRole("search").getByLabel("Search").fill("fair");
        await phone.page.getByRole("search").getByRole("button", { name: "Search" }).click();
        await phone.page.getByRole("link", { name: mine.name }).waitFor();
        await noOverflow("Leads list");
        await axeCheck(phone.page, "Leads list on a phone");
    });
    await check("at 390 px the lead form and its chatter fit the width", async () => {
        await phone.page.getByRole("link", { name: mine.name }).click();
        await phone.page.getByRole("heading", { name: mine.name }).waitFor();
        await phone.page.getByRole("complementary", { name: "Chatter" }).waitFor();
        await noOverflow("Lead form");
        await screenshot(phone.page, "lead-form-phone");
    });
    await phone.context.close();
}
