// Customers (walkthrough 3, 5): a company and its contacts made on the New
// form, a contact with a Chinese name that displays and sorts as the
// user's language sorts, a server validation error under its field, saving
// the changed fields only, a new opportunity started from the customer and
// listed on its form; an own-leads user sees another's customer without
// the controls; 390 px; axe-core on each screen.
export default async function (t) {
    const { base, PL, check, assert, eventually, call, axeCheck, newPage, signIn, makeUser, screenshot } = t;
    const mgr = await makeUser({ login: "custmgr", name: "Chen Manager", salesAccess: "SALES_ACCESS_MANAGER" });
    const own = await makeUser({ login: "custown", name: "Uma Own", salesAccess: "SALES_ACCESS_OWN_LEADS" });
    const other = await makeUser({ login: "custother", name: "Victor Other", salesAccess: "SALES_ACCESS_ALL_LEADS" });
    const describedBy = (locator) => locator.evaluate((el) =>
        document.getElementById(el.getAttribute("aria-describedby") ?? "")?.textContent?.trim() ?? "");
    const idIn = (page) => new URL(page.url()).pathname.split("/").pop();

    const { context, page } = await newPage();
    await signIn(page, "custmgr", mgr.password, "/customers");
    let companyId = "", contactId = "";

    await check("Customers: the list with Search and New", async () => {
        await page.getByRole("heading", { name: "Customers", exact: true }).waitFor();
        await page.getByRole("search").getByLabel("Search").waitFor();
    });
    await check("axe-core: the Customers list has no serious or critical violations", () => axeCheck(page, "Customers"));

    await check("New makes a company", async () => {
        await page.getByRole("link", { name: "New", exact: true }).click();
        await page.getByRole("heading", { name: "New customer" }).waitFor();
        await page.getByLabel("Name").fill("Zhang Trading Co");
        assert(await page.getByLabel("Is a company").isChecked(), "a new customer is not a company by default");
        await page.getByLabel("Email").fill("office@zhangtrading.example");
        await page.getByLabel("City").fill("Shanghai");
        await page.getByRole("button", { name: "Create" }).click();
        await page.getByRole("heading", { name: "Zhang Trading Co" }).waitFor();
        companyId = idIn(page);
        const got = await call(`${PL}/GetCustomer`, { id: companyId }, mgr.token);
        assert(got.isCompany && got.city === "Shanghai" && got.salespersonId === mgr.user.id, JSON.stringify(got));
    });
    await check("axe-core: the customer form has no serious or critical violations", () => axeCheck(page, "Customer form"));

    await check("the server's validation error shows under Email", async () => {
        let want;
        try {
            await call(`${PL}/UpdateCustomer`, { id: companyId, email: "office@", updateMask: "email" }, mgr.token);
        } catch (e) {
            want = e.twirp;
        }
        assert(want?.meta?.field === "email", `server said ${JSON.stringify(want)}`);
        await page.getByLabel("Email").fill("office@");
        await page.getByRole("button", { name: "Save" }).click();
        await eventually(async () => {
            const text = await describedBy(page.getByLabel("Email"));
            assert(text === want.msg, `under Email: "${text}", server said "${want.msg}"`);
        });
    });

    await check("Save sends only the changed fields: a change made meanwhile stays", async () => {
        await call(`${PL}/UpdateCustomer`, { id: companyId, phone: "+86 21 5555 0000", updateMask: "phone" }, mgr.token);
        await page.getByLabel("Email").fill("sales@zhangtrading.example");
        await page.getByLabel("Street").fill("88 Century Avenue");
        await page.getByRole("button", { name: "Save" }).click();
        await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
        const got = await call(`${PL}/GetCustomer`, { id: companyId }, mgr.token);
        assert(got.email === "sales@zhangtrading.example" && got.street === "88 Century Avenue" && got.phone === "+86 21 5555 0000",
            JSON.stringify(got));
    });

    await check("New contact makes a contact of the company with a Chinese name", async () => {
        await page.getByRole("link", { name: "New contact" }).click();
        await page.getByRole("heading", { name: "New customer" }).waitFor();
        assert(!(await page.getByLabel("Is a company").isChecked()), "a contact is made as a company");
        await eventually(async () => {
            const shown = await page.getByLabel("Company", { exact: true }).evaluate((s) => s.selectedOptions[0]?.textContent);
            assert(shown === "Zhang Trading Co", `the Company field shows "${shown}"`);
        });
        await page.getByLabel("Name").fill("张三");
        await page.getByLabel("Function (job title)").fill("Buyer");
        await page.getByLabel("Email").fill("zhang.san@zhangtrading.example");
        await page.getByRole("button", { name: "Create" }).click();
        await page.getByRole("heading", { name: "张三" }).waitFor();
        contactId = idIn(page);
        const got = await call(`${PL}/GetCustomer`, { id: contactId }, mgr.token);
        assert(got.name === "张三" && got.parentId === companyId && !got.isCompany, JSON.stringify(got));
    });

    const names = ["Zoe Baker", "Émile Zola", "王五", "adam Smith"];
    for (const name of names)
        await call(`${PL}/CreateCustomer`, {
            name, parentId: companyId, email: `${names.indexOf(name)}@zhangtrading.example`, salespersonId: other.user.id,
        }, mgr.token);
    const inOrder = (p, shown) => p.evaluate((shown) => {
        const want = [...shown].sort(new Intl.Collator(undefined, { sensitivity: "base", numeric: true }).compare);
        return JSON.stringify(want) === JSON.stringify(shown) ? "" : `shown ${JSON.stringify(shown)}, sorted ${JSON.stringify(want)}`;
    }, shown);

    await check("the company's contacts are listed, sorted by name as the language sorts", async () => {
        await page.goto(`${base}/customers/${companyId}`);
        const list = page.getByRole("region", { name: "Contacts" }).getByRole("listitem");
        await eventually(async () => assert(await list.count() === 5, `${await list.count()} contacts`));
        const shown = await list.getByRole("link").allTextContents();
        assert(shown.includes("张三"), `张三 is not among ${shown}`);
        const bad = await inOrder(page, shown);
        assert(!bad, bad);
    });

    await check("the Customers list finds them, shows each contact's company, sorted by name", async () => {
        await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Customers" }).click();
        await page.getByRole("search").getByLabel("Search").fill("zhangtrading");
        await page.getByRole("search").getByRole("button", { name: "Search" }).click();
        const region = page.getByRole("region", { name: "List of customers" });
        // the list before the search (other screens' 张三 among them) may still show for a moment
        const shown = await eventually(async () => {
            const rows = await region.getByRole("rowheader").allTextContents();
            assert(rows.length === 6 && rows.includes("张三"), `rows ${JSON.stringify(rows)}`);
            return rows;
        });
        const bad = await inOrder(page, shown);
        assert(!bad, bad);
        const row = region.getByRole("row").filter({ has: page.getByRole("link", { name: "张三" }) });
        await row.getByRole("link", { name: "Zhang Trading Co" }).waitFor();
    });

    await check("New opportunity from the customer has the customer filled in, and the customer's form lists it", async () => {
        await page.getByRole("link", { name: "张三" }).click();
        await page.getByRole("heading", { name: "张三" }).waitFor();
        await page.getByRole("link", { name: "New opportunity" }).click();
        await page.getByRole("heading", { name: "New opportunity" }).waitFor();
        await eventually(async () => {
            const shown = await page.getByLabel("Customer", { exact: true }).evaluate((s) => s.selectedOptions[0]?.textContent);
            assert(shown === "张三", `the Customer field shows "${shown}"`);
        });
        await page.getByLabel("Subject").fill("Yearly supply contract");
        await page.getByLabel("Expected revenue").fill("12000");
        await page.getByRole("button", { name: "Create" }).click();
        await page.getByRole("heading", { name: "Yearly supply contract" }).waitFor();
        const lead = await call(`${PL}/GetLead`, { id: idIn(page) }, mgr.token);
        assert(lead.customerId === contactId && lead.type === "LEAD_TYPE_OPPORTUNITY" && lead.expectedRevenue === "1200000",
            JSON.stringify(lead));
        await page.getByRole("link", { name: "Open the customer" }).click();
        await page.getByRole("region", { name: "Opportunities" }).getByRole("link", { name: "Yearly supply contract" }).waitFor();
        await page.getByRole("complementary", { name: "Chatter" }).waitFor();
        await screenshot(page, "customer-form");
    });
    await context.close();

    const theirs = await call(`${PL}/CreateCustomer`, { name: "Victor's client", salespersonId: other.user.id }, mgr.token);
    const nobodys = await call(`${PL}/CreateCustomer`, { name: "Walk-in customer" }, mgr.token);
    // a new customer is its creator's: this one is made nobody's
    await call(`${PL}/UpdateCustomer`, { id: nobodys.id, salespersonId: "0", updateMask: "salespersonId" }, mgr.token);
    const o = await newPage();
    await signIn(o.page, "custown", own.password, `/customers/${theirs.id}`);

    await check("own leads only: another salesperson's customer is shown without the controls to change it", async () => {
        await o.page.getByRole("heading", { name: "Victor's client" }).waitFor();
        assert(await o.page.getByLabel("Name").isDisabled(), "Name can be changed");
        assert(await o.page.getByRole("button", { name: "Save" }).count() === 0, "Save is offered");
        // the API refuses it too
        let refused = "";
        try {
            await call(`${PL}/UpdateCustomer`, { id: theirs.id, city: "Paris", updateMask: "city" }, own.token);
        } catch (e) {
            refused = e.twirp.code;
        }
        assert(refused === "permission_denied", `UpdateCustomer as own-leads: ${refused || "accepted"}`);
    });

    await check("own leads only: an unassigned customer can be changed, and given only to themselves", async () => {
        await o.page.goto(`${base}/customers/${nobodys.id}`);
        await o.page.getByRole("heading", { name: "Walk-in customer" }).waitFor();
        await eventually(async () => {
            const options = await o.page.getByLabel("Salesperson").evaluate((s) => [...s.options].map((x) => x.textContent));
            assert(JSON.stringify(options) === JSON.stringify(["Nobody (unassigned)", "Uma Own"]), `options ${JSON.stringify(options)}`);
        });
        await o.page.getByLabel("Salesperson").selectOption({ label: "Uma Own" });
        await o.page.getByLabel("City").fill("Hangzhou");
        await o.page.getByRole("button", { name: "Save" }).click();
        await o.page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
        const got = await call(`${PL}/GetCustomer`, { id: nobodys.id }, own.token);
        assert(got.salespersonId === own.user.id && got.city === "Hangzhou", JSON.stringify(got));
    });
    await o.context.close();

    const phone = await newPage({ width: 390, height: 844 });
    await signIn(phone.page, "custmgr", mgr.password, "/customers");
    const noOverflow = async (what) => {
        const w = await phone.page.evaluate(() => document.documentElement.scrollWidth);
        assert(w <= 390, `${what}: the page is ${w} px wide at 390`);
    };
    await check("at 390 px the Customers list fits the width", async () => {
        await phone.page.getByRole("region", { name: "List of customers" }).waitFor();
        await noOverflow("Customers list");
        await axeCheck(phone.page, "Customers list on a phone");
    });
    await check("at 390 px the customer form and its chatter fit the width", async () => {
        await phone.page.goto(`${base}/customers/${companyId}`);
        await phone.page.getByRole("heading", { name: "Zhang Trading Co" }).waitFor();
        await phone.page.getByRole("complementary", { name: "Chatter" }).waitFor();
        await noOverflow("Customer form");
        await axeCheck(phone.page, "Customer form on a phone");
    });
    await phone.context.close();
}
