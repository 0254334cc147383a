// Import and Export on the Leads and Customers lists: a CSV file picked,
// Check (a dry run) showing the refused rows in a table with row, column
// and the server's words and writing nothing, then Import page by page;
// a page the server refuses whole shows its words under the file field, as
// does a file that is not UTF-8; the list shows what came in; Export
// downloads what ExportRecords gives; axe-core on the dialog.
import { readFileSync } from "node:fs";

export default async function (t) {
    const { PL, ID, check, assert, eventually, call, axeCheck, newPage, signIn, makeUser, admin } = t;
    const mgr = await makeUser({ login: "importmgr", name: "Iris Import", salesAccess: "SALES_ACCESS_MANAGER" });
    // the many rows go to a team of their own, off the other screens' boards
    const team = await call(`${ID}/CreateTeam`, { name: "Import Team", leaderId: mgr.user.id, memberIds: [mgr.user.id] }, admin);
    await call(`${PL}/CreateTag`, { name: "imported" }, admin).catch(() => {});
    const describedBy = (locator) => locator.evaluate((el) =>
        document.getElementById(el.getAttribute("aria-describedby") ?? "")?.textContent?.trim() ?? "");
    const leadsNamed = async (query) =>
        (await call(`${PL}/ListLeads`, { query, pageSize: 500 }, mgr.token)).leads ?? [];
    const file = (name, text) => ({ name, mimeType: "text/csv", buffer: Buffer.from(text) });

    const { page } = await newPage();
    await signIn(page, "importmgr", mgr.password, "/leads");
    await page.getByRole("heading", { name: "Leads", exact: true }).waitFor();
    const tools = page.getByRole("group", { name: "Import and export leads and opportunities" });

    await check("Import opens a dialog with the file picker, Check, and Import waiting for a check", async () => {
        await tools.getByRole("button", { name: "Import" }).click();
        await page.getByRole("heading", { name: "Import leads and opportunities" }).waitFor();
        const dialog = page.getByRole("dialog", { name: "Import leads and opportunities" });
        await dialog.getByLabel("CSV file").waitFor();
        assert(await dialog.getByRole("button", { name: "Import", exact: true }).isDisabled(), "Import is offered before a check");
    });

    const dialog = page.getByRole("dialog", { name: "Import leads and opportunities" });
    await check("Check: the refused row in a table (row, column, the server's words), nothing written", async () => {
        await dialog.getByLabel("CSV file").setInputFiles(file("leads.csv",
            "\uFEFFName;Expected Revenue;Tags;Sales Team;Salesperson\r\n" +
            "Web Import One;3 750,00;imported;Import Team;importmgr\r\n" +
            "Web Import Two;10,00;no such tag;Import Team;importmgr\r\n" +
            "\"Web Import\r\nThree\";;;Import Team;importmgr\r\n"));
        await dialog.getByRole("status").filter({ hasText: "3 rows in 1 page." }).waitFor();
        await dialog.getByRole("button", { name: "Check" }).click();
        await dialog.getByRole("status").filter({ hasText: "3 rows checked: 2 would be created, 0 updated, 0 unchanged, 1 with errors." }).waitFor();
        const table = dialog.getByRole("region", { name: "Rows with errors" }).getByRole("table");
        const cells = await table.getByRole("row").nth(1).getByRole("cell").allTextContents();
        const row = await table.getByRole("row").nth(1).getByRole("rowheader").textContent();
        assert(row === "2" && cells[0] === "Tags" && /no tag named "no such tag"/.test(cells[1]), `row ${row}: ${cells.join(" | ")}`);
        assert((await leadsNamed("Web Import")).length === 0, "a check wrote leads");
    });
    await check("axe-core: the import dialog with its errors has no serious or critical violations", () => axeCheck(page, "Import dialog"));

    await check("Import writes the good rows, the refused one stays listed, the list shows them", async () => {
        await dialog.getByRole("button", { name: "Import", exact: true }).click();
        await dialog.getByRole("status").filter({ hasText: "3 rows: 2 created, 0 updated, 0 unchanged, 1 with errors." }).waitFor();
        await dialog.getByRole("status").filter({ hasText: "Imported page 1 of 1: 3 rows." }).waitFor();
        const got = await leadsNamed("Web Import");
        assert(got.length === 2, `${got.length} leads`);
        const one = got.find((l) => l.name === "Web Import One");
        assert(one && one.expectedRevenue === "375000" && one.teamId === team.id && one.salespersonId === mgr.user.id,
            JSON.stringify(one));
        assert(got.some((l) => l.name === "Web Import\r\nThree"), "the quoted line end was lost");
        await dialog.getByRole("button", { name: "Close" }).click();
        await eventually(() => page.getByRole("link", { name: "Web Import One" }).waitFor({ timeout: 1000 }));
    });

    await check("A file imported, checked and imported again: nothing twice", async () => {
        await tools.getByRole("button", { name: "Import" }).click();
        await dialog.getByLabel("CSV file").setInputFiles(file("again.csv",
            "Name,Sales Team,Salesperson\r\nWeb Import Four,Import Team,importmgr\r\nWeb Import Five,Import Team,importmgr\r\n"));
        await dialog.getByRole("button", { name: "Check" }).click();
        await dialog.getByRole("button", { name: "Import", exact: true }).click();
        await dialog.getByRole("status").filter({ hasText: "2 rows: 2 created" }).waitFor();
        await dialog.getByRole("button", { name: "Check" }).click();
        await dialog.getByRole("status").filter({ hasText: "2 rows checked: 0 would be created, 0 updated, 2 unchanged" }).waitFor();
        // the same pages go with the same keys: the server gives each page's
        // first answer again, and applies nothing twice
        await dialog.getByRole("button", { name: "Import", exact: true }).click();
        await dialog.getByRole("status").filter({ hasText: "Imported page 1 of 1: 2 rows." }).waitFor();
        assert((await leadsNamed("Web Import Four")).length === 1, "imported twice");
        assert((await leadsNamed("Web Import Five")).length === 1, "imported twice");
    });

    await check("A page the server refuses shows its words under the file", async () => {
        let want;
        try {
            await call(`${PL}/ImportRecords`, { model: "IMPORT_MODEL_LEAD", csv: "name,shoe size\nx,44\n", firstRow: 1, dryRun: true }, mgr.token);
        } catch (e) {
            want = e.twirp;
        }
        assert(want?.meta?.field === "csv", `server said ${JSON.stringify(want)}`);
        await dialog.getByLabel("CSV file").setInputFiles(file("bad.csv", "name,shoe size\nx,44\n"));
        await dialog.getByRole("button", { name: "Check" }).click();
        await eventually(async () => {
            const text = await describedBy(dialog.getByLabel("CSV file"));
            assert(text === want.msg, `under CSV file: "${text}", server said "${want.msg}"`);
        });
    });

    await check("A file that is not UTF-8 is refused under the file, before anything is sent", async () => {
        await dialog.getByLabel("CSV file").setInputFiles({ name: "latin1.csv", mimeType: "text/csv", buffer: Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x0a, 0x63, 0x61, 0x66, 0xe9, 0x0a]) });
        await eventually(async () => {
            const text = await describedBy(dialog.getByLabel("CSV file"));
            assert(/not UTF-8/.test(text), `under CSV file: "${text}"`);
        });
        assert(await dialog.getByRole("button", { name: "Check" }).isDisabled(), "Check offered for an unreadable file");
    });

    await check("A file of many rows goes in pages, with the progress said", async () => {
        let text = "name,team,salesperson,tags\r\n";
        for (let i = 0; i < 620; i++) text += `Web Bulk ${String(i).padStart(4, "0")},Import Team,importmgr,imported\r\n`;
        await dialog.getByLabel("CSV file").setInputFiles(file("bulk.csv", text));
        await dialog.getByRole("status").filter({ hasText: "620 rows in 2 pages." }).waitFor();
        await dialog.getByRole("button", { name: "Check" }).click();
        await dialog.getByRole("status").filter({ hasText: "620 rows checked: 620 would be created" }).waitFor({ timeout: 30000 });
        await dialog.getByRole("button", { name: "Import", exact: true }).click();
        await dialog.getByRole("status").filter({ hasText: "Imported page 2 of 2: 620 rows." }).waitFor({ timeout: 30000 });
        await dialog.getByRole("status").filter({ hasText: "620 rows: 620 created" }).waitFor();
        // every row is there once: the same file again changes nothing
        const again = await call(`${PL}/ImportRecords`, { model: "IMPORT_MODEL_LEAD", csv: text, firstRow: 1, dryRun: true }, mgr.token);
        assert(again.rows === 620 && again.unchanged === 620 && !again.created, JSON.stringify({ ...again, ids: undefined }));
        await dialog.getByRole("button", { name: "Close" }).click();
    });

    await check("Export on Customers downloads what ExportRecords gives", async () => {
        await call(`${PL}/CreateCustomer`, { name: "Export, \"Quoted\" Co", isCompany: true, city: "=cmd" }, mgr.token);
        await page.goto(`${t.base}/customers`);
        await page.getByRole("heading", { name: "Customers", exact: true }).waitFor();
        const ctools = page.getByRole("group", { name: "Import and export customers" });
        const [download] = await Promise.all([page.waitForEvent("download"), ctools.getByRole("button", { name: "Export" }).click()]);
        assert(download.suggestedFilename() === "customers.csv", download.suggestedFilename());
        const saved = readFileSync(await download.path(), "utf8");
        let want = "", pageToken = "";
        do {
            const r = await call(`${PL}/ExportRecords`, { model: "IMPORT_MODEL_CUSTOMER", pageSize: 1000, pageToken, archived: "ARCHIVE_FILTER_ACTIVE" }, mgr.token);
            want += r.csv ?? "";
            pageToken = r.nextPageToken ?? "";
        } while (pageToken);
        assert(saved === want, `downloaded ${saved.length} bytes, the API gives ${want.length}`);
        assert(saved.includes("\"Export, \"\"Quoted\"\" Co\"") && saved.includes(",'=cmd,"), "quoting or the formula guard is missing");
        await ctools.getByRole("status").filter({ hasText: /Exported \d+ rows? to customers\.csv\./ }).waitFor();
    });
    await check("axe-core: the Customers list with Import and Export has no serious or critical violations", () => axeCheck(page, "Customers with import"));
    await page.context().close();
}
