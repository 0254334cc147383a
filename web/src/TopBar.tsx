// The bar above every screen: the app's name, a link to each screen the
// user may use (the Inbox's with the unread count), who is signed in, their
// Preferences, Sign out. It lives as long as the session, and so does the live stream
// (live.ts) and the toasts of new notifications it brings.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { User } from "../gen/identity";
import { identity } from "./api";
import { inboxPath } from "./inbox/paths";
import { Toasts } from "./inbox/Toasts";
import { startLive, stopLive, unreadCount, unreadError } from "./live";
import { PreferencesDialog } from "./PreferencesDialog";
import { path } from "./router";
import { screens } from "./routes";
import { currentUser } from "./session";

export function TopBar({ user }: { user: User }) {
    const preferences = useSignal(false);
    useEffect(() => {
        startLive();
        return stopLive;
    }, [user.id]);

    async function signOut() {
        try {
            await identity.logout({});
        } finally {
            // the gateway cleared the cookie whatever Logout answered
            currentUser.value = "signed-out";
        }
    }
    const at = path.value;
    const unread = unreadCount.value;
    return (
        <header class="topbar">
            <span class="brand">CRM</span>
            <nav aria-label="Main">
                {screens.filter((s) => s.nav && (!s.allowed || s.allowed(user))).map((s) => {
                    const current = at === s.path || at.startsWith(s.path + "/") ? "page" : undefined;
                    if (s.path !== inboxPath || !unread)
                        return <a key={s.path} href={s.path} aria-current={current}>{s.nav}</a>;
                    return (
                        <a key={s.path} href={s.path} aria-current={current} aria-label={`${s.nav}, ${unread} unread`}>
                            {s.nav} <span class="unread-badge">{unread}</span>
                        </a>
                    );
                })}
            </nav>
            {unreadError.value && <span class="error" role="alert">{unreadError.value}</span>}
            <span class="who">{user.name || user.login}</span>
            <button type="button" onClick={() => (preferences.value = true)}>Preferences</button>
            <button type="button" onClick={signOut}>Sign out</button>
            {preferences.value && <PreferencesDialog user={user} onClose={() => (preferences.value = false)} />}
            <Toasts />
        </header>
    );
}
