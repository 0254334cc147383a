// The bar above every screen: the app's name, a link to each screen the
// user may use, who is signed in, Sign out.
import type { User } from "../gen/identity";
import { identity } from "./api";
import { path } from "./router";
import { screens } from "./routes";
import { currentUser } from "./session";

export function TopBar({ user }: { user: User }) {
    async function signOut() {
        try {
            await identity.logout({});
        } finally {
            // the gateway cleared the cookie whatever Logout answered
            currentUser.value = "signed-out";
        }
    }
    const at = path.value;
    return (
        <header class="topbar">
            <span class="brand">CRM</span>
            <nav aria-label="Main">
                {screens.filter((s) => s.nav && (!s.allowed || s.allowed(user))).map((s) => (
                    <a key={s.path} href={s.path}
                        aria-current={at === s.path || at.startsWith(s.path + "/") ? "page" : undefined}>{s.nav}</a>
                ))}
            </nav>
            <span class="who">{user.name || user.login}</span>
            <button type="button" onClick={signOut}>Sign out</button>
        </header>
    );
}
