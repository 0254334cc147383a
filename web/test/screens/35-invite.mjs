// The invitation link (walkthrough 2): a user created without a password
// opens /invite/<token> with no session, sets a password and lands signed
// in on the Pipeline; the server's words for a weak password under its
// field; a used link refused with the server's words; axe-core.
export default async function (t) {
    const { base, admin, ID, check, assert, eventually, call, axeCheck, newPage } = t;
    const created = await call(`${ID}/CreateUser`, {
        login: "invite-chen", name: "陈静", email: "chen@example.com",
        salesAccess: "SALES_ACCESS_OWN_LEADS", hrAccess: "HR_ACCESS_EMPLOYEE",
    }, admin);
    const token = created.inviteToken;
    const link = `${base}/invite/${encodeURIComponent(token ?? "")}`;
    const PASSWORD = "chen-pass-2026";

    // the words the server has for a bad request, without spending the invitation
    async function serverSays(body) {
        try {
            await call(`${ID}/SetPassword`, body);
        } catch (e) {
            return e.twirp.msg;
        }
        throw new Error(`SetPassword took ${JSON.stringify(body)}`);
    }
    const underField = async (page, label) => {
        const id = await page.getByLabel(label).getAttribute("aria-describedby");
        return (await page.locator(`[id="${id}"]`).textContent()).trim();
    };

    const { context, page } = await newPage();
    await check("CreateUser without a password gives an invitation token", async () => {
        assert(typeof token === "string" && token.length >= 32, `inviteToken ${token}`);
    });

    await check("the invitation link opens without a session: Set your password", async () => {
        await page.goto(link);
        await page.getByRole("heading", { name: "Set your password" }).waitFor();
        assert(await page.getByRole("button", { name: "Sign out" }).count() === 0, "a session is shown");
    });
    await check("axe-core: Set your password has no serious or critical violations", () => axeCheck(page, "Set your password"));

    await check("two different passwords are caught before the server is asked", async () => {
        await page.getByLabel("Login").fill("invite-chen");
        await page.getByLabel("New password").fill(PASSWORD);
        await page.getByLabel("Repeat the password").fill(PASSWORD + "x");
        await page.getByRole("button", { name: "Set password and sign in" }).click();
        await eventually(async () => {
            const text = await underField(page, "Repeat the password");
            assert(text === "The two passwords differ.", `under Repeat: "${text}"`);
        });
    });

    await check("a too short password shows the server's words under New password", async () => {
        const want = await serverSays({ inviteToken: "not-an-invitation", password: "short" });
        await page.getByLabel("New password").fill("short");
        await page.getByLabel("Repeat the password").fill("short");
        await page.getByRole("button", { name: "Set password and sign in" }).click();
        await eventually(async () => {
            const text = await underField(page, "New password");
            assert(text === want, `under New password: "${text}", server said "${want}"`);
        });
        await axeCheck(page, "Set your password, with an error");
        await t.screenshot(page, "35-invite");
    });

    await check("setting the password signs the user in on the Pipeline", async () => {
        await page.getByLabel("New password").fill(PASSWORD);
        await page.getByLabel("Repeat the password").fill(PASSWORD);
        await page.getByRole("button", { name: "Set password and sign in" }).click();
        await page.getByRole("heading", { name: "Pipeline", exact: true }).waitFor();
        await page.getByRole("button", { name: "Sign out" }).waitFor();
        assert(new URL(page.url()).pathname === "/pipeline", `at ${page.url()}`);
        assert((await page.getByRole("banner").textContent()).includes("陈静"), "the top bar does not name her");
        const c = (await context.cookies()).find((c) => c.name === "crm_session");
        assert(c && c.httpOnly, "no session cookie");
        // the password is hers now: a plain Login takes it
        const login = await call(`${ID}/Login`, { login: "invite-chen", password: PASSWORD });
        assert(login.user.id === created.user.id, JSON.stringify(login.user));
    });
    await context.close();

    await check("a mistyped login after the password is set: the server's words, then signing in with the right one", async () => {
        const second = await call(`${ID}/CreateUser`, {
            login: "invite-liu", name: "刘洋", email: "liu@example.com",
            salesAccess: "SALES_ACCESS_OWN_LEADS", hrAccess: "HR_ACCESS_EMPLOYEE",
        }, admin);
        let want = "";
        try {
            await call(`${ID}/Login`, { login: "invite-liu-typo", password: PASSWORD });
        } catch (e) {
            want = e.twirp.msg;
        }
        const { context: c2, page: p } = await newPage();
        await p.goto(`${base}/invite/${encodeURIComponent(second.inviteToken)}`);
        await p.getByLabel("Login").fill("invite-liu-typo");
        await p.getByLabel("New password").fill(PASSWORD);
        await p.getByLabel("Repeat the password").fill(PASSWORD);
        await p.getByRole("button", { name: "Set password and sign in" }).click();
        await p.getByText("Your password is set.").waitFor();
        await eventually(async () => {
            const text = await underField(p, "Login");
            assert(text === want, `under Login: "${text}", server said "${want}"`);
        });
        await p.getByLabel("Login").fill("invite-liu");
        await p.getByRole("button", { name: "Sign in" }).click();
        await p.getByRole("heading", { name: "Pipeline", exact: true }).waitFor();
        assert((await p.getByRole("banner").textContent()).includes("刘洋"), "not signed in as 刘洋");
        await c2.close();
    });

    await check("the used link is refused with the server's words", async () => {
        const want = await serverSays({ inviteToken: token, password: "another-pass-2026" });
        const { context: again, page: p } = await newPage();
        await p.goto(link);
        await p.getByLabel("Login").fill("invite-chen");
        await p.getByLabel("New password").fill("another-pass-2026");
        await p.getByLabel("Repeat the password").fill("another-pass-2026");
        await p.getByRole("button", { name: "Set password and sign in" }).click();
        const alert = p.getByRole("alert");
        await alert.waitFor();
        const text = (await alert.textContent()).trim();
        assert(text === want, `alert "${text}", server said "${want}"`);
        assert(await p.getByRole("button", { name: "Sign out" }).count() === 0, "signed in anyway");
        await again.close();
    });
}
