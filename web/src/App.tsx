// The app's frame: sign-in until there is a session (or the public screen
// the address names), then the top bar and the screen the address names
// (routes.tsx).
import { useEffect } from "preact/hooks";
import { currentUser, loadSession, sessionError } from "./session";
import { SignIn } from "./SignIn";
import { TopBar } from "./TopBar";
import { match, navigate, onLinkClick, path } from "./router";
import { home, screens } from "./routes";

export function App() {
    useEffect(() => {
        void loadSession();
        document.addEventListener("click", onLinkClick);
        return () => document.removeEventListener("click", onLinkClick);
    }, []);
    const user = currentUser.value;
    const at = path.value;
    if (user === null) return <p class="loading" role="status">Loading…</p>;
    if (user === "signed-out") {
        // a public screen (an invitation) is its own page, without the top bar
        for (const s of screens) {
            const params = "public" in s && match(s.path, at);
            if (params) return <main id="main" class="signin">{s.render(null, params)}</main>;
        }
        return <SignIn notice={sessionError.value} />;
    }
    let body = null;
    for (const s of screens) {
        const params = match(s.path, at);
        if (!params) continue;
        body = !s.allowed || s.allowed(user)
            ? s.render(user, params)
            : <p class="error" role="alert">Your access level does not include this screen.</p>;
        break;
    }
    if (body === null) {
        if (at === "/" || at === "") queueMicrotask(() => navigate(home, true));
        body = <p role="status">{at === "/" ? "Loading…" : "There is no such page."}</p>;
    }
    return (
        <>
            <TopBar user={user} />
            <main id="main">{body}</main>
        </>
    );
}
