// The bar above every screen: the app's name, who is signed in, Sign out.
import type { User } from "../gen/identity";
import { identity } from "./api";
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
    return (
        <header class="topbar">
            <span class="brand">CRM</span>
            <nav aria-label="Main">
                <a href="/pipeline" aria-current="page">Pipeline</a>
            </nav>
            <span class="who">{user.name || user.login}</span>
            <button type="button" onClick={signOut}>Sign out</button>
        </header>
    );
}
