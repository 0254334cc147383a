// Settings as a sales manager and as an administrator: a stage created for
// a team is a column on the Pipeline at once, renamed and moved; a tag, a
// lost reason and a sales team are created and listed; the administrator
// creates a user and sees a working invitation link, changes a user's
// access level and password and deactivates them; an own-leads user is
// offered neither Settings nor Report and gets the access message by URL.
// axe-core on each screen; the layout at phone width.
export default async function (t) {
    const { base, admin, ID, PL, ADMIN_PASSWORD, check, assert, eventually, call, axeCheck, newPage, signIn, makeUser } = t;
    const mgr = await makeUser({ login: "manager50", name: "Wang Fang 王芳", salesAccess: "SALES_ACCESS_MANAGER" });
    const team = await call(`${ID}/CreateTeam`, { name: "Machines 50", leaderId: mgr.user.id, memberIds: [mgr.user.id] }, admin);
    const own = await makeUser({ login: "ownleads50", name: "Own Leads 50" });
    const stagesOf = async () => (await call(`${PL}/ListStages`, { teamId: team.id }, mgr.token)).stages;
    const denied = "Your access level does not include this screen.";

    const { context, page } = await newPage();
    await signIn(page, "manager50", mgr.password);
    const nav = page.getByRole("navigation", { name: "Main" });

    await check("a manager has Settings and Report in the navigation; Settings lists what can be configured", async () => {
        await nav.getByRole("link", { name: "Report" }).waitFor();
        await nav.getByRole("link", { name: "Settings" }).click();
        await page.getByRole("heading", { name: "Settings", exact: true }).waitFor();
        for (const name of ["Stages", "Sales teams", "Lost reasons", "Tags"])
            await page.getByRole("main").getByRole("link", { name, exact: true }).waitFor();
        // user administration is the administrators' (the API's rule)
        assert(await page.getByRole("main").getByRole("link", { name: "Users" }).count() === 0, "Users offered to a manager");
    });
    await check("axe-core: Settings has no serious or critical violations", () => axeCheck(page, "Settings"));

    const stageName = "Demonstration 演示 50";
    await check("a stage created for the team is listed and is a column on the Pipeline at once", async () => {
        await page.getByRole("link", { name: "Stages", exact: true }).click();
        await page.getByRole("heading", { name: "Stages", exact: true }).waitFor();
        const picked = await page.getByLabel("Sales team").inputValue();
        assert(picked === team.id, `team picker shows "${picked}", the manager's team is ${team.id}`);
        const form = page.getByRole("form", { name: "New stage" });
        await form.getByLabel("Name").fill(stageName);
        await form.getByLabel("Probability (%)").fill("35");
        await form.getByLabel("Status").selectOption({ label: "In progress" });
        await form.getByRole("button", { name: "Create stage" }).click();
        await page.getByRole("rowheader", { name: stageName }).waitFor();
        const made = (await stagesOf()).find((s) => s.name === stageName);
        assert(made && made.teamId === team.id && made.probability === 35, `server has ${JSON.stringify(made)}`);
        await nav.getByRole("link", { name: "Pipeline" }).click();
        await page.getByRole("region", { name: stageName, exact: true }).waitFor({ timeout: 5000 });
    });

    await check("a stage is renamed and moved up in the order, on the server", async () => {
        await nav.getByRole("link", { name: "Settings" }).click();
        await page.getByRole("link", { name: "Stages", exact: true }).click();
        await page.getByRole("button", { name: `Edit ${stageName}` }).click();
        const form = page.getByRole("form", { name: `Edit stage ${stageName}` });
        await form.getByLabel("Name").fill("Demo 50");
        await form.getByRole("button", { name: "Save stage" }).click();
        await page.getByRole("rowheader", { name: "Demo 50" }).waitFor();
        await t.until(async () => (await stagesOf()).some((s) => s.name === "Demo 50"), 5000, "the rename");
        const before = (await stagesOf()).map((s) => s.name);
        const at = before.indexOf("Demo 50");
        assert(at > 0, `the stage is first or missing: ${before}`);
        await page.getByRole("button", { name: "Move Demo 50 up" }).click();
        await page.getByRole("status").filter({ hasText: "moved up" }).waitFor();
        const after = (await stagesOf()).map((s) => s.name);
        assert(after.indexOf("Demo 50") === at - 1 && after[at] === before[at - 1], `order ${after}, was ${before}`);
        // the table follows the server's order
        const rows = await page.getByRole("table").getByRole("rowheader").allTextContents();
        assert(rows.join("|") === after.join("|"), `table ${rows}, server ${after}`);
    });
    await check("an empty stage is deleted after confirming; one that holds leads is kept, with the server's words", async () => {
        await call(`${PL}/CreateStage`, { name: "Gone 50", teamId: team.id, probability: 5, sequence: 990 }, mgr.token);
        const demo = (await stagesOf()).find((s) => s.name === "Demo 50");
        await call(`${PL}/CreateLead`, { type: "LEAD_TYPE_OPPORTUNITY", name: "Held 50", teamId: team.id, stageId: demo.id }, mgr.token);
        await page.reload();
        page.once("dialog", (d) => d.accept());
        await page.getByRole("button", { name: "Delete Gone 50" }).click();
        await page.getByRole("status").filter({ hasText: "Stage “Gone 50” deleted." }).waitFor();
        assert(await page.getByRole("rowheader", { name: "Gone 50" }).count() === 0, "the row stays");
        assert(!(await stagesOf()).some((s) => s.name === "Gone 50"), "the server still has it");
        let want = "";
        try {
            await call(`${PL}/DeleteStage`, { id: demo.id }, mgr.token);
        } catch (e) {
            want = e.twirp.msg;
        }
        assert(want, "the server deleted a stage holding a lead");
        page.once("dialog", (d) => d.accept());
        await page.getByRole("button", { name: "Delete Demo 50" }).click();
        await page.getByRole("alert").filter({ hasText: want }).waitFor();
        await page.getByRole("rowheader", { name: "Demo 50" }).waitFor();
    });
    await check("axe-core: Stages, with a stage being edited, has no serious or critical violations", async () => {
        await page.getByRole("button", { name: "Edit Demo 50" }).click();
        await axeCheck(page, "Stages");
        await t.screenshot(page, "stages");
        await page.getByRole("button", { name: "Cancel" }).click();
    });

    await check("Stages: a slow reply for the team chosen before does not replace the list of the team chosen after", async () => {
        // the team's stages answer late; Every team's at once
        const slow = async (route) => {
            if (JSON.parse(route.request().postData() ?? "{}").teamId === team.id) await new Promise((ok) => setTimeout(ok, 1500));
            await route.continue();
        };
        await page.route("**/ListStages", slow);
        try {
            await page.getByLabel("Sales team").selectOption({ label: "Every team" });
            await page.getByRole("region", { name: "Stages of Every team" }).waitFor();
            await page.getByLabel("Sales team").selectOption({ label: "Machines 50" });
            await page.getByLabel("Sales team").selectOption({ label: "Every team" });
            await page.getByRole("region", { name: "Stages of Every team" }).waitFor();
            await page.waitForTimeout(2000);
            assert(await page.getByRole("rowheader", { name: "Demo 50" }).count() === 0, "the team's own stage is listed under Every team");
        } finally {
            await page.unroute("**/ListStages", slow);
        }
        await page.getByLabel("Sales team").selectOption({ label: "Machines 50" });
        await page.getByRole("rowheader", { name: "Demo 50" }).waitFor();
    });

    await check("a stage the server refuses shows the server's words under the field", async () => {
        const form = page.getByRole("form", { name: "New stage" });
        let want = "";
        try {
            await call(`${PL}/CreateStage`, { name: "Too likely", teamId: team.id, probability: 140 }, mgr.token);
        } catch (e) {
            want = e.twirp.msg;
        }
        assert(want, "the server took a probability of 140");
        await form.getByLabel("Name").fill("Too likely");
        // past the browser's own range check: the server is the judge
        await form.getByLabel("Probability (%)").evaluate((el) => el.removeAttribute("max"));
        await form.getByLabel("Probability (%)").fill("140");
        await form.getByRole("button", { name: "Create stage" }).click();
        const error = form.getByRole("alert");
        await error.waitFor();
        assert((await error.textContent()).trim() === want, `"${await error.textContent()}", server said "${want}"`);
    });

    for (const [title, noun, list, field] of [["Tags", "tag", "ListTags", "tags"], ["Lost reasons", "lost reason", "ListLostReasons", "lostReasons"]]) {
        const name = `${noun === "tag" ? "Key account 重点" : "Too expensive 太贵"} 50`;
        await check(`${title}: one added is listed, and the server has it`, async () => {
            await page.goto(`${base}/settings`);
            await page.getByRole("link", { name: title, exact: true }).click();
            await page.getByRole("heading", { name: title, exact: true }).waitFor();
            await page.getByLabel("Name", { exact: true }).fill(name);
            await page.getByRole("button", { name: `Add ${noun}` }).click();
            await page.getByRole("list", { name: title }).getByRole("listitem").filter({ hasText: name }).waitFor();
            const got = (await call(`${PL}/${list}`, {}, mgr.token))[field] ?? [];
            assert(got.some((x) => x.name === name), `${list} lacks ${name}`);
        });
        await check(`axe-core: ${title} has no serious or critical violations`, () => axeCheck(page, title));
    }

    await check("Sales teams: a new team with its leader and members is listed, and the server has it", async () => {
        await page.goto(`${base}/settings/teams`);
        await page.getByRole("heading", { name: "Sales teams", exact: true }).waitFor();
        const form = page.getByRole("form", { name: "New sales team" });
        await form.getByLabel("Name").fill("Services 服务 50");
        await form.getByLabel("Team leader").selectOption({ label: "Wang Fang 王芳" });
        await form.getByRole("group", { name: "Members" }).getByLabel("Own Leads 50").check();
        await form.getByRole("button", { name: "Create team" }).click();
        const row = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "Services 服务 50" }) });
        await row.waitFor();
        assert((await row.textContent()).includes("Own Leads 50"), await row.textContent());
        const made = (await call(`${ID}/ListTeams`, {}, mgr.token)).teams.find((x) => x.name === "Services 服务 50");
        assert(made && made.leaderId === mgr.user.id && made.memberIds.includes(own.user.id), JSON.stringify(made));
    });
    await check("axe-core: Sales teams has no serious or critical violations", () => axeCheck(page, "Sales teams"));

    await check("a manager who is no administrator gets the access message for Users", async () => {
        await page.goto(`${base}/settings/users`);
        await page.getByRole("alert").filter({ hasText: denied }).waitFor();
    });

    await check("at phone width Settings and Stages fit the screen", async () => {
        await page.setViewportSize({ width: 390, height: 800 });
        for (const path of ["/settings", "/settings/stages", "/settings/teams"]) {
            await page.goto(`${base}${path}`);
            await page.getByRole("heading", { level: 1 }).waitFor();
            const wide = await page.evaluate(() => document.documentElement.scrollWidth);
            assert(wide <= 390, `${path}: the page is ${wide} px wide`);
            if (path === "/settings/stages") await t.screenshot(page, "stages-phone");
        }
    });
    await context.close();

    // --- the administrator: users ---------------------------------------------------
    const adminPage = await newPage();
    const ap = adminPage.page;
    await signIn(ap, "admin", ADMIN_PASSWORD);
    let invited;
    await check("an administrator creates a user without a password and sees an invitation link that works", async () => {
        await ap.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" }).click();
        await ap.getByRole("link", { name: "Users", exact: true }).click();
        await ap.getByRole("heading", { name: "Users", exact: true }).waitFor();
        const form = ap.getByRole("form", { name: "New user" });
        await form.getByLabel("Login").fill("saleszhao50");
        await form.getByLabel("Name").fill("Zhao Lei 赵磊");
        await form.getByLabel("Email").fill("zhao50@example.com");
        await form.getByLabel("Sales access").selectOption({ label: "All Leads" });
        await form.getByLabel("HR access").selectOption({ label: "Employee" });
        await form.getByRole("button", { name: "Create user" }).click();
        const link = await eventually(async () => {
            const v = await form.getByLabel("Invitation link").inputValue();
            assert(v.startsWith(`${base}/invite/`), `link "${v}"`);
            return v;
        });
        const token = decodeURIComponent(link.slice(`${base}/invite/`.length));
        await call(`${ID}/SetPassword`, { inviteToken: token, password: "zhao-pass-50" });
        invited = (await call(`${ID}/Login`, { login: "saleszhao50", password: "zhao-pass-50" })).user;
        assert(invited.salesAccess === "SALES_ACCESS_ALL_LEADS" && invited.hrAccess === "HR_ACCESS_EMPLOYEE", JSON.stringify(invited));
        await ap.getByRole("rowheader", { name: "Zhao Lei 赵磊" }).waitFor();
    });
    await check("axe-core: Users, with the invitation shown, has no serious or critical violations", () => axeCheck(ap, "Users"));
    await t.screenshot(ap, "users");

    await check("the administrator changes a user's access level to Manager, on the server", async () => {
        await ap.getByRole("button", { name: "Edit access of Zhao Lei 赵磊" }).click();
        const form = ap.getByRole("form", { name: "Access of Zhao Lei 赵磊" });
        await form.getByLabel("Sales access").selectOption({ label: "Manager" });
        await form.getByRole("button", { name: "Save access" }).click();
        await ap.getByRole("status").filter({ hasText: "Access of Zhao Lei 赵磊 saved." }).waitFor();
        const u = await call(`${ID}/GetUser`, { id: invited.id }, admin);
        assert(u.salesAccess === "SALES_ACCESS_MANAGER", `salesAccess ${u.salesAccess}`);
        const row = ap.getByRole("row").filter({ has: ap.getByRole("rowheader", { name: "Zhao Lei 赵磊" }) });
        assert((await row.textContent()).includes("Manager"), await row.textContent());
    });

    await check("the administrator changes another user's password (Change Password)", async () => {
        await ap.getByRole("button", { name: "Change password of Zhao Lei 赵磊" }).click();
        const form = ap.getByRole("form", { name: "Change password of Zhao Lei 赵磊" });
        assert(await form.getByLabel("Current password").count() === 0, "asks for the old password of another user");
        await form.getByLabel("New password").fill("zhao-new-pass-50");
        await form.getByRole("button", { name: "Change password" }).click();
        await ap.getByRole("status").filter({ hasText: "Password of Zhao Lei 赵磊 changed." }).waitFor();
        await call(`${ID}/Login`, { login: "saleszhao50", password: "zhao-new-pass-50" });
    });

    await check("a password the server refuses shows its words under New password", async () => {
        let want = "";
        try {
            await call(`${ID}/ChangePassword`, { userId: invited.id, newPassword: "x" }, admin);
        } catch (e) {
            want = e.twirp.msg;
        }
        assert(want, "the server took a one-letter password");
        await ap.getByRole("button", { name: "Change password of Zhao Lei 赵磊" }).click();
        const form = ap.getByRole("form", { name: "Change password of Zhao Lei 赵磊" });
        await form.getByLabel("New password").fill("x");
        await form.getByRole("button", { name: "Change password" }).click();
        const error = form.getByRole("alert");
        await error.waitFor();
        assert((await error.textContent()).trim() === want, `"${await error.textContent()}", server said "${want}"`);
        await form.getByRole("button", { name: "Cancel" }).click();
    });

    await check("the administrator deactivates a user: inactive on the server, and they can no longer sign in", async () => {
        const services = (await call(`${ID}/ListTeams`, {}, admin)).teams.find((x) => x.name === "Services 服务 50");
        await call(`${ID}/UpdateTeam`, {
            id: services.id, memberIds: [...services.memberIds, invited.id], updateMask: "memberIds",
        }, admin);
        await ap.getByRole("button", { name: "Deactivate Zhao Lei 赵磊" }).click();
        await ap.getByRole("button", { name: "Reactivate Zhao Lei 赵磊" }).waitFor();
        const u = await call(`${ID}/GetUser`, { id: invited.id }, admin);
        assert(!u.active, `active ${u.active}`); // proto3 JSON leaves false out
        let refused = false;
        try {
            await call(`${ID}/Login`, { login: "saleszhao50", password: "zhao-new-pass-50" });
        } catch {
            refused = true;
        }
        assert(refused, "a deactivated user signed in");
    });

    await check("a team with a deactivated member is renamed; the form says that member leaves it", async () => {
        await ap.goto(`${base}/settings/teams`);
        await ap.getByRole("button", { name: "Edit Services 服务 50" }).click();
        const form = ap.getByRole("form", { name: "Edit sales team Services 服务 50" });
        await form.getByText("Deactivated users leave the team when it is saved: Zhao Lei 赵磊.").waitFor();
        await form.getByLabel("Name").fill("After-sales 售后 50");
        await form.getByRole("button", { name: "Save team" }).click();
        await ap.getByRole("rowheader", { name: "After-sales 售后 50" }).waitFor();
        const got = (await call(`${ID}/ListTeams`, {}, admin)).teams.find((x) => x.name === "After-sales 售后 50");
        assert(got && !got.memberIds.includes(invited.id) && got.memberIds.includes(own.user.id), JSON.stringify(got));
        await ap.goto(`${base}/settings/users`);
    });

    await check("the administrator is not offered to deactivate themselves", async () => {
        const me = (await call(`${ID}/WhoAmI`, {}, admin));
        const row = ap.getByRole("row").filter({ has: ap.getByRole("rowheader", { name: me.name || me.login, exact: true }) });
        await row.waitFor();
        assert(await row.getByRole("button", { name: /^Deactivate/ }).count() === 0, "Deactivate offered on one's own row");
    });

    await check("at phone width Users fits the screen", async () => {
        await ap.setViewportSize({ width: 390, height: 800 });
        await ap.reload();
        await ap.getByRole("heading", { name: "Users", exact: true }).waitFor();
        const wide = await ap.evaluate(() => document.documentElement.scrollWidth);
        assert(wide <= 390, `the page is ${wide} px wide`);
    });
    await adminPage.context.close();

    // --- an own-leads user ------------------------------------------------------------
    const ownPage = await newPage();
    const op = ownPage.page;
    await signIn(op, "ownleads50", own.password);
    await check("an own-leads user has neither Settings nor Report in the navigation", async () => {
        const links = await op.getByRole("navigation", { name: "Main" }).getByRole("link").allTextContents();
        assert(links.includes("Pipeline") && !links.includes("Settings") && !links.includes("Report"), `links ${links}`);
    });
    await check("an own-leads user gets the access message at Settings, its screens and the Report", async () => {
        for (const path of ["/settings", "/settings/stages", "/settings/users", "/settings/tags", "/report"]) {
            await op.goto(`${base}${path}`);
            await op.getByRole("alert").filter({ hasText: denied }).waitFor();
            assert(await op.getByRole("form").count() === 0, `${path} offers a form`);
        }
    });
    await check("axe-core: the access message has no serious or critical violations", () => axeCheck(op, "access message"));
    await ownPage.context.close();
}
