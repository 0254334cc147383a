// Assignment rules in Settings > Sales teams, as a sales manager: the
// team's salespeople added in turn order with a maximum each, a refused
// maximum shown under its field with the server's words, the auto-assign
// switch saved, and "Assign unassigned leads now" giving the team's
// unassigned leads round robin, with what was given shown and each count of
// the last 30 days following. axe-core with the panel open.
export default async function (t) {
    const { admin, ID, PL, check, assert, call, axeCheck, newPage, signIn, makeUser, until } = t;
    const mgr = await makeUser({ login: "manager80", name: "Manager 80", salesAccess: "SALES_ACCESS_MANAGER" });
    const ann = await makeUser({ login: "ann80", name: "Ann 80", salesAccess: "SALES_ACCESS_ALL_LEADS" });
    const bob = await makeUser({ login: "bob80", name: "Bob 80", salesAccess: "SALES_ACCESS_ALL_LEADS" });
    const team = await call(`${ID}/CreateTeam`, { name: "Assign 80", leaderId: mgr.user.id, memberIds: [ann.user.id, bob.user.id] }, admin);
    const leads = [];
    for (const name of ["Unassigned 80 a", "Unassigned 80 b", "Unassigned 80 c"])
        leads.push(await call(`${PL}/CreateLead`, { name, teamId: team.id, unassigned: true }, admin));
    assert(leads.every((l) => !l.salespersonId || l.salespersonId === "0"), "the leads are created unassigned");
    const rulesOnServer = () => call(`${PL}/GetAssignmentRules`, { teamId: team.id }, mgr.token);

    const { context, page } = await newPage();
    await signIn(page, "manager80", mgr.password, "/settings/teams");
    const panel = page.getByRole("region", { name: "Assignment rules of Assign 80" });

    await check("a team's assignment rules open from its row, empty at first", async () => {
        await page.getByRole("button", { name: "Assignment rules of Assign 80" }).click();
        await panel.getByText("Nobody is given leads yet").waitFor();
        assert(!(await panel.getByRole("switch").isChecked()), "auto-assign is on at first");
    });

    await check("salespeople are added in turn; a maximum the server refuses is shown under its field", async () => {
        const pick = panel.getByLabel("Salesperson to add");
        await pick.selectOption({ label: "Ann 80" });
        await panel.getByRole("button", { name: "Add to the rules" }).click();
        await pick.selectOption({ label: "Bob 80" });
        await panel.getByRole("button", { name: "Add to the rules" }).click();
        await panel.getByLabel("Maximum for Ann 80").fill("0");
        await panel.getByRole("button", { name: "Save rules" }).click();
        const field = panel.getByLabel("Maximum for Ann 80");
        const message = panel.getByRole("alert").filter({ hasText: "1 to 10000" });
        await message.waitFor();
        // the message is the field's own description, next to it
        const described = await field.getAttribute("aria-describedby");
        assert(described && (await message.getAttribute("id")) === described, `the error is not the field's (${described})`);
        const server = await rulesOnServer();
        assert((server.members ?? []).length === 0, `refused rules were saved: ${JSON.stringify(server)}`);
    });

    await check("the rules are saved with the auto-assign switch, in order, on the server", async () => {
        await panel.getByLabel("Maximum for Ann 80").fill("5");
        await panel.getByLabel("Maximum for Bob 80").fill("7");
        await panel.getByRole("switch", { name: "Give the team's new unassigned leads out as they come" }).check();
        await panel.getByRole("button", { name: "Save rules" }).click();
        await panel.getByRole("status").filter({ hasText: "Assignment rules of Assign 80 saved." }).waitFor();
        const server = await rulesOnServer();
        assert(server.autoAssign === true, `autoAssign ${server.autoAssign}`);
        const got = server.members.map((m) => `${m.userId}:${m.maxPer30Days}`).join(",");
        assert(got === `${ann.user.id}:5,${bob.user.id}:7`, `server members ${got}`);
    });

    await check("axe-core: the assignment rules panel has no serious or critical violations", () =>
        axeCheck(page, "Assignment rules"));

    await check("Assign unassigned leads now gives them round robin and shows what was given", async () => {
        await panel.getByRole("button", { name: "Assign unassigned leads now" }).click();
        const shown = page.getByRole("region", { name: "Leads just assigned in Assign 80" });
        await shown.getByText("3 leads assigned. 0 left unassigned.").waitFor();
        const items = await shown.getByRole("listitem").allTextContents();
        assert(items.length === 3, `shown ${items}`);
        const want = [ann, bob, ann];
        for (let i = 0; i < 3; i++) {
            assert(items[i] === `Lead ${leads[i].id} → ${want[i].user.name}`, `item ${i}: ${items[i]}`);
            const lead = await call(`${PL}/GetLead`, { id: leads[i].id }, admin);
            assert(lead.salespersonId === want[i].user.id, `lead ${leads[i].id} is ${lead.salespersonId}'s`);
        }
        // the counts of the last 30 days follow
        const row = (name) => panel.getByRole("row").filter({ has: page.getByRole("rowheader", { name }) });
        await until(async () => (await row("Ann 80").getByRole("cell").nth(1).textContent()) === "2", 5000, "Ann's count");
        assert((await row("Bob 80").getByRole("cell").nth(1).textContent()) === "1", "Bob's count");
        await shown.getByRole("link", { name: `Lead ${leads[0].id}` }).waitFor();
    });

    await check("a new unassigned lead of the team is given as it comes, by the rules", async () => {
        const lead = await call(`${PL}/CreateLead`, { name: "As it comes 80", teamId: team.id, unassigned: true }, admin);
        assert(lead.salespersonId === bob.user.id && lead.assignedBy === "assignment", `got ${JSON.stringify(lead)}`);
    });
    await context.close();
}
